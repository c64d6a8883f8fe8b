// Command genai is the genai server: chat and image analysis on Amazon Bedrock or any
// OpenAI-compatible endpoint, with a web UI, from one static binary.
//
// Run it with no arguments to serve on 127.0.0.1:3000; "genai -h" lists subcommands and
// every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/term"

	"genai"
	"genai/agent"
	"genai/bedrock"
	"genai/mcp"
	"genai/openai"
	"genai/redis"
	"genai/server"
	"genai/structured"
	"genai/telemetry"
	"genai/web"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "genai:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand; serve is the default.
func run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		m := NewMain()
		if err := m.ParseFlags(args, os.Getenv); err != nil {
			return err
		}
		// Packages that log with slog's default (bedrock's guardrail traces) log as Main
		// does, with the request id.
		slog.SetDefault(m.Logger)
		if err := m.Run(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		m.Logger.Info("shutting down")
		return m.Close()
	case "notes":
		return notesCommand(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	case "ingest":
		return ingestCommand(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	case "eval":
		return evalCommand(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	case "mcp":
		return mcpCommand(ctx, args, os.Getenv)
	case "loadtest":
		return loadtestCommand(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	case "version":
		fmt.Println("genai", version)
		return nil
	case "help":
		_, err := parseConfig("genai", []string{"-h"}, os.Getenv)
		return err
	default:
		return fmt.Errorf("unknown command %q; run \"genai -h\" for the list", cmd)
	}
}

// Main is the program: configuration, wiring and the HTTP server. End-to-end tests run
// it in-process exactly as the binary does.
type Main struct {
	Config   *Config
	Logger   *slog.Logger
	Listener net.Listener // set by Run; its Addr is the address served
	// LogOutput receives the logs (default os.Stderr); set it before ParseFlags.
	LogOutput io.Writer
	getenv    func(string) string
	tel       *telemetry.Telemetry // the traces of OTEL_EXPORTER_OTLP_*; off without an endpoint
	httpSrv   *http.Server
	server    *server.Server
	mcp       *mcp.Server
	notes     *genai.NoteService
	// responses keeps the Responses API's stored responses and the knowledge base's
	// sessions.
	responses conversations
	// providerReady reports whether the chat provider answers; nil without one. It is
	// called in the background by readiness, never per request.
	providerReady func(ctx context.Context) error
	readiness     *readiness
	// usage meters every model call by key; redis is its shared counter, when set.
	usage     *server.Usage
	released  bool // release has run
	redis     *redis.Counter
	mcpClient *mcp.Client // the MCP servers of GENAI_MCP_SERVERS, whose tools the agent may use
	// draining is set when Close begins: /readyz is not ready from then on. endRequests
	// cancels every request's context (each derives from the one it cancels), with
	// server.ErrShuttingDown as the cause.
	draining    atomic.Bool
	endRequests context.CancelCauseFunc
}

// NewMain returns a Main that logs to stderr.
func NewMain() *Main {
	return &Main{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), LogOutput: os.Stderr}
}

// ParseFlags reads the configuration from getenv and args.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	c, err := parseConfig("genai", args, getenv)
	if err != nil {
		return err
	}
	m.Config = c
	m.getenv = getenv
	if m.LogOutput == nil {
		m.LogOutput = os.Stderr
	}
	m.Logger = newLogger(m.LogOutput, c.LogFormat, c.LogLevel)
	return nil
}

// newLogger logs to w at level, as JSON or text by format: with "auto", JSON unless w is
// a terminal, for a log collector reads a pipe or a file and a person a terminal. Each
// line logged while serving a request carries its request id and trace id.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(telemetry.LogHandler(h, server.RequestID))
}

