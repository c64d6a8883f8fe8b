// Package openaitest runs an in-process server that speaks OpenAI's chat completions
// and embeddings protocols on the wire — JSON answers, server-sent-event streams ending in "data: [DONE]",
// a final usage chunk, OpenAI-shaped errors, tool calls and structured answers (tools.go)
// — so that tests can drive the official client, or anything else that talks to Ollama,
// vLLM or OpenAI, without a model.
//
// A test starts a Server with a Config saying how it should answer and fail, points a
// client at Server.URL, then inspects what arrived with Server.Requests and whether the
// client hung up with Server.Canceled (Config.Hang and Server.SetHang freeze it, to test
// clients' deadlines):
//
//	srv := openaitest.New(openaitest.Config{TokenDelay: 10 * time.Millisecond})
//	defer srv.Close()
//	model := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "test-model"})
package openaitest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"genai/internal/watch"
)

// FailMode says how a Server breaks a response part way.
type FailMode int

// The ways to fail part way through an answer.
const (
	// FailNone answers in full.
	FailNone FailMode = iota
	// FailError sends an SSE event holding an OpenAI error object, as OpenAI does when a
	// stream fails server-side, and ends the response without "data: [DONE]". A
	// non-streamed request gets a 500 with the same error instead.
	FailError
	// FailCut drops the connection without finishing the response.
	FailCut
)

// Config says how a Server answers. The zero value echoes the last user message word by
// word, at once, with no failures and no API key.
type Config struct {
	// Reply returns the tokens of the answer to req, sent one chunk each. Nil (with a nil
	// Answer) answers EchoAnswer: tool calls and results as ToolReply does, JSON as
	// JSONReply does, else the text of the last user message split after each space.
	Reply func(req *ChatRequest) []string
	// Answer, when set, answers each chat request instead of Reply: text tokens and tool
	// calls (tools.go).
	Answer func(req *ChatRequest) Answer

	// FirstTokenDelay is the wait before the first token and TokenDelay the wait between
	// tokens. A streamed response sends its headers before the first wait, as real
	// servers do. Give a delay when testing cancellation: without one the whole answer
	// may already sit in socket buffers when the client hangs up.
	FirstTokenDelay time.Duration
	TokenDelay      time.Duration

	// Throttle fails the first Throttle chat requests, and the first Throttle embeddings
	// requests (counted apart), with 429 Too Many Requests, with
	// headers Retry-After (whole seconds, rounded up) and Retry-After-Ms carrying
	// RetryAfter, which defaults to 10ms so that clients retry quickly in tests.
	Throttle   int
	RetryAfter time.Duration

	// Fail breaks each answer after FailAfter tokens have been sent.
	Fail      FailMode
	FailAfter int

	// Reject, when set and returning a non-zero status, fails a chat request with that
	// status and an OpenAI error object holding message, after throttling.
	Reject func(req *ChatRequest) (status int, message string)

	// APIKey, when set, is required as "Authorization: Bearer <APIKey>"; any other
	// request gets 401 with OpenAI's invalid_api_key error.
	APIKey string

	// Models are listed by GET /v1/models; nil lists "test-model".
	Models []string

	// EmbeddingDimensions is the length of the vectors POST /v1/embeddings answers
	// when a request sets no dimensions; zero means DefaultEmbeddingDimensions.
	EmbeddingDimensions int
	// Embed, when set, makes the vector of each input instead of Embedding.
	Embed func(req *EmbeddingRequest, input string) []float32
	// EmbeddingsReversed answers the data of an embeddings request last input first,
	// each with its right index, as the protocol allows: clients must go by the index.
	EmbeddingsReversed bool

	// Hang, when set, makes requests hang as it says (hang.go); Server.SetHang changes it
	// while the server runs.
	Hang *Hang

	// NoRecord stops the server from keeping each chat request, for long load tests;
	// Requests then returns none.
	NoRecord bool
}

// Server is a running test server. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API root to configure clients with, such as "http://127.0.0.1:4321/v1".
	URL string

	cfg            Config
	http           *httptest.Server
	chatCalls      atomic.Int64
	embeddingCalls atomic.Int64
	ids            atomic.Int64
	canceled       chan struct{}
	hangs          hangState

	stats watch.Value[Stats]

	mu                sync.Mutex
	requests          []*ChatRequest
	embeddingRequests []*EmbeddingRequest
}

