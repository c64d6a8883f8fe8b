package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"genai"
	"genai/mcp"
	"genai/rag"
	"genai/server"
)

// Config is the whole configuration of genai. Every field has an environment variable
// GENAI_* and a flag of the same name; a flag wins over the environment.
type Config struct {
	Addr          string
	DataDir       string
	Provider      string
	ChatModel     string
	ChatModels    []string
	MaxTokens     int
	AWSRegion     string
	OpenAIBaseURL string
	OpenAIAPIKey  string
	APIKeys       []string
	// KeysFile is the path of the named keys file; Keys are its keys, read and
	// validated with the configuration.
	KeysFile string
	Keys     []genai.Key
	// RedisURL, when set, keeps the keys' counters in Redis, shared by every task;
	// RedisFail says what a call does while Redis fails (open: unlimited; closed: 503);
	// RedisTimeout bounds each exchange with it.
	RedisURL      string
	RedisFail     string
	RedisTimeout  time.Duration
	CORSOrigins   []string
	AllowedHosts  []string
	MetricsPublic bool
	// KBCacheContext puts a prompt-cache point after a knowledge-base answer's sources.
	KBCacheContext bool
	LogLevel       string
	LogFormat      string // auto, json or text

	Embedder           string
	EmbedModel         string
	EmbedDimensions    int
	Store              string
	OpenSearchURL      string
	OpenSearchIndex    string
	OpenSearchAuth     string
	OpenSearchUsername string
	OpenSearchPassword string

	KB             string
	BedrockKBID    string
	BedrockKBModel string
	RerankModel    string // Amazon Bedrock reranking model id or ARN; empty: no reranking
	// The Amazon Bedrock guardrail applied to every chat call, when GuardrailID is set.
	GuardrailID, GuardrailVersion, GuardrailStreamMode string
	GuardrailTrace                                     bool
	// ThinkingBudget is the default thinking budget on Bedrock (0: none).
	ThinkingBudget int

	// Deadlines of every call to the model provider and the remote embedder.
	UpstreamFirstEvent    time.Duration
	UpstreamBetweenEvents time.Duration
	UpstreamCall          time.Duration
	// ReadyInterval is how often /readyz's dependencies are checked in the background.
	ReadyInterval time.Duration
	AgentMaxSteps int // model calls of a request with server tools
	// MCPServers is the path of the MCP servers file; MCPStartTimeout and MCPCallTimeout
	// bound a server's start and one call of its tools.
	MCPServers      string
	MCPStartTimeout time.Duration
	MCPCallTimeout  time.Duration
	// SSEHeartbeat is the silence after which a stream carries a heartbeat (0: none);
	// ShutdownTimeout how long open requests may finish after SIGTERM.
	SSEHeartbeat    time.Duration
	ShutdownTimeout time.Duration
	Parses          int // files ingested at once; 0 = one per CPU
	ParseQueue      int // files that may wait for a turn

	// MCPStateless serves /mcp without sessions, so that any task answers any request.
	MCPStateless bool
}

// DefaultShutdownTimeout leaves open streams 25 s to finish after SIGTERM, and the
// server a few more to end the rest and close the store, inside the 30 s that ECS (and
// Kubernetes) wait before SIGKILL.
const DefaultShutdownTimeout = 25 * time.Second

// DefaultBedrockModel is the chat model used on Bedrock when none is configured.
const DefaultBedrockModel = "anthropic.claude-3-haiku-20240307-v1:0"

// setting describes one configuration field for the flag set and the README table.
type setting struct {
	name, env, def, usage string
	set                   func(c *Config, v string) error
}

