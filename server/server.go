// Package server serves the genai HTTP API of API.md and the web UI: it decodes and
// validates requests, calls the services of package genai it was given, and encodes
// answers, JSON errors and Server-Sent Event streams.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"genai"
)

// Options configures a Server. The zero value serves every page and answers chat with
// 503 no_provider.
type Options struct {
	// Chat answers conversations; nil means no provider is configured.
	Chat genai.ChatModel
	// TokenCounter counts the input tokens of /v1/messages/count_tokens with the
	// provider's tokenizer; nil means Chat's own, when it is one (a Chat wrapped in
	// deadlines or checks is not: pass the provider's here), else an estimate.
	TokenCounter genai.TokenCounter
	// Provider names the chat provider ("bedrock", "openai" or "none") for /api/config
	// and metrics.
	Provider string
	// ChatModel is the model id used when a request names none.
	ChatModel string
	// ChatModels are offered in the UI's model picker; ChatModel is always among them.
	ChatModels []string
	// MaxTokens is the output limit used when a request sets none (default 2048).
	MaxTokens int
	// Vision reports whether the chat models take images.
	Vision bool
	// APIKeys, when non-empty, are the bearer keys that /api/*, /v1/* and the workshop
	// backends require.
	APIKeys []string
	// Keys are named keys, each with the models it may call and its limits (validated
	// by genai.ParseKeys); they are required like APIKeys, and both may be set.
	Keys []genai.Key
	// Usage meters model calls by key, and serves GET /api/usage; nil meters none. Its
	// Chat must wrap Chat (and whatever else calls the model, such as KB), so that a
	// key's calls are counted wherever they are made.
	Usage *Usage
	// MetricsPublic leaves /metrics open when APIKeys are set.
	MetricsPublic bool
	// CORSOrigins are the origins allowed to call the API from a browser, by CORS and by
	// the cross-origin protection of writes; none by default, "*" for any.
	CORSOrigins []string
	// AllowedHosts are the host names (of the Host header, without port) the server
	// answers to, "*" for any; empty means any. A server on loopback should allow only
	// LoopbackHosts and the names its users reach it by.
	AllowedHosts []string
	// BodyReadTimeout bounds reading a request body (default DefaultBodyReadTimeout).
	BodyReadTimeout time.Duration
	// ServerTools are the groups of tools the server runs itself, by the name a request
	// turns them on with ("server_tools": ["knowledge_base", "notes"]); each call makes
	// the tools of one request.
	ServerTools map[string]func() []genai.ToolRunner
	// MCPServers reports the state of each configured MCP server, whose tools are the
	// groups "mcp:NAME" of ServerTools, for /api/config; nil when there are none.
	MCPServers func() []genai.MCPServer
	// AgentMaxSteps bounds the model calls of a request with server tools, and
	// AgentToolTimeout one tool call (defaults in package agent).
	AgentMaxSteps    int
	AgentToolTimeout time.Duration
	// SSEHeartbeat is the silence after which an event stream carries a heartbeat, so
	// that proxies and load balancers do not cut it (default DefaultSSEHeartbeat;
	// negative: none).
	SSEHeartbeat time.Duration
	// MaxBodyBytes caps a JSON request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Responses keeps the responses of POST /v1/responses for previous_response_id and
	// GET/DELETE /v1/responses/{id}; nil keeps none (every response is "store": false).
	Responses genai.ResponseStore
	// Ready reports whether dependencies are ready, for /readyz; nil means ready.
	Ready func(ctx context.Context) error
	// Notes is the vector database of notes; nil answers its routes with 503.
	Notes *genai.NoteService
	// Store names the store behind Notes ("sqlite" or "opensearch") for /api/config.
	Store string
	// KB is the knowledge base behind /api/kb/* and the workshop's knowledge-base
	// backends; nil answers them with 503.
	KB genai.KnowledgeBase
	// KBName names the knowledge base ("local" or "bedrock") for /api/config.
	KBName string
	// Ingest adds, lists and deletes the knowledge base's documents; nil with a managed
	// knowledge base, whose documents live in Amazon Bedrock.
	Ingest genai.DocumentService
	// MaxFileBytes caps one uploaded file (default DefaultMaxFileBytes); MaxUploadBytes
	// a whole upload of many files (default DefaultMaxUploadBytes).
	MaxFileBytes   int64
	MaxUploadBytes int64
	// MCP serves the Model Context Protocol's Streamable HTTP transport at /mcp (POST,
	// GET and DELETE), behind the same keys and host and origin checks as /api/*; nil
	// serves none.
	MCP http.Handler
	// UI serves the web pages and their assets; nil serves none.
	UI http.Handler
	// Logger receives access and error logs (default slog.Default()).
	Logger *slog.Logger
	// Trace wraps the handling of every request inside its request id, before any
	// other check, so refusals are traced too (package telemetry's Handler, which names
	// a span by Route); nil traces nothing.
	Trace func(http.Handler) http.Handler
}

