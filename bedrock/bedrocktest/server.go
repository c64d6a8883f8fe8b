// Package bedrocktest runs an in-process Amazon Bedrock Runtime that speaks the service's
// real wire protocol, so the official aws-sdk-go-v2 client talks to it unmodified:
//
//   - POST /model/{modelId}/converse answers REST JSON;
//   - POST /model/{modelId}/converse-stream answers application/vnd.amazon.eventstream,
//     the AWS event-stream binary framing, one message per event (messageStart,
//     contentBlockDelta…, contentBlockStop, messageStop, metadata), and exceptions as
//     messages of type "exception";
//   - POST /model/{modelId}/invoke answers InvokeModel for the Titan text embeddings
//     models (invoke.go), with deterministic pseudo-random vectors;
//   - POST /model/{modelId}/count-tokens answers CountTokens for a Converse-shaped
//     input, counting words (count.go);
//   - errors before a stream are a JSON body with the X-Amzn-ErrorType header.
//
// Point a client at it with aws.Config.BaseEndpoint, bedrockruntime.Options.BaseEndpoint,
// or AWS_ENDPOINT_URL_BEDROCK_RUNTIME, and sign with any static credentials. The server
// records what it received, decoded, and counts streams, so tests can check that image
// bytes arrived exactly and that a cancelled call ended upstream too. Options.Hang and
// Server.SetHang freeze it, before its headers or part way through a stream, as a
// stopped process would, to test clients' deadlines (hang.go).
//
// It is written to carry a load test: one goroutine per request (the handler's own), a
// reused timer for the delays, pooled encoders, and a flush after every event.
package bedrocktest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"genai/internal/watch"
)

// MaxBodyBytes bounds a request body; Bedrock's own limit for 20 images of 3.75 MB in
// base64 fits within it.
const MaxBodyBytes = 128 << 20

// Options configure a Server. The zero value answers every request with EchoReply at
// full speed.
type Options struct {
	// Reply decides the answer to a request. It is called concurrently, once per request
	// that was not throttled. Nil means EchoReply.
	Reply func(req *Request) Reply

	// FirstTokenDelay is the wait before the first token; TokenDelay the wait between
	// tokens. A Converse call waits the sum before answering.
	FirstTokenDelay time.Duration
	TokenDelay      time.Duration

	// ThrottleFirst answers the first N requests (of either operation) with HTTP 429
	// ThrottlingException before reading them. Use math.MaxInt to throttle every request.
	ThrottleFirst int

	// FailStream, when set, makes every stream fail part way.
	FailStream *StreamFailure

	// NoRecord stops the server from keeping each request, for long load tests.
	NoRecord bool

	// TLS serves HTTPS with HTTP/2 offered by ALPN, as Bedrock does, so that clients
	// multiplex streams on few connections. Clients must trust Server.CertPEM.
	TLS bool

	// Hang, when set, makes requests hang as it says (hang.go); Server.SetHang changes
	// it while the server runs.
	Hang *Hang

	// Guardrails are the guardrails the server knows, by identifier (guardrail.go).
	Guardrails map[string]Guardrail

	// APIKey is the Bedrock API key the server takes as "Authorization: Bearer <key>"
	// (auth.go); empty refuses every bearer token. SigV4 is checked as always.
	APIKey string

	// CountTokensRefused, when set, says which models CountTokens refuses as Bedrock
	// does for models it cannot count (count.go); nil counts for every model.
	CountTokensRefused func(modelID string) bool
}

// Reply is the answer to one request.
type Reply struct {
	// Tokens are streamed one contentBlockDelta event each; Converse joins them.
	Tokens []string
	// ToolUses are tool calls made after the text, each its own content block; a reply
	// with calls has StopReason "tool_use" unless it sets another.
	ToolUses []ToolCall
	// StopReason is sent in messageStop; empty means "end_turn".
	StopReason string
	// InputTokens and OutputTokens are the usage reported; zero means a count of the
	// request's words and len(Tokens).
	InputTokens, OutputTokens int
	// CacheReadTokens and CacheWriteTokens are the cache usage reported; zero means
	// what the request's cache points read and wrote (cache.go).
	CacheReadTokens, CacheWriteTokens int
	// Reasoning is the thinking the answer starts with; EchoReply gives one to a request
	// with thinking on.
	Reasoning *Reasoning
	trace     json.RawMessage // a guardrail's trace, when the request asked for it
	// Error, when set, answers the request with this error instead of a stream.
	Error *APIError
}