// Run wires the services, starts listening and serves in the background. It returns
// once the listener is open, or with the reason it could not start.
func (m *Main) Run(ctx context.Context) error {
	c := m.Config
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("GENAI_DATA_DIR: %w", err)
	}
	getenv := m.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	tel, err := telemetry.Setup(ctx, getenv, version)
	if err != nil {
		return err
	}
	m.tel = tel
	started := false
	defer func() {
		if !started {
			m.release() // what opened before the failure, the exporter's goroutine too
		}
	}()
	chat, provider, model, err := m.chatModel(ctx)
	if err != nil {
		return err
	}
	// The provider's own token counter, taken before the wrapping below hides it.
	var counter genai.TokenCounter
	if tc, ok := chat.(genai.TokenCounter); ok {
		counter = callBound{tc, c.UpstreamCall}
	}
	if m.usage, err = m.newUsage(model); err != nil {
		return err
	}
	if chat != nil {
		// Each call to the provider is one span, the retries of the checks below too.
		chat = m.tel.Chat(chat, telemetry.Provider(provider), model)
		// Structured answers are checked against their schemas whatever the provider.
		// Metering wraps it all, once, so that every surface's calls (the knowledge
		// base's and the agent's too) count against the caller's key.
		chat = m.usage.Chat(structured.Check(genai.WithDeadlines(chat, c.deadlines())))
	}
	if m.notes, err = m.openNotes(ctx); err != nil {
		return err
	}
	if m.responses, err = m.openConversations(ctx); err != nil {
		return err
	}
	kb, docs, err := m.knowledgeBase(ctx, m.notes, chat, model)
	if err != nil {
		return err
	}
	m.mcp = m.mcpServer(kb, docs)
	m.readiness = startReadiness(m.Logger, c.ReadyInterval, m.dependencies())
	if m.mcpClient, err = m.startMCPClient(); err != nil {
		return err
	}
	m.server = server.New(server.Options{
		Chat:          chat,
		TokenCounter:  counter,
		Provider:      provider,
		ChatModel:     model,
		ChatModels:    c.ChatModels,
		MaxTokens:     c.MaxTokens,
		Vision:        chat != nil,
		APIKeys:       c.APIKeys,
		Keys:          c.Keys,
		Usage:         m.usage,
		MetricsPublic: c.MetricsPublic,
		CORSOrigins:   c.CORSOrigins,
		AllowedHosts:  c.allowedHosts(),
		Notes:         m.notes,
		Store:         c.Store,
		KB:            kb,
		KBName:        c.KB,
		Ingest:        docs,
		Responses:     m.responses,
		ServerTools:   m.serverTools(kb, docs),
		MCP:           m.mcp.Handler(server.Caller, server.DefaultMaxBodyBytes),
		AgentMaxSteps: c.AgentMaxSteps,
		Ready:         m.ready,
		UI:            web.Handler(),
		Logger:        m.Logger,
		Trace:         func(h http.Handler) http.Handler { return m.tel.Handler(h, server.Route) },

		SSEHeartbeat: heartbeat(c.SSEHeartbeat),

		MCPServers: m.mcpClient.Status,
		// The MCP call timeout gives the precise error; the agent's own must not cut first.
		AgentToolTimeout: max(agent.DefaultToolTimeout, c.MCPCallTimeout+time.Second),
	})
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("GENAI_ADDR: %w", err)
	}
	m.Listener = ln
	// No WriteTimeout: it would cut long streamed answers. Slow clients are bounded by
	// ReadHeaderTimeout, the per-request body deadline and IdleTimeout instead.
	base, endRequests := context.WithCancelCause(context.Background())
	m.endRequests = endRequests
	m.httpSrv = &http.Server{
		Handler:           m.server,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("serve", "err", err)
		}
	}()
	m.Logger.Info("genai serving", "url", "http://"+ln.Addr().String(), "provider", provider, "chat_model", model,
		"store", c.Store, "embedder", m.notes.Embedder.Space().String(), "data_dir", c.DataDir)
	if chat == nil {
		m.Logger.Warn("chat is off: " + noProviderHint)
	}
	started = true
	return nil
}

const noProviderHint = "no model provider found; set GENAI_PROVIDER=bedrock with AWS credentials, or GENAI_OPENAI_BASE_URL for an OpenAI-compatible endpoint such as Ollama"

// shutdownGrace is how long requests ended at the shutdown deadline have to write
// their error event and return before their connections are closed.
const shutdownGrace = 3 * time.Second