// DefaultMaxBodyBytes is the default cap on a JSON request body: room for the largest
// allowed images (base64 grows them by a third) while refusing absurd bodies early.
const DefaultMaxBodyBytes = 32 << 20

// Server is the HTTP handler of genai. Create it with New.
type Server struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	metrics  *metrics
	handler  http.Handler
	patterns []string
	keys     []knownKey
}

// New returns a Server serving opts.
func New(opts Options) *Server {
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = 2048
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.BodyReadTimeout <= 0 {
		opts.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if opts.Provider == "" {
		opts.Provider = "none"
	}
	if opts.SSEHeartbeat == 0 {
		opts.SSEHeartbeat = DefaultSSEHeartbeat
	}
	if opts.ChatModel != "" && !slices.Contains(opts.ChatModels, opts.ChatModel) {
		opts.ChatModels = append([]string{opts.ChatModel}, opts.ChatModels...)
	}
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux(), metrics: newMetrics(), keys: knownKeys(opts)}
	if opts.Usage != nil {
		s.metrics.register(opts.Usage.collectors()...)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if tc, ok := s.opts.Chat.(genai.TokenCounter); ok && s.opts.TokenCounter == nil {
		s.opts.TokenCounter = tc
	}
	if s.opts.Chat != nil {
		s.opts.Chat = stopCounter{s.opts.Chat, s}
	}
	s.routes()
	// Outermost first: every answer, refusals included, has a request id, the security
	// headers and its metrics; a foreign Host or a cross-site write is refused before the
	// key is looked at, and the key before any of the body is read.
	var h http.Handler = http.HandlerFunc(s.dispatch)
	h = s.authenticate(h)
	h = s.crossOrigin(h)
	h = s.cors(h)
	h = s.checkHost(h)
	h = s.bodyDeadline(h)
	h = s.secureHeaders(h)
	h = s.observe(h)
	h = s.recoverPanics(h)
	if opts.Trace != nil {
		h = opts.Trace(h)
	}
	s.handler = s.requestID(h)
	return s
}

func (s *Server) routes() {
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)
	s.handle("GET /api/config", s.config)
	s.handle("GET /metrics", s.metrics.handler().ServeHTTP)
	s.handle("GET /api/usage", s.usage)

	s.handle("POST /api/chat", s.chat)
	s.handle("POST /bedrock-haiku", s.chatText)
	s.handle("POST /claude-haiku-image", s.chatText)

	s.handle("GET /v1/models", s.openAIModels)
	s.handle("POST /v1/chat/completions", s.openAIChat)
	s.handle("POST /v1/embeddings", s.openAIEmbeddings)
	s.handle("POST /v1/responses", s.createResponse)
	s.handle("GET /v1/responses/{id}", s.getResponse)
	s.handle("DELETE /v1/responses/{id}", s.deleteResponse)
	s.handle("POST /v1/messages", s.anthropicMessages)
	s.handle("POST /v1/messages/count_tokens", s.anthropicCountTokens)

	s.handle("POST /api/notes", s.createNote)
	s.handle("POST /api/notes/bulk", s.bulkNotes)
	s.handle("GET /api/notes", s.listNotes)
	s.handle("GET /api/notes/{id}", s.getNote)
	s.handle("DELETE /api/notes/{id}", s.deleteNote)
	s.handle("POST /api/notes/search", s.searchNotes)
	s.handle("POST /aoss-index-backend", s.aossIndex)
	s.handle("POST /aoss-query-backend", s.aossQuery)

	s.handle("POST /api/kb/documents", s.uploadDocuments)
	s.handle("GET /api/kb/documents", s.listDocuments)
	s.handle("GET /api/kb/documents/{id}", s.getDocument)
	s.handle("DELETE /api/kb/documents/{id}", s.deleteDocument)
	s.handle("POST /api/kb/retrieve", s.kbRetrieve)
	s.handle("POST /api/kb/answer", s.kbAnswer)
	s.handle("POST /knowledge-base-retrieve", s.workshopRetrieve)
	s.handle("POST /knowledge-base-retrieve-and-generate", s.workshopRetrieveAndGenerate)

	if s.opts.MCP != nil {
		s.handle("POST /mcp", s.mcp)
		s.handle("GET /mcp", s.mcp)
		s.handle("DELETE /mcp", s.mcp)
	}

	if s.opts.UI != nil {
		for p := range uiPaths {
			if p == "/" {
				p = "/{$}"
			}
			s.handle("GET "+p, s.opts.UI.ServeHTTP)
		}
		s.handle("GET /static/", s.opts.UI.ServeHTTP)
	}
}

