package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
	"genai/agent"
)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Version is the version reported to clients in the initialize handshake.
	Version string
	// Tools makes the tools the server offers. It is called once to list them, then for
	// each call, so that a call's passages are numbered from 1 as in a chat request of
	// their own. The tools' names, descriptions and schemas must not change.
	Tools func() []genai.ToolRunner
	// Documents offers the knowledge base's documents as resources; nil offers none
	// (a managed knowledge base, whose documents live in Amazon Bedrock).
	Documents Documents
	// ToolTimeout bounds one tool call (default agent.DefaultToolTimeout).
	ToolTimeout time.Duration
	// Logger receives the detail of internal errors, which clients see as "internal
	// error" only (default slog.Default()).
	Logger *slog.Logger
	// Stateless serves Handler without sessions: every POST stands alone, no
	// Mcp-Session-Id is issued or read, and GET and DELETE answer 405. The tools and
	// resources keep no state between requests (each call runs a fresh tool; the
	// server sends no notifications of its own), so any of several servers behind a
	// load balancer answers any request, with no stickiness. What is lost: a client's
	// notifications/cancelled cannot reach a call in flight (it arrives on another
	// request), so a call runs to its end or ToolTimeout unless the client's
	// connection closes. Serve (stdio) is one session either way.
	Stateless bool
}

// Documents lists and reads the documents of a knowledge base; a genai.DocumentService is one.
type Documents interface {
	ListDocuments(ctx context.Context) ([]genai.Document, error)
	GetDocument(ctx context.Context, id string) (*genai.Document, error)
	DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error)
}

// Server is genai as an MCP server: one SDK server whose sessions run over Streamable
// HTTP (Handler) or stdio (Serve). Create it with NewServer.
type Server struct {
	opts ServerOptions
	log  *slog.Logger
	srv  *sdk.Server
}

// serverName is the implementation name sent to clients.
const serverName = "genai"

// NewServer returns a Server offering opts.Tools and opts.Documents.
func NewServer(opts ServerOptions) *Server {
	s := &Server{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.opts.ToolTimeout <= 0 {
		s.opts.ToolTimeout = agent.DefaultToolTimeout
	}
	caps := &sdk.ServerCapabilities{Tools: &sdk.ToolCapabilities{}}
	instructions := "genai's knowledge base and notes: search_knowledge_base returns numbered passages to cite as [n]."
	if opts.Documents != nil {
		instructions += " The knowledge base's documents are also resources (" + documentURIPrefix + "{id})."
		// The documents change as they are ingested, by this server and by others on the
		// same store, so the list is read each time and no list_changed is promised.
		caps.Resources = &sdk.ResourceCapabilities{}
	}
	s.srv = sdk.NewServer(&sdk.Implementation{Name: serverName, Title: "genai", Version: opts.Version}, &sdk.ServerOptions{
		Instructions: instructions,
		Logger:       s.log,
		Capabilities: caps,
	})
	if opts.Tools != nil {
		for _, t := range opts.Tools() {
			s.addTool(t.Tool())
		}
	}
	if opts.Documents != nil {
		s.addDocuments()
	}
	// Last, so outermost: each middleware added wraps those before it.
	s.srv.AddReceivingMiddleware(s.recoverPanics)
	return s
}

// addTool offers spec, running each call with a fresh tool of its name: the one adapter
// from genai.ToolRunner to an MCP tool.
func (s *Server) addTool(spec genai.Tool) {
	s.srv.AddTool(&sdk.Tool{Name: spec.Name, Description: spec.Description, InputSchema: spec.InputSchema},
		func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			var runner genai.ToolRunner
			for _, t := range s.opts.Tools() {
				if t.Tool().Name == spec.Name {
					runner = t
				}
			}
			if runner == nil {
				return nil, fmt.Errorf("mcp: the tool %s is gone", spec.Name) // Tools broke its promise
			}
			input := req.Params.Arguments
			if len(input) == 0 || string(input) == "null" {
				input = json.RawMessage("{}")
			}
			res, citations := agent.RunTool(ctx, logFailures{runner, s.log}, input, s.opts.ToolTimeout)
			return callResult(res, citations), nil
		})
}