// heartbeat is the server's SSEHeartbeat for the setting's d, where 0 means none.
func heartbeat(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Close stops the server: /readyz says not ready and the listener closes at once, open
// requests and streams have GENAI_SHUTDOWN_TIMEOUT to finish, then those still open are
// ended (a stream with an error event, code unavailable, and its model call cancelled);
// last it closes the store.
func (m *Main) Close() error {
	var err error
	if m.httpSrv != nil {
		m.draining.Store(true)
		// An MCP client's event stream (GET /mcp) stays open until its session ends.
		go m.mcp.Close()
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		err = m.httpSrv.Shutdown(ctx)
		cancel()
		if err != nil {
			m.Logger.Warn("requests still open at the shutdown deadline; ending them", "timeout", m.Config.ShutdownTimeout)
			m.endRequests(server.ErrShuttingDown)
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			if err = m.httpSrv.Shutdown(ctx); err != nil {
				err = m.httpSrv.Close()
			}
			cancel()
		}
		m.endRequests(nil)
	}
	return errors.Join(err, m.release())
}

// release closes what Run opened, whatever of it did open, once: the background checks,
// the MCP servers' processes, the stores, the traces' exporter (sending the last spans,
// streams' included) and the Redis client.
func (m *Main) release() error {
	if m.released {
		return nil
	}
	m.released = true
	var err error
	if m.readiness != nil {
		m.readiness.close()
	}
	if m.mcpClient != nil {
		m.mcpClient.Close() // ends every stdio server's process
	}
	if m.notes != nil {
		err = errors.Join(err, m.notes.Store.Close())
	}
	if m.responses != nil {
		err = errors.Join(err, m.responses.Close())
	}
	if m.tel != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if terr := m.tel.Shutdown(ctx); terr != nil {
			m.Logger.Warn("traces: the last spans were not exported", "err", terr)
		}
	}
	if m.redis != nil {
		m.redis.Close()
	}
	return err
}

// newUsage returns the metering of model calls by key: counted in Redis when
// GENAI_REDIS_URL is set, else in this process.
func (m *Main) newUsage(model string) (*server.Usage, error) {
	c := m.Config
	opts := server.UsageOptions{FailClosed: c.RedisFail == "closed", DefaultModel: model,
		Models: slices.Clone(c.ChatModels), Logger: m.Logger}
	for _, k := range c.Keys {
		opts.Models = append(opts.Models, k.Models...)
	}
	if c.RedisURL != "" {
		rc, err := redis.New(c.RedisURL, redis.Options{Timeout: c.RedisTimeout})
		if err != nil {
			return nil, fmt.Errorf("GENAI_REDIS_URL: %w", err)
		}
		m.redis, opts.Counter = rc, rc
	}
	return server.NewUsage(opts), nil
}

// ready reports whether the dependencies passed their last background check: a
// *server.NotReady naming those that did not.
func (m *Main) ready(ctx context.Context) error {
	if m.draining.Load() {
		return &server.NotReady{Failing: []string{"draining"}, Err: errors.New("the server is shutting down")}
	}
	return m.readiness.ready(ctx)
}

// dependencies are what /readyz checks: the chat provider, when there is one, and the
// store, which must answer and, when embedded, be able to write to its disk.
func (m *Main) dependencies() []dependency {
	var deps []dependency
	if m.providerReady != nil {
		deps = append(deps, dependency{"provider", m.providerReady})
	}
	if m.redis != nil {
		deps = append(deps, dependency{"redis", m.redis.Ping})
	}
	c := m.Config
	deps = append(deps, dependency{"store", func(ctx context.Context) error {
		if _, _, err := m.notes.Store.ListNotes(ctx, 1, ""); err != nil {
			return fmt.Errorf("the %s store does not answer: %w", c.Store, err)
		}
		if c.Store == "sqlite" {
			if err := writeProbe(c.DataDir); err != nil {
				return fmt.Errorf("data directory %s does not take a write: %w", c.DataDir, err)
			}
		}
		return nil
	}})
	return deps
}

// deadlines are the bounds of every call to the model provider and remote embedders.
func (c *Config) deadlines() genai.Deadlines {
	return genai.Deadlines{FirstEvent: c.UpstreamFirstEvent, BetweenEvents: c.UpstreamBetweenEvents, Call: c.UpstreamCall}
}

// callBound bounds each token count by the whole-call deadline of model calls.
type callBound struct {
	tc   genai.TokenCounter
	call time.Duration
}

// CountTokens implements genai.TokenCounter.
func (b callBound) CountTokens(ctx context.Context, req *genai.ChatRequest) (int, error) {
	if b.call > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.call)
		defer cancel()
	}
	return b.tc.CountTokens(ctx, req)
}