// handle registers a route and records its pattern for Routes.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// Routes returns the patterns of every route the server serves, such as
// "POST /api/chat", in the order they were registered.
func (s *Server) Routes() []string { return slices.Clone(s.patterns) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// dispatch routes r, answering unknown routes and methods with JSON errors rather than
// the mux's plain text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	infoOf(r.Context()).pattern = pattern
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // sets the path values
		return
	}
	rec := &statusCatcher{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeJSON(w, http.StatusMethodNotAllowed, s.errorPayload(r, errorDetail{Code: genai.EINVALID,
			Message:   "method " + r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + rec.header.Get("Allow"),
			RequestID: RequestID(r.Context())}))
	default:
		s.writeError(w, r, genai.Errorf(genai.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path))
	}
}

// statusCatcher records what the mux's fallback handler would answer.
type statusCatcher struct {
	header http.Header
	status int
}

func (c *statusCatcher) Header() http.Header         { return c.header }
func (c *statusCatcher) Write(b []byte) (int, error) { return len(b), nil }
func (c *statusCatcher) WriteHeader(status int)      { c.status = status }

// cors answers browsers from configured origins only; with none configured, no CORS
// headers are sent and browsers keep the same-origin policy.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.opts.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (slices.Contains(s.opts.CORSOrigins, origin) || slices.Contains(s.opts.CORSOrigins, "*")) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets pages load only their own scripts, styles and images (plus
// pasted or captured images as data: and blob: URLs), so that even text that slipped
// past sanitising could not run script.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; " +
	"style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a logged 500, so no panic reaches a
// client as a dropped connection. http.ErrAbortHandler passes: it is the deliberate
// way to cut a stream that cannot report an error in-band.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, genai.Errorf(genai.EINTERNAL, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz answers 200 {"status":"ready"}, or 503 {"status":"not_ready","failing":[…]}
// naming the dependencies that are not ready and nothing more: it is open without a
// key, so the detail goes to the log only.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusServiceUnavailable, s.notReadyBody(r, err))
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
}

// configBody is the answer of GET /api/config: what the server offers, never a secret.
type configBody struct {
	Provider      string                `json:"provider"`
	ChatModel     string                `json:"chat_model"`
	ChatModels    []string              `json:"chat_models"`
	MaxTokens     int                   `json:"max_tokens"`
	Auth          bool                  `json:"auth"`
	Features      map[string]bool       `json:"features"`
	Limits        configLimits          `json:"limits"`
	NoProviderFix string                `json:"no_provider_fix,omitempty"`
	Store         string                `json:"store,omitempty"`
	Embedder      *genai.EmbeddingSpace `json:"embedder,omitempty"`
	EmbedModel    string                `json:"embed_model,omitempty"`
	KnowledgeBase string                `json:"knowledge_base,omitempty"`
	MCPServers    []genai.MCPServer     `json:"mcp_servers"`
}

type configLimits struct {
	MaxImageBytes  int   `json:"max_image_bytes"`
	MaxImages      int   `json:"max_images"`
	MaxBodyBytes   int64 `json:"max_body_bytes"`
	MaxFileBytes   int64 `json:"max_file_bytes"`
	MaxUploadBytes int64 `json:"max_upload_bytes"`
}

// modelsOf returns the chat models the key of ctx may call.
func (s *Server) modelsOf(ctx context.Context) []string {
	key := genai.KeyFrom(ctx)
	if key == nil {
		return s.opts.ChatModels
	}
	var list []string
	for _, m := range s.opts.ChatModels {
		if key.Allows(m) {
			list = append(list, m)
		}
	}
	return list
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	chat := s.opts.Chat != nil
	body := configBody{
		Provider:   s.opts.Provider,
		ChatModel:  s.opts.ChatModel,
		MaxTokens:  s.opts.MaxTokens,
		ChatModels: s.modelsOf(r.Context()),
		Auth:       len(s.keys) > 0,
		Features: map[string]bool{"chat": chat, "vision": chat && s.opts.Vision, "notes": s.opts.Notes != nil,
			"kb": s.opts.KB != nil, "kb_upload": s.opts.Ingest != nil},
		Limits: configLimits{genai.MaxImageBytes, genai.MaxImages, s.opts.MaxBodyBytes, s.opts.MaxFileBytes, s.opts.MaxUploadBytes},
	}
	if len(body.ChatModels) > 0 && !slices.Contains(body.ChatModels, body.ChatModel) {
		body.ChatModel = body.ChatModels[0] // the key may not use the default
	}
	if s.opts.KB != nil {
		body.KnowledgeBase = s.opts.KBName
	}
	if body.ChatModels == nil {
		body.ChatModels = []string{}
	}
	if !chat {
		body.NoProviderFix = noProviderMessage
	}
	if s.opts.Notes != nil {
		space := s.opts.Notes.Embedder.Space()
		body.Store, body.Embedder, body.EmbedModel = s.opts.Store, &space, space.Model
	}
	body.MCPServers = []genai.MCPServer{}
	if s.opts.MCPServers != nil {
		body.MCPServers = s.opts.MCPServers()
	}
	writeJSON(w, http.StatusOK, body)
}