// APIError is an error answered before any stream, as Bedrock does: an HTTP status, the
// X-Amzn-ErrorType header and a JSON body {"message": …}.
type APIError struct {
	Status  int    // such as 400, 403, 404 or 429
	Type    string // such as "ValidationException" or "AccessDeniedException"
	Message string
}

// StreamFailure breaks a stream after AfterTokens tokens have been sent.
type StreamFailure struct {
	AfterTokens int
	// Exception is the :exception-type of the exception message sent, such as
	// "modelStreamErrorException", "internalServerException" or "throttlingException".
	// Empty cuts the connection instead, in the middle of an event frame.
	Exception string
	// Message is the exception's message.
	Message string
}

// Request is a request as the server decoded it. Its JSON fields mirror Bedrock's
// Converse request, so image bytes are the decoded bytes that arrived.
type Request struct {
	Operation     string `json:"-"` // "Converse", "ConverseStream" or "CountTokens"
	ModelID       string `json:"-"` // unescaped, as the client passed it
	Path          string `json:"-"` // the escaped URL path the client sent
	Authorization string `json:"-"` // the Authorization header: SigV4, or a Bearer API key (auth.go)

	Messages        []Message            `json:"messages"`
	System          []SystemContentBlock `json:"system"`
	InferenceConfig *InferenceConfig     `json:"inferenceConfig"`
	ToolConfig      *ToolConfig          `json:"toolConfig"`      // tools.go
	OutputConfig    *OutputConfig        `json:"outputConfig"`    // format.go
	GuardrailConfig *GuardrailConfig     `json:"guardrailConfig"` // guardrail.go
	// AdditionalModelRequestFields are the model's own fields, as sent (thinking.go).
	AdditionalModelRequestFields json.RawMessage `json:"additionalModelRequestFields"`
}

// Message is one turn of the conversation in a Request.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is a text, image, document, toolUse or toolResult block of a Message.
type ContentBlock struct {
	Text       string           `json:"text,omitempty"`
	Image      *ImageBlock      `json:"image,omitempty"`
	Document   *DocumentBlock   `json:"document,omitempty"` // document.go
	ToolUse    *ToolUseBlock    `json:"toolUse,omitempty"`
	ToolResult *ToolResultBlock `json:"toolResult,omitempty"`
	// ReasoningContent is a thinking block (thinking.go).
	ReasoningContent *ReasoningContentBlock `json:"reasoningContent,omitempty"`
	// CachePoint marks the end of a prefix to cache (cache.go).
	CachePoint *CachePoint `json:"cachePoint,omitempty"`
}

// ImageBlock is an image sent in a Message.
type ImageBlock struct {
	Format string `json:"format"` // "png", "jpeg", "gif" or "webp"
	Source struct {
		Bytes []byte `json:"bytes"`
	} `json:"source"`
}

// SystemContentBlock is one block of the system prompt.
type SystemContentBlock struct {
	Text       string      `json:"text,omitempty"`
	CachePoint *CachePoint `json:"cachePoint,omitempty"` // cache.go
}

// InferenceConfig holds the inference settings of a Request; nil fields were not sent.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens"`
	Temperature   *float64 `json:"temperature"`
	TopP          *float64 `json:"topP"`
	StopSequences []string `json:"stopSequences"`
}

// LastUserText returns the text blocks of the last user message, joined.
func (r *Request) LastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if m := r.Messages[i]; m.Role == "user" {
			var sb strings.Builder
			for _, b := range m.Content {
				sb.WriteString(b.Text)
			}
			return sb.String()
		}
	}
	return ""
}