// chatModel builds the configured chat provider: with "auto", Bedrock when AWS
// credentials resolve or a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) is set, else the
// OpenAI-compatible endpoint when one is set, else none.
func (m *Main) chatModel(ctx context.Context) (genai.ChatModel, string, string, error) {
	c := m.Config
	provider := c.Provider
	var awsCfg aws.Config
	var awsErr error
	if provider == "auto" || provider == "bedrock" {
		awsCfg, awsErr = bedrock.LoadConfig(ctx, c.AWSRegion)
		if awsErr != nil && provider == "bedrock" {
			return nil, "", "", fmt.Errorf("GENAI_PROVIDER=bedrock: %w", awsErr)
		}
	}
	if provider == "auto" {
		switch {
		case awsErr == nil && bedrock.CredentialsAvailable(ctx, awsCfg):
			provider = "bedrock"
		case c.OpenAIBaseURL != "":
			provider = "openai"
		default:
			provider = "none"
		}
	}
	switch provider {
	case "bedrock":
		model := c.ChatModel
		if model == "" {
			model = DefaultBedrockModel
		}
		opts := bedrock.Options{DefaultModel: model, DefaultMaxTokens: c.MaxTokens, DefaultThinkingBudget: c.ThinkingBudget}
		if c.GuardrailID != "" {
			opts.Guardrail = &bedrock.Guardrail{ID: c.GuardrailID, Version: c.GuardrailVersion, StreamMode: c.GuardrailStreamMode, Trace: c.GuardrailTrace}
		}
		cm := bedrock.New(awsCfg, opts)
		// Ping authenticates its request (SigV4 or the API key), so credentials that
		// no longer resolve, or a revoked key, fail it too.
		m.providerReady = cm.Ping
		return cm, provider, model, nil
	case "openai":
		cm := openai.New(openai.Options{BaseURL: c.OpenAIBaseURL, APIKey: c.OpenAIAPIKey, DefaultModel: c.ChatModel, DefaultMaxTokens: c.MaxTokens, DocumentText: documentText})
		model := c.ChatModel
		if model == "" {
			// No default fits every endpoint; take the endpoint's first model.
			lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			models, err := cm.Models(lctx)
			cancel()
			if err != nil || len(models) == 0 {
				return nil, "", "", fmt.Errorf("GENAI_CHAT_MODEL is not set and the models of %s could not be listed (%v); set GENAI_CHAT_MODEL", c.OpenAIBaseURL, err)
			}
			model = models[0]
			cm = openai.New(openai.Options{BaseURL: c.OpenAIBaseURL, APIKey: c.OpenAIAPIKey, DefaultModel: model, DefaultMaxTokens: c.MaxTokens, DocumentText: documentText})
		}
		m.providerReady = func(ctx context.Context) error {
			if _, err := cm.Models(ctx); err != nil {
				return fmt.Errorf("the OpenAI-compatible endpoint %s does not answer: %w", c.OpenAIBaseURL, err)
			}
			return nil
		}
		return cm, provider, model, nil
	}
	return nil, "none", "", nil
}

// startMCPClient reads the MCP servers file, refusing a bad one with an error naming
// the entry, and starts the servers in the background: one that is slow or down must
// not hold up the start, or chat.
func (m *Main) startMCPClient() (*mcp.Client, error) {
	c := m.Config
	var servers []mcp.ServerConfig
	if c.MCPServers != "" {
		var err error
		if servers, err = mcp.LoadConfig(c.MCPServers); err != nil {
			return nil, fmt.Errorf("GENAI_MCP_SERVERS: %s: %w", c.MCPServers, err)
		}
	}
	return mcp.StartClient(servers, mcp.ClientOptions{StartTimeout: c.MCPStartTimeout, CallTimeout: c.MCPCallTimeout, Logger: m.Logger}), nil
}

// serverTools are the groups of tools the server runs itself: the knowledge base, the
// notes, and each MCP server's tools ("mcp:NAME").
func (m *Main) serverTools(kb genai.KnowledgeBase, docs genai.DocumentService) map[string]func() []genai.ToolRunner {
	groups := map[string]func() []genai.ToolRunner{
		"knowledge_base": func() []genai.ToolRunner { return m.tel.Tools(agent.KnowledgeBaseTools(kb, docs)) },
		"notes":          func() []genai.ToolRunner { return m.tel.Tools(agent.NoteTools(m.notes)) },
	}
	mcpGroups := m.mcpClient.Groups()
	for _, st := range m.mcpClient.Status() {
		if tools, ok := mcpGroups[st.Group]; ok {
			groups[st.Group] = func() []genai.ToolRunner { return m.tel.MCPTools(tools(), st.Transport) }
		}
	}
	return groups
}