func settings() []setting {
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = v; return nil }
	}
	oneOf := func(p func(*Config) *string, values ...string) func(*Config, string) error {
		return func(c *Config, v string) error {
			if !slices.Contains(values, v) {
				return fmt.Errorf("must be %s, got %q", strings.Join(values, ", "), v)
			}
			*p(c) = v
			return nil
		}
	}
	list := func(p func(*Config) *[]string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = splitList(v); return nil }
	}
	duration := func(p func(*Config) *time.Duration, zero string) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d == 0 && zero == "" {
				if zero == "" {
					return fmt.Errorf("must be a positive duration such as 10s, got %q", v)
				}
				return fmt.Errorf("must be a duration such as 90s or 2m (0 %s), got %q", zero, v)
			}
			*p(c) = d
			return nil
		}
	}
	return []setting{
		{"addr", "GENAI_ADDR", "127.0.0.1:3000", "address to listen on; beyond loopback, GENAI_API_KEYS is required", str(func(c *Config) *string { return &c.Addr })},
		{"data-dir", "GENAI_DATA_DIR", "./data", "directory for the embedded store", str(func(c *Config) *string { return &c.DataDir })},
		{"provider", "GENAI_PROVIDER", "auto", "chat provider: auto, bedrock, openai or none", func(c *Config, v string) error {
			switch v {
			case "auto", "bedrock", "openai", "none":
				c.Provider = v
				return nil
			}
			return fmt.Errorf("must be auto, bedrock, openai or none, got %q", v)
		}},
		{"chat-model", "GENAI_CHAT_MODEL", "", "default chat model id (Bedrock: " + DefaultBedrockModel + "; an inference profile such as us.anthropic… works too)", str(func(c *Config) *string { return &c.ChatModel })},
		{"chat-models", "GENAI_CHAT_MODELS", "", "comma-separated model ids offered in the UI's model picker", list(func(c *Config) *[]string { return &c.ChatModels })},
		{"max-tokens", "GENAI_MAX_TOKENS", "2048", "default output token limit of an answer", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("must be a positive whole number, got %q", v)
			}
			c.MaxTokens = n
			return nil
		}},
		{"aws-region", "GENAI_AWS_REGION", "", "AWS region for Bedrock (default: the SDK's chain, AWS_REGION or the profile; else us-east-1)", str(func(c *Config) *string { return &c.AWSRegion })},
		{"openai-base-url", "GENAI_OPENAI_BASE_URL", "", "OpenAI-compatible endpoint, such as http://localhost:11434/v1 for Ollama", str(func(c *Config) *string { return &c.OpenAIBaseURL })},
		{"openai-api-key", "GENAI_OPENAI_API_KEY", "", "API key of the OpenAI-compatible endpoint, if it needs one", str(func(c *Config) *string { return &c.OpenAIAPIKey })},
		{"api-keys", "GENAI_API_KEYS", "", "comma-separated API keys clients must send as a bearer token", list(func(c *Config) *[]string { return &c.APIKeys })},
		{"api-keys-file", "GENAI_API_KEYS_FILE", "", "JSON file of named keys with their models and limits: {\"keys\": [{\"name\", \"sha256\", \"models\", \"admin\", \"requests_per_minute\", \"tokens_per_minute\", \"tokens_per_day\"}]}; with GENAI_API_KEYS or instead", str(func(c *Config) *string { return &c.KeysFile })},
		{"redis-url", "GENAI_REDIS_URL", "", "Redis (redis://host:6379/0, rediss:// for TLS) holding the keys' limit counters and usage, shared by every task; without it, each process counts alone", str(func(c *Config) *string { return &c.RedisURL })},
		{"redis-fail", "GENAI_REDIS_FAIL", "open", "while Redis fails: open (calls go ahead without limits, counted in genai_usage_counter_errors_total and logged) or closed (calls are refused with 503 unavailable)", oneOf(func(c *Config) *string { return &c.RedisFail }, "open", "closed")},
		{"redis-timeout", "GENAI_REDIS_TIMEOUT", "250ms", "longest connect or command to Redis; then it counts as failing", duration(func(c *Config) *time.Duration { return &c.RedisTimeout }, "")},
		{"cors-origins", "GENAI_CORS_ORIGINS", "", "comma-separated origins (https://app.example.com) whose pages may call the API from a browser, writes included; * for any (needs GENAI_API_KEYS)", list(func(c *Config) *[]string { return &c.CORSOrigins })},
		{"allowed-hosts", "GENAI_ALLOWED_HOSTS", "", "comma-separated host names the server answers to besides localhost, 127.0.0.1 and ::1 (on loopback, all others are refused against DNS rebinding); * for any", list(func(c *Config) *[]string { return &c.AllowedHosts })},
		{"metrics-public", "GENAI_METRICS_PUBLIC", "false", "serve /metrics without an API key", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", v)
			}
			c.MetricsPublic = b
			return nil
		}},
		{"embedder", "GENAI_EMBEDDER", "local", "embedder of notes and documents: local (offline), bedrock (Titan) or openai", oneOf(func(c *Config) *string { return &c.Embedder }, "local", "bedrock", "openai")},
		{"embed-model", "GENAI_EMBED_MODEL", "", "embedding model (Bedrock: amazon.titan-embed-text-v2:0 by default, or amazon.titan-embed-text-v1; OpenAI-compatible: required, e.g. nomic-embed-text)", str(func(c *Config) *string { return &c.EmbedModel })},
		{"embed-dimensions", "GENAI_EMBED_DIMENSIONS", "0", "embedding dimensions where the model offers a choice (Titan v2: 256, 512 or 1024; 0 = the model's default)", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("must be a whole number, 0 for the default, got %q", v)
			}
			c.EmbedDimensions = n
			return nil
		}},
		{"store", "GENAI_STORE", "sqlite", "store of notes and documents: sqlite (embedded, in GENAI_DATA_DIR) or opensearch", oneOf(func(c *Config) *string { return &c.Store }, "sqlite", "opensearch")},
		{"opensearch-url", "GENAI_OPENSEARCH_URL", "", "OpenSearch or Amazon OpenSearch Serverless endpoint, such as https://xyz.us-east-1.aoss.amazonaws.com", str(func(c *Config) *string { return &c.OpenSearchURL })},
		{"opensearch-index", "GENAI_OPENSEARCH_INDEX", "genai-notes", "OpenSearch index of notes", str(func(c *Config) *string { return &c.OpenSearchIndex })},
		{"opensearch-auth", "GENAI_OPENSEARCH_AUTH", "sigv4-aoss", "OpenSearch authentication: sigv4-aoss, sigv4-es, basic or none", oneOf(func(c *Config) *string { return &c.OpenSearchAuth }, "sigv4-aoss", "sigv4-es", "basic", "none")},
		{"opensearch-username", "GENAI_OPENSEARCH_USERNAME", "", "user name for basic authentication", str(func(c *Config) *string { return &c.OpenSearchUsername })},
		{"opensearch-password", "GENAI_OPENSEARCH_PASSWORD", "", "password for basic authentication", str(func(c *Config) *string { return &c.OpenSearchPassword })},
		{"kb", "GENAI_KB", "local", "knowledge base: local (documents ingested here) or bedrock (an Amazon Bedrock Knowledge Base)", oneOf(func(c *Config) *string { return &c.KB }, "local", "bedrock")},
		{"kb-cache-context", "GENAI_KB_CACHE_CONTEXT", "false", "put a prompt-cache point after the sources of a local knowledge-base answer, so a provider with prompt caching (Claude 3.5 Haiku, 3.7 and 4 on Bedrock) reads them from its cache when the next question has the same sources; left out below the model's least cacheable size", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", v)
			}
			c.KBCacheContext = b
			return nil
		}},
		{"bedrock-kb-id", "GENAI_BEDROCK_KB_ID", "", "Amazon Bedrock Knowledge Base id, with GENAI_KB=bedrock", str(func(c *Config) *string { return &c.BedrockKBID })},
		{"bedrock-kb-model-arn", "GENAI_BEDROCK_KB_MODEL_ARN", "", "model ARN that writes the answers of the Bedrock Knowledge Base, e.g. arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", str(func(c *Config) *string { return &c.BedrockKBModel })},
		{"rerank-model", "GENAI_RERANK_MODEL", "", "Amazon Bedrock reranking model (amazon.rerank-v1:0, cohere.rerank-v3-5:0, or a model ARN) that reorders the knowledge base's best " + strconv.Itoa(rag.DefaultRerankCandidates) + " passages of each retrieval, local or Bedrock's; empty = no reranking", str(func(c *Config) *string { return &c.RerankModel })},
		{"bedrock-guardrail-id", "GENAI_BEDROCK_GUARDRAIL_ID", "", "Amazon Bedrock guardrail (id or ARN) applied to every chat and knowledge-base answer on Bedrock; an intervention ends the answer with stop reason guardrail_intervened", str(func(c *Config) *string { return &c.GuardrailID })},
		{"bedrock-guardrail-version", "GENAI_BEDROCK_GUARDRAIL_VERSION", "DRAFT", "version of GENAI_BEDROCK_GUARDRAIL_ID: a number, or DRAFT", str(func(c *Config) *string { return &c.GuardrailVersion })},
		{"bedrock-guardrail-stream-mode", "GENAI_BEDROCK_GUARDRAIL_STREAM_MODE", "sync", "how the guardrail checks a streamed answer: sync (text is held until checked: nothing unchecked reaches a client) or async (checked while it streams: faster, but blocked text may be seen before the intervention)", oneOf(func(c *Config) *string { return &c.GuardrailStreamMode }, "sync", "async")},
		{"thinking-budget", "GENAI_THINKING_BUDGET", "0", "default extended-thinking budget in tokens (at least 1024; 0: none) for requests on Bedrock that name none, on Claude models that think, unless the request turns thinking off or sets what Claude refuses with it (a temperature, a forced tool); the answer's token limit grows by it", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n != 0 && (n < genai.MinThinkingBudget || n > genai.MaxOutputTokens) {
				return fmt.Errorf("must be 0 or a whole number from %d to %d, got %q", genai.MinThinkingBudget, genai.MaxOutputTokens, v)
			}
			c.ThinkingBudget = n
			return nil
		}},
		{"bedrock-guardrail-trace", "GENAI_BEDROCK_GUARDRAIL_TRACE", "false", "ask Bedrock for the guardrail's trace and log it (info level) when the guardrail intervenes: which policy blocked what", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", v)
			}
			c.GuardrailTrace = b
			return nil
		}},
		{"upstream-first-event-timeout", "GENAI_UPSTREAM_FIRST_EVENT_TIMEOUT", genai.DefaultFirstEventTimeout.String(), "longest wait for the first event of a model's stream (a long prompt or a thinking model takes a while); then 504 timeout", duration(func(c *Config) *time.Duration { return &c.UpstreamFirstEvent }, "for none")},
		{"upstream-between-events-timeout", "GENAI_UPSTREAM_BETWEEN_EVENTS_TIMEOUT", genai.DefaultBetweenEventsTimeout.String(), "longest silence of a model's stream once it has begun; then an error event", duration(func(c *Config) *time.Duration { return &c.UpstreamBetweenEvents }, "for none")},
		{"upstream-call-timeout", "GENAI_UPSTREAM_CALL_TIMEOUT", genai.DefaultCallTimeout.String(), "longest whole call to the model provider or a remote embedder, streamed or not", duration(func(c *Config) *time.Duration { return &c.UpstreamCall }, "for none")},
		{"sse-heartbeat", "GENAI_SSE_HEARTBEAT", server.DefaultSSEHeartbeat.String(), "silence after which an event stream carries a heartbeat (an SSE comment; Anthropic's ping event on /v1/messages), so that proxies and load balancers with idle timeouts (nginx, ALB: 60 s) do not cut a stream while the model thinks or a tool runs", duration(func(c *Config) *time.Duration { return &c.SSEHeartbeat }, "for none")},
		{"shutdown-timeout", "GENAI_SHUTDOWN_TIMEOUT", DefaultShutdownTimeout.String(), "after SIGTERM, how long open requests and streams may finish; then each open stream ends with an error event (code unavailable) and its model call is cancelled", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, "ends open streams at once")},
		{"ready-interval", "GENAI_READY_INTERVAL", "10s", "how often /readyz's dependencies (provider, store) are checked in the background", duration(func(c *Config) *time.Duration { return &c.ReadyInterval }, "")},
		{"agent-max-steps", "GENAI_AGENT_MAX_STEPS", "8", "model calls of one answer that uses the server's own tools (server_tools), each tool call bounded by a minute", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return fmt.Errorf("must be a whole number from 1 to 100, got %q", v)
			}
			c.AgentMaxSteps = n
			return nil
		}},
		{"mcp-servers", "GENAI_MCP_SERVERS", "", "path of a JSON file of MCP servers whose tools the agent may use (server_tools \"mcp:NAME\"), in Claude Desktop's format: {\"mcpServers\":{\"NAME\":{\"command\",\"args\",\"env\"} or {\"url\",\"headers\"}}}", str(func(c *Config) *string { return &c.MCPServers })},
		{"mcp-start-timeout", "GENAI_MCP_START_TIMEOUT", mcp.DefaultStartTimeout.String(), "longest start of an MCP server (process or connection, initialize, listing its tools); then it is failing and restarted with backoff", duration(func(c *Config) *time.Duration { return &c.MCPStartTimeout }, "")},
		{"mcp-call-timeout", "GENAI_MCP_CALL_TIMEOUT", mcp.DefaultCallTimeout.String(), "longest call of an MCP server's tool; then the model gets an error result, and a server that does not answer a ping is restarted", duration(func(c *Config) *time.Duration { return &c.MCPCallTimeout }, "")},
		{"mcp-stateless", "GENAI_MCP_STATELESS", "false", "serve /mcp without sessions (no Mcp-Session-Id; GET and DELETE answer 405), so that several tasks behind a load balancer answer any MCP request with no stickiness; the tools keep no session state, but a client's notifications/cancelled cannot stop a call in flight", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", v)
			}
			c.MCPStateless = b
			return nil
		}},
		{"parses", "GENAI_PARSES", "0", "files ingested at once, uploads and \"genai ingest\" alike (read into memory, parsed, embedded, stored); 0 = one per CPU", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("must be a whole number, 0 for one per CPU, got %q", v)
			}
			c.Parses = n
			return nil
		}},
		{"parse-queue", "GENAI_PARSE_QUEUE", "64", "uploads that may wait for a turn to be ingested, holding no memory while they wait; beyond, 503 unavailable with Retry-After", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("must be a whole number, got %q", v)
			}
			c.ParseQueue = n
			return nil
		}},
		{"log-level", "GENAI_LOG_LEVEL", "info", "log level: debug, info, warn or error", func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("must be debug, info, warn or error, got %q", v)
		}},
		{"log-format", "GENAI_LOG_FORMAT", "auto", "log format: json, text, or auto (JSON unless stderr is a terminal)", oneOf(func(c *Config) *string { return &c.LogFormat }, "auto", "json", "text")},
	}
}