// EchoReply answers "You said: <last user text>", then " [document <name>, <format>,
// <n> bytes]" for each document of that message (document.go), one token per word (each keeping its
// trailing space, so the tokens join back to the exact text). A request with tools, or
// with tool results to read, is answered by ToolReply.
func EchoReply(req *Request) Reply {
	if r, ok := FormatReply(req); ok {
		return withThinking(req, r)
	}
	if r, ok := ToolReply(req); ok {
		return withThinking(req, r)
	}
	return withThinking(req, Reply{Tokens: strings.SplitAfter("You said: "+req.LastUserText()+documentNotes(req), " ")})
}

// Stats counts what the server has done so far.
type Stats struct {
	Requests  int // requests received, throttled ones included
	Throttled int // requests answered by ThrottleFirst
	Active    int // requests being answered now: streams open, Converse calls waiting
	Completed int // streams and Converse calls answered in full
	Failed    int // streams broken on purpose by FailStream
	Canceled  int // requests whose client went away before the answer was complete
	Hung      int // requests hanging now, as Options.Hang or SetHang says
	Conns     int // client connections open now
}

// Server is a running fake Bedrock Runtime. Close it when done.
type Server struct {
	// URL is the endpoint to give the SDK, such as "http://127.0.0.1:40123".
	URL string
	// CertPEM is the server's certificate in PEM when Options.TLS is set: a CA bundle
	// for clients (AWS_CA_BUNDLE).
	CertPEM []byte

	opts    Options
	srv     *httptest.Server
	counter atomic.Int64 // requests received, for ThrottleFirst

	mu       sync.Mutex
	stats    watch.Value[Stats]
	requests []*Request
	cached   map[[32]byte]bool // prefixes cached (cache.go)
	invokes  []*InvokeRequest
	hang     *Hang
	thaw     chan struct{} // closed when the hang is lifted
}

// NewServer starts a Server with the given options.
func NewServer(opts Options) *Server {
	if opts.Reply == nil {
		opts.Reply = EchoReply
	}
	s := &Server{opts: opts, hang: opts.Hang}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /model/{modelId}/converse-stream", s.handleConverseStream)
	mux.HandleFunc("POST /model/{modelId}/converse", s.handleConverse)
	mux.HandleFunc("POST /model/{modelId}/invoke", s.handleInvoke)
	mux.HandleFunc("POST /model/{modelId}/count-tokens", s.handleCountTokens)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: fmt.Sprintf("bedrocktest: no operation for %s %s", r.Method, r.URL.EscapedPath())})
	})
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Config.ConnState = s.countConns
	if opts.TLS {
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
		s.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, cutting any open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Requests returns the requests received so far, in order of arrival (throttled ones,
// which are not read, excluded).
func (s *Server) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.requests...)
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	return s.stats.Load()
}

// Wait blocks until cond holds for the server's Stats, or ctx is done, in which case it
// returns an error with the last Stats seen.
func (s *Server) Wait(ctx context.Context, cond func(Stats) bool) error {
	if st, err := s.stats.Wait(ctx, cond); err != nil {
		return fmt.Errorf("bedrocktest: waiting for stats, last %+v: %w", st, err)
	}
	return nil
}

func (s *Server) update(fn func(*Stats)) {
	s.stats.Update(fn)
}