// callResult maps a tool's result to MCP's: text and images as content, a failure as
// isError (so the client's model sees it and can correct its call, as the spec asks),
// and the sources of numbered passages as structured content.
func callResult(res genai.ToolResult, citations []genai.Citation) *sdk.CallToolResult {
	out := &sdk.CallToolResult{IsError: res.IsError, Content: []sdk.Content{}}
	for _, b := range res.Content {
		switch b.Type {
		case genai.BlockText:
			out.Content = append(out.Content, &sdk.TextContent{Text: b.Text})
		case genai.BlockImage:
			out.Content = append(out.Content, &sdk.ImageContent{Data: b.Image.Data, MIMEType: b.Image.MediaType()})
		}
	}
	if len(citations) > 0 {
		out.StructuredContent = map[string]any{"citations": citations}
	}
	return out
}

// logFailures logs the detail of a tool's internal errors, which the client is shown as
// "internal error" only.
type logFailures struct {
	genai.ToolRunner
	log *slog.Logger
}

func (t logFailures) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	out, err := t.ToolRunner.Run(ctx, input)
	if err != nil && genai.ErrorCode(err) == genai.EINTERNAL {
		t.log.ErrorContext(ctx, "mcp: tool failed", "tool", t.Tool().Name, "err", err)
	}
	return out, err
}

// recoverPanics turns a panic in any handler into an internal error, since the SDK lets a
// panic end the process.
func (s *Server) recoverPanics(next sdk.MethodHandler) sdk.MethodHandler {
	return func(ctx context.Context, method string, req sdk.Request) (res sdk.Result, err error) {
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(ctx, "mcp: panic in handler", "method", method, "panic", v)
				res, err = nil, protocolError(genai.Errorf(genai.EINTERNAL, "internal error"))
			}
		}()
		return next(ctx, method, req)
	}
}

// sessionIdleTimeout closes an HTTP session that has had no request for this long, so
// that sessions whose clients went away without a DELETE do not pile up.
const sessionIdleTimeout = 30 * time.Minute

// Handler returns the Streamable HTTP endpoint (POST, GET and DELETE on one path). It
// does not check keys, hosts or origins: mount it behind the server's protections.
// caller names who made a request (server.Caller); a session is bound to the caller that
// opened it, and another caller's requests on it are refused with 403 (stateless, each
// request is authenticated alone and there is no session to bind). maxBody bounds a
// request's body (the SDK's default when 0).
func (s *Server) Handler(caller func(context.Context) string, maxBody int64) http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.srv }, &sdk.StreamableHTTPOptions{
		Logger:         s.log,
		SessionTimeout: sessionIdleTimeout,
		Stateless:      s.opts.Stateless,
		// The server's own Host check (GENAI_ALLOWED_HOSTS) guards against DNS rebinding
		// already; the SDK's fixed one would refuse the names a user configured.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        maxBody,
		// A client that goes away cancels its call's work (sessionless protocol versions;
		// with sessions, the client's notifications/cancelled does).
		PropagateRequestCancellation: true,
	})
	// The SDK binds a session to TokenInfo.UserID, which only its bearer-token middleware
	// can set; its "token" check here only hands it the caller the server authenticated.
	bind := auth.RequireBearerToken(func(ctx context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
		return &auth.TokenInfo{UserID: caller(r.Context()), Expiration: time.Now().Add(time.Hour)}, nil
	}, nil)(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := caller(r.Context())
		if who == "" {
			h.ServeHTTP(w, r) // no keys: nothing to bind a session to
			return
		}
		if r.Header.Get("Authorization") == "" {
			// The key came as X-API-Key, already checked; the middleware wants a bearer.
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+r.Header.Get("X-API-Key"))
		}
		bind.ServeHTTP(w, r)
	})
}

// Serve runs one session over in and out (newline-delimited JSON-RPC, as on stdio) until
// the client closes in or ctx ends.
func (s *Server) Serve(ctx context.Context, in io.ReadCloser, out io.WriteCloser) error {
	err := s.srv.Run(ctx, &sdk.IOTransport{Reader: in, Writer: out})
	if err != nil && ctx.Err() != nil {
		return nil // stopped by a signal, as asked
	}
	return err
}

// Close ends every session, so that their event streams (GET on the HTTP endpoint) end
// and a server shutting down need not wait for them.
func (s *Server) Close() {
	for ss := range s.srv.Sessions() {
		ss.Close()
	}
}