// parseConfig reads the environment, then the flags in args, which must hold no
// other arguments.
func parseConfig(name string, args []string, getenv func(string) string) (*Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { usage(fs) }
	c, err := configFlags(fs, getenv)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

// configFlags returns a Config holding the environment's settings (or the defaults)
// and registers on fs a flag for each, which overrides it when parsed.
func configFlags(fs *flag.FlagSet, getenv func(string) string) (*Config, error) {
	c := &Config{}
	for _, s := range settings() {
		v := s.def
		if e := getenv(s.env); e != "" {
			v = e
		}
		if err := s.set(c, v); err != nil {
			return nil, fmt.Errorf("%s: %w", s.env, err)
		}
		help := s.usage + " (env " + s.env
		if s.def != "" && s.def != "0" {
			help += ", default " + s.def
		}
		fs.Func(s.name, help+")", func(v string) error { return s.set(c, v) })
	}
	return c, nil
}

// validate checks rules that span fields.
func (c *Config) validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("GENAI_ADDR: %q is not host:port: %w", c.Addr, err)
	}
	if c.KeysFile != "" {
		f, err := os.Open(c.KeysFile)
		if err != nil {
			return fmt.Errorf("GENAI_API_KEYS_FILE: %w", err)
		}
		c.Keys, err = genai.ParseKeys(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("GENAI_API_KEYS_FILE: %s: %s", c.KeysFile, genai.ErrorMessage(err))
		}
	}
	if !isLoopback(host) && len(c.APIKeys) == 0 && len(c.Keys) == 0 {
		return fmt.Errorf("GENAI_ADDR: listening on %q, beyond loopback, needs GENAI_API_KEYS or GENAI_API_KEYS_FILE so that the API is not open to the network", c.Addr)
	}
	if c.Provider == "openai" && c.OpenAIBaseURL == "" {
		return fmt.Errorf("GENAI_PROVIDER=openai needs GENAI_OPENAI_BASE_URL (for Ollama: http://localhost:11434/v1)")
	}
	if c.Store == "opensearch" && c.OpenSearchURL == "" {
		return fmt.Errorf("GENAI_STORE=opensearch needs GENAI_OPENSEARCH_URL")
	}
	if c.Embedder == "openai" && c.OpenAIBaseURL == "" {
		return fmt.Errorf("GENAI_EMBEDDER=openai needs GENAI_OPENAI_BASE_URL")
	}
	if c.Embedder == "openai" && c.EmbedModel == "" {
		return fmt.Errorf("GENAI_EMBEDDER=openai needs GENAI_EMBED_MODEL, such as nomic-embed-text for Ollama")
	}
	if c.OpenSearchAuth == "basic" && c.Store == "opensearch" && c.OpenSearchUsername == "" {
		return fmt.Errorf("GENAI_OPENSEARCH_AUTH=basic needs GENAI_OPENSEARCH_USERNAME and GENAI_OPENSEARCH_PASSWORD")
	}
	if c.GuardrailID != "" && c.GuardrailVersion == "" {
		return fmt.Errorf("GENAI_BEDROCK_GUARDRAIL_ID needs GENAI_BEDROCK_GUARDRAIL_VERSION (a number, or DRAFT)")
	}
	if c.KB == "bedrock" && c.BedrockKBID == "" {
		return fmt.Errorf("GENAI_KB=bedrock needs GENAI_BEDROCK_KB_ID")
	}
	if err := server.CheckOrigins(c.CORSOrigins); err != nil {
		return fmt.Errorf("GENAI_CORS_ORIGINS: %w", err)
	}
	if slices.Contains(c.CORSOrigins, "*") && len(c.APIKeys) == 0 && len(c.Keys) == 0 {
		return fmt.Errorf("GENAI_CORS_ORIGINS=*: would let every site's pages call the API; set GENAI_API_KEYS too, or name the origins")
	}
	for _, k := range c.APIKeys {
		if len(k) < 16 {
			return fmt.Errorf("GENAI_API_KEYS: each key must be at least 16 characters")
		}
		sum := sha256.Sum256([]byte(k))
		for _, fk := range c.Keys {
			if fk.SHA256 == hex.EncodeToString(sum[:]) {
				return fmt.Errorf("GENAI_API_KEYS: a key is also in GENAI_API_KEYS_FILE, as %q; give it once", fk.Name)
			}
		}
	}
	return nil
}