// begin does what both operations share: count, throttle, check the signature, decode
// and record the request, and decide the reply. It returns nil when it has answered.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, op string) (*Request, Reply, bool) {
	n := s.counter.Add(1)
	throttled := n <= int64(s.opts.ThrottleFirst)
	s.update(func(st *Stats) {
		st.Requests++
		if throttled {
			st.Throttled++
		}
	})
	w.Header().Set("X-Amzn-Requestid", "bedrocktest-"+strconv.FormatInt(n, 10))
	if throttled {
		writeError(w, &APIError{Status: http.StatusTooManyRequests, Type: "ThrottlingException",
			Message: "Too many requests, please wait before trying again."})
		return nil, Reply{}, false
	}
	auth := r.Header.Get("Authorization")
	if err := s.checkAuth(r); err != nil {
		writeError(w, &APIError{Status: http.StatusForbidden, Type: "UnrecognizedClientException", Message: err.Error()})
		return nil, Reply{}, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil && r.Context().Err() != nil {
		s.update(func(st *Stats) { st.Canceled++ })
		return nil, Reply{}, false
	}
	if err != nil {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: "reading body: " + err.Error()})
		return nil, Reply{}, false
	}
	// A frozen server answers nothing, not even a refusal: hang before any check.
	if h, thaw := s.hangOf(); h != nil && (h.BeforeHeaders || op == "Converse") && !s.hold(r, thaw) {
		s.update(func(st *Stats) { st.Canceled++ })
		return nil, Reply{}, false
	}
	req := &Request{Operation: op, ModelID: r.PathValue("modelId"), Path: r.URL.EscapedPath(), Authorization: auth}
	if err := json.Unmarshal(body, req); err != nil {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: "Malformed input request: " + err.Error()})
		return nil, Reply{}, false
	}
	msg := validate(req)
	if msg == "" {
		msg = s.validateGuardrail(req)
	}
	if msg != "" {
		writeError(w, &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: msg})
		return nil, Reply{}, false
	}
	if !s.opts.NoRecord {
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}
	reply, blocked := s.guard(req)
	if !blocked {
		reply = s.opts.Reply(req)
	}
	if reply.Error != nil {
		writeError(w, reply.Error)
		return nil, Reply{}, false
	}
	if reply.StopReason == "" && len(reply.ToolUses) > 0 {
		reply.StopReason = "tool_use"
	}
	if reply.StopReason == "" {
		reply.StopReason = "end_turn"
	}
	if reply.InputTokens == 0 {
		reply.InputTokens = countWords(req)
	}
	if reply.OutputTokens == 0 {
		reply.OutputTokens = len(reply.Tokens)
	}
	if reply.CacheReadTokens == 0 && reply.CacheWriteTokens == 0 {
		reply.CacheReadTokens, reply.CacheWriteTokens = s.cacheUsage(req)
	}
	return req, reply, true
}

// checkSigV4 checks that a request carries a SigV4 signature for the bedrock service;
// it does not verify the signature itself, which would need the secret key.
func checkSigV4(auth, date string) error {
	switch {
	case auth == "":
		return errors.New("missing Authorization header")
	case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="):
		return fmt.Errorf("authorization is not AWS4-HMAC-SHA256: %q", auth)
	case !strings.Contains(auth, "/bedrock/aws4_request"):
		return fmt.Errorf("credential scope is not for service bedrock: %q", auth)
	case !strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "Signature="):
		return fmt.Errorf("authorization lacks SignedHeaders or Signature: %q", auth)
	case date == "":
		return errors.New("missing X-Amz-Date header")
	}
	return nil
}

// validate applies a few of Bedrock's own checks, so a client bug shows as the
// ValidationException the real service would send.
func validate(req *Request) string {
	if req.ModelID == "" {
		return "modelId: must not be empty"
	}
	if len(req.Messages) == 0 {
		return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
	}
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return fmt.Sprintf("messages.%d.role: %q is not user or assistant", i, m.Role)
		}
		if len(m.Content) == 0 {
			return fmt.Sprintf("messages.%d.content: must not be empty", i)
		}
		for j, b := range m.Content {
			if b.Image != nil {
				switch b.Image.Format {
				case "png", "jpeg", "gif", "webp":
				default:
					return fmt.Sprintf("messages.%d.content.%d.image.format: %q is not png, jpeg, gif or webp", i, j, b.Image.Format)
				}
				if len(b.Image.Source.Bytes) == 0 {
					return fmt.Sprintf("messages.%d.content.%d.image.source.bytes: must not be empty", i, j)
				}
			}
		}
	}
	if msg := validateDocuments(req); msg != "" {
		return msg
	}
	if msg := validateTools(req); msg != "" {
		return msg
	}
	if msg := validateThinking(req); msg != "" {
		return msg
	}
	if msg := validateCache(req); msg != "" {
		return msg
	}
	return validateOutputConfig(req)
}

