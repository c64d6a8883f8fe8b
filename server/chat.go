package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"

	"genai"
	"genai/agent"
)

// noProviderMessage is the fix a user needs when chat has no model behind it.
const noProviderMessage = "no model provider is configured: set GENAI_PROVIDER=bedrock with AWS credentials " +
	"(AWS_REGION, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or GENAI_OPENAI_BASE_URL " +
	"(for Ollama: http://localhost:11434/v1) for an OpenAI-compatible endpoint"

// readBody reads a JSON request body of at most MaxBodyBytes, within the body deadline
// set by bodyDeadline.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := contentTypeIs(r, "application/json"); err != nil {
		return nil, err
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return nil, genai.Errorf(genai.ETOOLARGE, "body: %d bytes, over the limit of %d", r.ContentLength, s.opts.MaxBodyBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, genai.Errorf(genai.ETOOLARGE, "body: over the limit of %d bytes", s.opts.MaxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		return nil, genai.Errorf(genai.ETIMEOUT, "body: not received within %s", s.opts.BodyReadTimeout)
	case err != nil:
		w.Header().Set("Connection", "close")
		return nil, genai.Errorf(genai.EINVALID, "body: could not be read: %v", err)
	}
	return data, nil
}

// parseChat reads, decodes and completes a chat request with the configured defaults.
func (s *Server) parseChat(w http.ResponseWriter, r *http.Request) (*genai.ChatRequest, bool, error) {
	if s.opts.Chat == nil {
		return nil, false, genai.Errorf(genai.ENOPROVIDER, "%s", noProviderMessage)
	}
	data, err := s.readBody(w, r)
	if err != nil {
		return nil, false, err
	}
	req, stream, err := genai.ParseChatRequest(data)
	if err != nil {
		return nil, false, err
	}
	if req.Model == "" {
		req.Model = s.opts.ChatModel
	}
	if req.MaxTokens == 0 {
		// Thinking counts towards the limit: the default answer's room comes on top.
		req.MaxTokens = s.opts.MaxTokens + req.ThinkingBudget
	}
	return req, stream, nil
}

// chatResponse is the answer of POST /api/chat with "stream": false.
type chatResponse struct {
	ID         string      `json:"id"`
	Model      string      `json:"model"`
	Content    []any       `json:"content"` // textContent and toolUseContent
	StopReason string      `json:"stop_reason"`
	Usage      genai.Usage `json:"usage"`
}