// allowedHosts returns the host names the server answers to: on loopback, the loopback
// names and those configured; beyond it, those configured, or any when none are.
func (c *Config) allowedHosts() []string {
	host, _, _ := net.SplitHostPort(c.Addr)
	if !isLoopback(host) {
		return c.AllowedHosts
	}
	return append(slices.Clone(server.LoopbackHosts), c.AllowedHosts...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, `genai serves chat, image analysis and retrieval over HTTP, with a web UI.

Usage:
  genai [serve] [flags]                  run the server (the default)
  genai notes add [flags] TEXT           add a note (-title, -link)
  genai notes import [flags] FILE.jsonl  add notes, one JSON object {"title","link","text"} a line
  genai notes search [flags] QUERY       search notes (-mode semantic|title|hybrid, -k)
  genai notes reembed [flags]            re-embed every note with the configured embedder
  genai ingest [flags] PATH...           add files and folders to the knowledge base
  genai eval [flags] DIR                 measure retrieval on a BEIR data set (-split, -json, -rerank)
  genai mcp [flags]                      serve the knowledge base and notes over MCP on stdin/stdout
  genai loadtest [-url] [-surface] [-users] [-duration|-n] ...  load-test a running server ("genai loadtest -h")
  genai version                          print the version
  genai help                             print this help

Flags of every command (each also an environment variable):
`)
	fs.PrintDefaults()
}