// New starts a Server with cfg. Call Close when done.
func New(cfg Config) *Server {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 10 * time.Millisecond
	}
	if cfg.Models == nil {
		cfg.Models = []string{"test-model"}
	}
	if cfg.EmbeddingDimensions <= 0 {
		cfg.EmbeddingDimensions = DefaultEmbeddingDimensions
	}
	s := &Server{cfg: cfg, canceled: make(chan struct{}, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("POST /v1/embeddings", s.handleEmbeddings)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "unknown_url",
			fmt.Sprintf("Unknown request URL: %s %s", r.Method, r.URL.Path))
	})
	s.hangs.hang = cfg.Hang
	s.http = httptest.NewServer(s.hangBeforeHeaders(mux))
	s.URL = s.http.URL + "/v1"
	return s
}

// Close shuts the server down, closing any connections still open.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

// Requests returns the chat requests received so far, in order of arrival, including
// those that were throttled, rejected or unauthorized.
func (s *Server) Requests() []*ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*ChatRequest(nil), s.requests...)
}

// Canceled receives a value each time a client goes away before its chat response was
// complete: the request's context was done, or writing to it failed. It holds up to 64
// notices; more are dropped.
func (s *Server) Canceled() <-chan struct{} { return s.canceled }

func (s *Server) noteCanceled() {
	select {
	case s.canceled <- struct{}{}:
	default:
	}
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.APIKey == "" || r.Header.Get("Authorization") == "Bearer "+s.cfg.APIKey {
		return true
	}
	writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
		"Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
	return false
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	list := modelList{Object: "list"}
	for _, id := range s.cfg.Models {
		list.Data = append(list.Data, modelInfo{ID: id, Object: "model", Created: 1700000000, OwnedBy: "openaitest"})
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request: "+err.Error())
		return
	}
	if !s.cfg.NoRecord {
		req.Header = r.Header.Clone()
		s.mu.Lock()
		s.requests = append(s.requests, &req)
		s.mu.Unlock()
	}

	if !s.authorized(w, r) {
		return
	}
	if s.chatCalls.Add(1) <= int64(s.cfg.Throttle) {
		ra := s.cfg.RetryAfter
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(ra.Milliseconds(), 10))
		writeError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later.")
		return
	}
	if req.Model == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'messages' must contain at least one message")
		return
	}
	if msg, param := validate(&req); msg != "" {
		writeErrorParam(w, http.StatusBadRequest, "invalid_request_error", "", msg, param)
		return
	}
	if s.cfg.Reject != nil {
		if status, msg := s.cfg.Reject(&req); status != 0 {
			writeError(w, status, "invalid_request_error", "", msg)
			return
		}
	}

	id := fmt.Sprintf("chatcmpl-%d", s.ids.Add(1))
	a := s.answer(&req)
	if req.ParallelToolCalls != nil && !*req.ParallelToolCalls && len(a.ToolCalls) > 1 {
		a.ToolCalls = a.ToolCalls[:1]
	}
	calls := make([]ToolCall, len(a.ToolCalls))
	for k, c := range a.ToolCalls {
		if c.ID == "" {
			c.ID = fmt.Sprintf("call_%s_%d", strings.TrimPrefix(id, "chatcmpl-"), k)
		}
		if c.Type == "" {
			c.Type = "function"
		}
		calls[k] = c
	}
	tokens := a.Tokens
	finish := "stop"
	if len(calls) > 0 {
		finish = "tool_calls"
	}
	limit := req.MaxCompletionTokens
	if limit == nil {
		limit = req.MaxTokens
	}
	if limit != nil && *limit < len(tokens) {
		tokens, calls, finish = tokens[:*limit], nil, "length"
	} else if d := toolCallDeltas(calls); limit != nil && *limit < len(tokens)+len(d) {
		// The limit falls in the calls: they are cut there, arguments and all.
		calls, finish = callsOf(d[:*limit-len(tokens)]), "length"
	}
	// A token per text token and per streamed piece of a tool call.
	u := usage{PromptTokens: promptTokens(&req), CompletionTokens: len(tokens) + len(toolCallDeltas(calls))}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens

	if req.Stream {
		s.stream(w, r, &req, id, tokens, calls, finish, u)
	} else {
		s.complete(w, r, &req, id, tokens, calls, finish, u)
	}
}

func (s *Server) answer(req *ChatRequest) Answer {
	switch {
	case s.cfg.Answer != nil:
		return s.cfg.Answer(req)
	case s.cfg.Reply != nil:
		return Answer{Tokens: s.cfg.Reply(req)}
	}
	return EchoAnswer(req)
}

// promptTokens counts one token per whitespace-separated word of every text part and one
// per image part, a stand-in that tests can compute.
func promptTokens(req *ChatRequest) int {
	n := 0
	for _, m := range req.Messages {
		for _, p := range m.Content {
			switch p.Type {
			case "text":
				n += len(strings.Fields(p.Text))
			case "image_url":
				n++
			}
		}
	}
	return n
}