type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// thinkingContent and redactedThinkingContent are the model's reasoning in Anthropic's
// shape; a client sends them back as they came (the redacted data is base64).
type thinkingContent struct {
	Type      string `json:"type"` // "thinking"
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

type redactedThinkingContent struct {
	Type string `json:"type"` // "redacted_thinking"
	Data string `json:"data"`
}

type toolUseContent struct {
	Type  string          `json:"type"` // "tool_use"
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// answerContent is the content of a whole answer in Anthropic's shape: its text and
// tool_use blocks in order, or one text block when the provider gave only text.
func answerContent(resp *genai.ChatResponse) []any {
	if len(resp.Content) == 0 {
		return []any{textContent{"text", resp.Text}}
	}
	out := make([]any, 0, len(resp.Content))
	for _, b := range resp.Content {
		switch b.Type {
		case genai.BlockText:
			out = append(out, textContent{"text", b.Text})
		case genai.BlockToolUse:
			out = append(out, toolUseContent{"tool_use", b.ToolUse.ID, b.ToolUse.Name, b.ToolUse.Input})
		case genai.BlockThinking:
			out = append(out, thinkingBlockContent(b.Thinking))
		}
	}
	return out
}

// thinkingBlockContent is a thinking block in Anthropic's shape.
func thinkingBlockContent(t *genai.Thinking) any {
	if t.Redacted != nil {
		return redactedThinkingContent{"redacted_thinking", base64.StdEncoding.EncodeToString(t.Redacted)}
	}
	return thinkingContent{"thinking", t.Text, t.Signature}
}

// thinkingEvent is a piece of the model's reasoning on /api/chat's stream: text, or the
// signature that ends the block, or a whole redacted block.
type thinkingEvent struct {
	Text      string `json:"text,omitempty"`
	Signature string `json:"signature,omitempty"`
	Redacted  string `json:"redacted,omitempty"`
}

// The events of a streamed tool call: its start, pieces of its input JSON, its end with
// the whole input.
type (
	toolUseEvent struct {
		Index int    `json:"index"`
		ID    string `json:"id"`
		Name  string `json:"name"`
	}
	toolInputEvent struct {
		Index       int    `json:"index"`
		PartialJSON string `json:"partial_json"`
	}
	toolUseEndEvent struct {
		Index int             `json:"index"`
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
)

// toolResultEvent is the result of a tool the server ran itself.
type toolResultEvent struct {
	ToolUseID string `json:"tool_use_id"`
	IsError   bool   `json:"is_error"`
	Content   []any  `json:"content"`
}

// resultContent is a tool result's content in Anthropic's shape: text blocks, and
// images noted by their type and size (a client that wants them asks the tool itself).
func resultContent(blocks []genai.ContentBlock) []any {
	out := make([]any, 0, len(blocks))
	for _, b := range blocks {
		switch b.Type {
		case genai.BlockText:
			out = append(out, textContent{"text", b.Text})
		case genai.BlockImage:
			out = append(out, textContent{"text", fmt.Sprintf("[%s image, %d bytes]", b.Image.Format, len(b.Image.Data))})
		}
	}
	return out
}

// toolEvent returns the SSE event of a streamed tool call step.
func toolEvent(t *genai.ToolUseEvent) (string, any) {
	switch {
	case t.Done:
		return "tool_use_end", toolUseEndEvent{t.Index, t.ID, t.Name, t.Input}
	case t.ID != "":
		return "tool_use", toolUseEvent{t.Index, t.ID, t.Name}
	default:
		return "tool_input", toolInputEvent{t.Index, t.InputDelta}
	}
}

type startEvent struct {
	ID    string `json:"id"`
	Model string `json:"model"`
}

type deltaEvent struct {
	Text string `json:"text"`
}

// deltaHead and deltaTail surround a delta event's text, a JSON string: the event
// deltaEvent marshals to, written per token without marshalling it.
var deltaHead, deltaTail = []byte("event: delta\ndata: {\"text\":"), []byte("}")

type doneEvent struct {
	StopReason string      `json:"stop_reason"`
	Usage      genai.Usage `json:"usage"`
}

// modelFor returns the model that answers req: the provider, or, when req turns on
// server tools, an agent that runs them with the provider.
func (s *Server) modelFor(req *genai.ChatRequest) (genai.ChatModel, error) {
	if len(req.ServerTools) == 0 {
		return s.opts.Chat, nil
	}
	a := &agent.Agent{Model: s.opts.Chat, MaxSteps: s.opts.AgentMaxSteps, ToolTimeout: s.opts.AgentToolTimeout}
	for i, group := range req.ServerTools {
		tools, ok := s.opts.ServerTools[group]
		if !ok {
			return nil, genai.Errorf(genai.EINVALID, "server_tools[%d]: this server has no tools %q; it has %s", i, group, s.serverToolNames())
		}
		a.Tools = append(a.Tools, tools()...)
	}
	return a, nil
}

// serverToolNames lists the groups of ServerTools, for error messages.
func (s *Server) serverToolNames() string {
	names := slices.Sorted(maps.Keys(s.opts.ServerTools))
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// noServerTools refuses server tools on a route that cannot show their work.
func noServerTools(req *genai.ChatRequest, route string) error {
	if len(req.ServerTools) > 0 {
		return genai.Errorf(genai.EINVALID, "server_tools: not taken by %s; use POST /api/chat", route)
	}
	return nil
}

// chat serves POST /api/chat: a streamed (SSE) or whole answer.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	req, stream, err := s.parseChat(w, r)
	var model genai.ChatModel
	if err == nil {
		model, err = s.modelFor(req)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := newID("chat_")
	call := s.metrics.startCall(s.opts.Provider, s.modelLabel(req.Model))
	if !stream {
		resp, err := model.Chat(r.Context(), req)
		call.finish(err, usageOf(resp))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, chatResponse{
			ID: id, Model: resp.Model, Content: answerContent(resp),
			StopReason: resp.StopReason, Usage: resp.Usage,
		})
		return
	}

	var sse *sseWriter
	var usage genai.Usage
	defer func() { call.finish(err, usage) }()
	for ev, evErr := range model.Stream(r.Context(), req) {
		if evErr != nil {
			err = evErr
			break
		}
		if sse == nil {
			// Headers wait for the first event, so an error before it is an ordinary
			// HTTP error with its status (a 429 with Retry-After, say).
			sse = s.newSSEWriter(w, r)
			defer sse.close()
			if err = sse.eventHeld("start", startEvent{ID: id, Model: req.Model}); err != nil {
				return
			}
		}
		if ev.Done {
			usage = ev.Usage
			sse.ending()
			err = sse.event("done", doneEvent{StopReason: ev.StopReason, Usage: ev.Usage})
			return
		}
		if len(ev.Citations) > 0 {
			if err = sse.event("citations", citationsEvent{Citations: ev.Citations}); err != nil {
				return
			}
		}
		if t := ev.Thinking; t != nil {
			call.firstToken()
			te := thinkingEvent{Text: t.Text, Signature: t.Signature}
			if t.Redacted != nil {
				te.Redacted = base64.StdEncoding.EncodeToString(t.Redacted)
			}
			if err = sse.event("thinking", te); err != nil {
				return
			}
			continue
		}
		if ev.ToolUse != nil {
			call.firstToken()
			name, body := toolEvent(ev.ToolUse)
			if err = sse.event(name, body); err != nil {
				return
			}
			continue
		}
		if t := ev.ToolResult; t != nil {
			if err = sse.event("tool_result", toolResultEvent{t.ToolUseID, t.IsError, resultContent(t.Content)}); err != nil {
				return
			}
			continue
		}
		if ev.Text == "" {
			continue
		}
		call.firstToken()
		if err = sse.textEvent(deltaHead, ev.Text, deltaTail); err != nil {
			return // the client went away; leaving the loop cancels the upstream call
		}
	}
	if err == nil {
		err = genai.Errorf(genai.EUPSTREAM, "the model's stream ended without a stop event")
	}
	if sse == nil {
		s.writeError(w, r, err)
		return
	}
	sse.ending()
	sse.event("error", errorBody{Error: s.errorDetailOf(r, err)})
}

// chatText serves the workshop's backends: the answer's text streamed as plain chunked
// text. A failure after the first byte cannot be reported in-band, so the response is
// cut and the client sees an incomplete body rather than a falsely complete answer.
func (s *Server) chatText(w http.ResponseWriter, r *http.Request) {
	req, _, err := s.parseChat(w, r)
	if err == nil {
		err = noServerTools(req, r.URL.Path)
	}
	if err == nil && req.UsesTools() {
		// Plain text has no place for a tool call: refused rather than dropped.
		err = genai.Errorf(genai.EINVALID, "tools: not supported on this route, which answers plain text; use POST /api/chat")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	call := s.metrics.startCall(s.opts.Provider, s.modelLabel(req.Model))
	var usage genai.Usage
	defer func() { call.finish(err, usage) }()
	rc := http.NewResponseController(w)
	started := false
	for ev, evErr := range s.opts.Chat.Stream(r.Context(), req) {
		if evErr != nil {
			err = evErr
			break
		}
		if ev.Done {
			usage = ev.Usage
			return
		}
		if !started {
			streamHeaders(w.Header(), "text/plain; charset=utf-8")
			started = true
		}
		call.firstToken()
		if _, err = io.WriteString(w, ev.Text); err != nil {
			return
		}
		if err = rc.Flush(); err != nil {
			return
		}
	}
	if err == nil {
		err = genai.Errorf(genai.EUPSTREAM, "the model's stream ended without a stop event")
	}
	if !started {
		s.writeError(w, r, err)
		return
	}
	s.log.WarnContext(r.Context(), "stream failed after it started; cutting the response", "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler)
}

func usageOf(resp *genai.ChatResponse) genai.Usage {
	if resp == nil {
		return genai.Usage{}
	}
	return resp.Usage
}

// modelLabel bounds the metrics' model label to the configured models, so a client
// cannot grow the metric set without bound by naming random models.
func (s *Server) modelLabel(model string) string {
	for _, m := range s.opts.ChatModels {
		if m == model {
			return model
		}
	}
	return "other"
}

// newID returns prefix followed by 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