func countWords(req *Request) int {
	n := 0
	for _, b := range req.System {
		n += len(strings.Fields(b.Text))
	}
	for _, m := range req.Messages {
		for _, b := range m.Content {
			n += len(strings.Fields(b.Text))
		}
	}
	return n
}

func writeError(w http.ResponseWriter, e *APIError) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.Type)
	w.WriteHeader(e.Status)
	w.Write(body)
}

func (s *Server) handleConverse(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, reply, ok := s.begin(w, r, "Converse")
	if !ok {
		return
	}
	wait := s.opts.FirstTokenDelay
	if n := len(reply.Tokens); n > 1 {
		wait += time.Duration(n-1) * s.opts.TokenDelay
	}
	s.update(func(st *Stats) { st.Active++ })
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			s.update(func(st *Stats) { st.Active--; st.Canceled++ })
			return
		}
	}
	var resp converseResponse
	resp.Output.Message.Role = "assistant"
	if reply.Reasoning != nil {
		resp.Output.Message.Content = append(resp.Output.Message.Content, reasoningBlock(reply.Reasoning))
	}
	if text := strings.Join(reply.Tokens, ""); text != "" || len(reply.ToolUses) == 0 {
		resp.Output.Message.Content = append(resp.Output.Message.Content, ContentBlock{Text: text})
	}
	resp.Output.Message.Content = append(resp.Output.Message.Content, toolUseBlocks(reply.ToolUses)...)
	resp.StopReason = reply.StopReason
	resp.Usage = usageOf(reply)
	resp.Trace = reply.trace
	resp.Metrics.LatencyMs = time.Since(start).Milliseconds()
	body, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(body); err != nil {
		s.update(func(st *Stats) { st.Active--; st.Canceled++ })
		return
	}
	s.update(func(st *Stats) { st.Active--; st.Completed++ })
}

type converseResponse struct {
	Output struct {
		Message Message `json:"message"`
	} `json:"output"`
	StopReason string     `json:"stopReason"`
	Usage      tokenUsage `json:"usage"`
	Metrics    struct {
		LatencyMs int64 `json:"latencyMs"`
	} `json:"metrics"`
	Trace json.RawMessage `json:"trace,omitempty"` // guardrail.go
}