// wait sleeps for d unless the request is canceled first; it reports whether the
// request is still live.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	if r.Context().Err() != nil {
		s.noteCanceled()
		return false
	}
	return true
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, req *ChatRequest, id string, tokens []string, calls []ToolCall, finish string, u usage) {
	s.stats.Update(func(st *Stats) { st.ActiveStreams++ })
	defer s.stats.Update(func(st *Stats) { st.ActiveStreams-- })
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		s.noteCanceled()
		return
	}
	// send writes one event and flushes it, so that each token reaches the client as
	// soon as it is "generated".
	send := func(v any) bool {
		b, err := json.Marshal(v)
		if err == nil {
			_, err = fmt.Fprintf(w, "data: %s\n\n", b)
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			s.noteCanceled()
			return false
		}
		return true
	}
	base := chunk{ID: id, Object: "chat.completion.chunk", Created: time.Now().Unix(), Model: req.Model}

	if !s.wait(r, s.cfg.FirstTokenDelay) {
		return
	}
	hangAt, thaw := s.hangAt()
	for i := 0; ; i++ {
		if i == min(hangAt, len(tokens)) && !s.hold(r, thaw) {
			return
		}
		if s.cfg.Fail != FailNone && i == s.cfg.FailAfter {
			s.failStream(w, send)
			return
		}
		if i == len(tokens) {
			break
		}
		if i > 0 && !s.wait(r, s.cfg.TokenDelay) {
			return
		}
		c := base
		c.Choices = []chunkChoice{{Delta: delta{Content: tokens[i]}}}
		if i == 0 {
			c.Choices[0].Delta.Role = "assistant"
		}
		if !send(c) {
			return
		}
	}
	for k, d := range toolCallDeltas(calls) {
		if (len(tokens) > 0 || k > 0) && !s.wait(r, s.cfg.TokenDelay) {
			return
		}
		c := base
		c.Choices = []chunkChoice{{Delta: delta{ToolCalls: d}}}
		var v any = c
		if len(tokens) == 0 && k == 0 {
			v = firstToolChunk{ID: base.ID, Object: base.Object, Created: base.Created, Model: base.Model,
				Choices: []firstToolChoice{{Delta: firstToolDelta{Role: "assistant", ToolCalls: d}}}}
		}
		if !send(v) {
			return
		}
	}
	c := base
	c.Choices = []chunkChoice{{FinishReason: &finish}}
	if !send(c) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		c := base
		c.Choices, c.Usage = []chunkChoice{}, &u
		if !send(c) {
			return
		}
	}
	if _, err := fmt.Fprint(w, "data: [DONE]\n\n"); err != nil || rc.Flush() != nil {
		s.noteCanceled()
	}
}

func (s *Server) failStream(w http.ResponseWriter, send func(any) bool) {
	if s.cfg.Fail == FailCut {
		// The server closes the connection without the final chunk of the chunked
		// encoding, so the client sees the body end early: a cut connection.
		panic(http.ErrAbortHandler)
	}
	code := "server_error"
	send(apiError{Error: apiErrorBody{Message: "The server had an error while processing your request.", Type: "server_error", Code: &code}})
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, req *ChatRequest, id string, tokens []string, calls []ToolCall, finish string, u usage) {
	delay := s.cfg.FirstTokenDelay
	if len(tokens) > 1 {
		delay += time.Duration(len(tokens)-1) * s.cfg.TokenDelay
	}
	if !s.wait(r, delay) {
		return
	}
	if hangAt, thaw := s.hangAt(); hangAt >= 0 && !s.hold(r, thaw) {
		return
	}
	switch s.cfg.Fail {
	case FailCut:
		panic(http.ErrAbortHandler)
	case FailError:
		writeError(w, http.StatusInternalServerError, "server_error", "server_error", "The server had an error while processing your request.")
		return
	}
	msg := completionMessage{Role: "assistant", ToolCalls: calls}
	if text := strings.Join(tokens, ""); text != "" || len(calls) == 0 {
		msg.Content = &text
	}
	writeJSON(w, http.StatusOK, completion{
		ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
		Choices: []completionChoice{{
			Message:      msg,
			FinishReason: finish,
		}},
		Usage: u,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, code, message string) {
	writeErrorParam(w, status, typ, code, message, "")
}

// writeErrorParam writes an OpenAI error object whose param names the field at fault.
func writeErrorParam(w http.ResponseWriter, status int, typ, code, message, param string) {
	body := apiErrorBody{Message: message, Type: typ}
	if code != "" {
		body.Code = &code
	}
	if param != "" {
		body.Param = &param
	}
	writeJSON(w, status, apiError{Error: body})
}