type tokenUsage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	TotalTokens           int `json:"totalTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
}

func usageOf(r Reply) tokenUsage {
	return tokenUsage{r.InputTokens, r.OutputTokens, r.InputTokens + r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens}
}

var encoders = sync.Pool{New: func() any { return eventstream.NewEncoder() }}

// eventWriter writes event-stream messages to a response, flushing after each so the
// client sees every token when it is sent.
type eventWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	enc     *eventstream.Encoder
	payload bytes.Buffer
	json    *json.Encoder // writes to payload
}

func newEventWriter(w http.ResponseWriter, enc *eventstream.Encoder) *eventWriter {
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: enc}
	ew.json = json.NewEncoder(&ew.payload)
	ew.json.SetEscapeHTML(false)
	return ew
}

func (e *eventWriter) write(msg eventstream.Message) error {
	if err := e.enc.Encode(e.w, msg); err != nil {
		return err
	}
	return e.rc.Flush()
}

// event sends an event whose JSON payload is v.
func (e *eventWriter) event(eventType string, v any) error {
	e.payload.Reset()
	if err := e.json.Encode(v); err != nil {
		return err
	}
	return e.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: bytes.TrimSuffix(e.payload.Bytes(), []byte("\n")),
	})
}

// exception sends an exception message, which ends the stream.
func (e *eventWriter) exception(exceptionType, message string) error {
	payload, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	return e.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(exceptionType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: payload,
	})
}

type (
	deltaEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Delta             struct {
			Text string `json:"text"`
		} `json:"delta"`
	}
	blockStopEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
	}
	roleEvent struct {
		Role string `json:"role"`
	}
	stopEvent struct {
		StopReason string `json:"stopReason"`
	}
	metadataEvent struct {
		Usage   tokenUsage `json:"usage"`
		Metrics struct {
			LatencyMs int64 `json:"latencyMs"`
		} `json:"metrics"`
		Trace json.RawMessage `json:"trace,omitempty"` // guardrail.go
	}
)

func (s *Server) handleConverseStream(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	_, reply, ok := s.begin(w, r, "ConverseStream")
	if !ok {
		return
	}
	ctx := r.Context()
	enc := encoders.Get().(*eventstream.Encoder)
	defer encoders.Put(enc)
	ew := newEventWriter(w, enc)

	s.update(func(st *Stats) { st.Active++ })
	outcome := func(st *Stats) { st.Canceled++ }
	defer func() {
		s.update(func(st *Stats) {
			st.Active--
			outcome(st)
		})
	}()

	hang, thaw := s.hangOf()
	hangAt := -1 // the token before which the stream hangs
	if hang != nil && !hang.BeforeHeaders {
		hangAt = hang.AfterTokens
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	if ew.event("messageStart", roleEvent{Role: "assistant"}) != nil {
		return
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		if d <= 0 {
			return ctx.Err() == nil
		}
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := s.opts.FailStream
	var delta deltaEvent
	if reply.Reasoning != nil {
		if streamReasoning(ew, reply.Reasoning) != nil {
			return
		}
		delta.ContentBlockIndex = 1
	}
	for i, tok := range reply.Tokens {
		d := s.opts.TokenDelay
		if i == 0 {
			d = s.opts.FirstTokenDelay
		}
		if i == hangAt && !s.hold(r, thaw) {
			return
		}
		if !sleep(d) {
			return
		}
		if fail != nil && i == fail.AfterTokens {
			outcome = func(st *Stats) { st.Failed++ }
			failStream(w, ew, fail)
			return
		}
		delta.Delta.Text = tok
		if ew.event("contentBlockDelta", &delta) != nil {
			return
		}
	}
	if hangAt >= len(reply.Tokens) && !s.hold(r, thaw) {
		return
	}
	if fail != nil && fail.AfterTokens >= len(reply.Tokens) {
		outcome = func(st *Stats) { st.Failed++ }
		failStream(w, ew, fail)
		return
	}
	var meta metadataEvent
	meta.Usage = usageOf(reply)
	meta.Trace = reply.trace
	meta.Metrics.LatencyMs = time.Since(start).Milliseconds()
	tools := delta.ContentBlockIndex // the content block index of the first tool call
	if len(reply.Tokens) > 0 || len(reply.ToolUses) == 0 {
		if ew.event("contentBlockStop", blockStopEvent{ContentBlockIndex: tools}) != nil {
			return
		}
		tools++
	}
	if streamToolCalls(ew, tools, reply.ToolUses) != nil ||
		ew.event("messageStop", stopEvent{StopReason: reply.StopReason}) != nil ||
		ew.event("metadata", &meta) != nil {
		return
	}
	outcome = func(st *Stats) { st.Completed++ }
}

// failStream breaks the stream as f says: an exception message, or a connection cut in
// the middle of an event frame (by a panic the http server recovers from).
func failStream(w http.ResponseWriter, ew *eventWriter, f *StreamFailure) {
	if f.Exception != "" {
		ew.exception(f.Exception, f.Message)
		return
	}
	// Half a frame, then abort: the client must not take the cut for a clean end.
	var frame bytes.Buffer
	ew.enc.Encode(&frame, eventstream.Message{
		Headers: eventstream.Headers{{Name: ":message-type", Value: eventstream.StringValue("event")}},
		Payload: []byte(`{"contentBlockIndex":0,"delta":{"text":"lost"}}`),
	})
	w.Write(frame.Bytes()[:frame.Len()/2])
	ew.rc.Flush()
	panic(http.ErrAbortHandler)
}
