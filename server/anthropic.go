package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	_ "image/gif" // image.DecodeConfig reads the sizes of the formats chat takes
	_ "image/jpeg"
	_ "image/png"
	"net/http"
	"strings"

	"genai"
	"genai/rag"
)

// This file serves the Anthropic Messages API, POST /v1/messages and
// /v1/messages/count_tokens, so that Anthropic's SDKs and tools built on them work with
// their base URL pointed here, whatever the configured provider. The request is the
// format /api/chat takes (Anthropic's own); the answers and errors are Anthropic's
// shapes, streams Anthropic's exact event sequence.

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
}

func usageAnthropic(u genai.Usage) anthropicUsage {
	return anthropicUsage{u.InputTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWriteTokens}
}

type anthropicMessage struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []any           `json:"content"` // textContent and toolUseContent
	StopReason   *string         `json:"stop_reason"`
	StopSequence *string         `json:"stop_sequence"`
	Usage        *anthropicUsage `json:"usage"`
}

// anthropicErrorBody is Anthropic's error shape: {"type":"error","error":{"type","message"}}.
type anthropicErrorBody struct {
	Type  string         `json:"type"`
	Error anthropicError `json:"error"`
}

type anthropicError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// anthropicErrorType maps a code to the type of Anthropic's error object.
func anthropicErrorType(code string) string {
	switch code {
	case genai.EINVALID, genai.EMEDIATYPE:
		return "invalid_request_error"
	case genai.ETOOLARGE:
		return "request_too_large"
	case genai.EUNAUTH:
		return "authentication_error"
	case genai.EFORBIDDEN:
		return "permission_error"
	case genai.ENOTFOUND:
		return "not_found_error"
	case genai.ERATELIMIT, genai.ETHROTTLED:
		return "rate_limit_error"
	case genai.EUNAVAILABLE, genai.ENOPROVIDER:
		return "overloaded_error"
	}
	return "api_error"
}

// isAnthropicPath reports whether path is of the Anthropic Messages API.
func isAnthropicPath(path string) bool {
	return path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/")
}

// parseMessages reads a Messages API request: /api/chat's format, with model and
// max_tokens required as Anthropic requires them.
func (s *Server) parseAnthropic(w http.ResponseWriter, r *http.Request) (*genai.ChatRequest, bool, error) {
	data, err := s.readBody(w, r)
	if err != nil {
		return nil, false, err
	}
	req, stream, err := genai.ParseChatRequest(data)
	if err != nil {
		return nil, false, err
	}
	var required struct {
		Model     *string  `json:"model"`
		MaxTokens *float64 `json:"max_tokens"`
		Stream    *bool    `json:"stream"`
	}
	genai.DecodeJSON(data, &required)
	switch {
	case required.Model == nil || *required.Model == "":
		return nil, false, genai.Errorf(genai.EINVALID, "model: required")
	case required.MaxTokens == nil:
		return nil, false, genai.Errorf(genai.EINVALID, "max_tokens: required")
	}
	// The Messages API streams only when asked; /api/chat streams by default.
	stream = stream && required.Stream != nil
	return req, stream, nil
}

// anthropicMessages serves POST /v1/messages.
func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	if s.opts.Chat == nil {
		s.writeError(w, r, genai.Errorf(genai.ENOPROVIDER, "%s", noProviderMessage))
		return
	}
	req, stream, err := s.parseAnthropic(w, r)
	if err == nil {
		err = noServerTools(req, "/v1/messages")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := newID("msg_")
	call := s.metrics.startCall(s.opts.Provider, s.modelLabel(req.Model))
	if !stream {
		resp, err := s.opts.Chat.Chat(r.Context(), req)
		call.finish(err, usageOf(resp))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		stop := anthropicStopReason(resp.StopReason)
		writeJSON(w, http.StatusOK, anthropicMessage{
			ID: id, Type: "message", Role: "assistant", Model: req.Model,
			Content: answerContent(resp), StopReason: &stop,
			Usage: new(usageAnthropic(resp.Usage)),
		})
		return
	}

	var sse *sseWriter
	var usage genai.Usage
	defer func() { call.finish(err, usage) }()
	blocks := anthropicBlocks{}
	for ev, evErr := range s.opts.Chat.Stream(r.Context(), req) {
		if evErr != nil {
			err = evErr
			break
		}
		if sse == nil {
			sse = s.newSSEWriter(w, r)
			defer sse.close()
			blocks.sse = sse
			start := struct {
				Type    string           `json:"type"`
				Message anthropicMessage `json:"message"`
			}{"message_start", anthropicMessage{ID: id, Type: "message", Role: "assistant", Model: req.Model,
				Content: []any{}, Usage: &anthropicUsage{}}}
			if err = sse.eventHeld("message_start", start); err != nil {
				return
			}
			if err = sse.eventHeld("ping", typedEvent{"ping"}); err != nil {
				return
			}
		}
		if ev.Done {
			usage = ev.Usage
			sse.ending()
			if err = blocks.close(); err != nil {
				return
			}
			if err = sse.eventHeld("message_delta", anthropicMessageDelta{"message_delta", anthropicStop{StopReason: anthropicStopReason(ev.StopReason)},
				usageAnthropic(ev.Usage)}); err != nil {
				return
			}
			err = sse.event("message_stop", typedEvent{"message_stop"})
			return
		}
		if ev.ToolUse == nil && ev.Thinking == nil && ev.Text == "" {
			continue
		}
		call.firstToken()
		if err = blocks.add(ev); err != nil {
			return
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
	sse.event("error", s.errorPayload(r, s.errorDetailOf(r, err)))
}

// The events of Anthropic's stream.
type (
	typedEvent struct {
		Type string `json:"type"`
	}
	anthropicBlockStart struct {
		Type         string `json:"type"`
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}
	anthropicDelta struct {
		Type        string  `json:"type"` // text_delta, input_json_delta, thinking_delta or signature_delta
		Text        string  `json:"text,omitempty"`
		PartialJSON string  `json:"partial_json,omitempty"`
		Thinking    *string `json:"thinking,omitempty"`
		Signature   *string `json:"signature,omitempty"`
	}
	anthropicBlockDelta struct {
		Type  string         `json:"type"`
		Index int            `json:"index"`
		Delta anthropicDelta `json:"delta"`
	}
	anthropicBlockStop struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	anthropicStop struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	anthropicMessageDelta struct {
		Type  string         `json:"type"`
		Delta anthropicStop  `json:"delta"`
		Usage anthropicUsage `json:"usage"`
	}
)

// anthropicBlocks writes the content blocks of a streamed answer in Anthropic's
// sequence: each block started, its deltas, then stopped, text and tool_use blocks
// numbered in order.
type anthropicBlocks struct {
	sse  *sseWriter
	next int    // index of the next block
	open string // "text", "tool_use" or "" for none
}

func (b *anthropicBlocks) start(kind string, block any) error {
	if err := b.close(); err != nil {
		return err
	}
	b.open = kind
	return b.sse.eventHeld("content_block_start", anthropicBlockStart{"content_block_start", b.next, block})
}

func (b *anthropicBlocks) close() error {
	if b.open == "" {
		return nil
	}
	b.open = ""
	b.next++
	return b.sse.eventHeld("content_block_stop", anthropicBlockStop{"content_block_stop", b.next - 1})
}

// add writes what ev brings: text, a piece of thinking, or a step of a tool call.
func (b *anthropicBlocks) add(ev genai.Event) error {
	if t := ev.Thinking; t != nil {
		if t.Redacted != nil {
			if err := b.start("redacted_thinking", redactedThinkingContent{"redacted_thinking", base64.StdEncoding.EncodeToString(t.Redacted)}); err != nil {
				return err
			}
			return b.close()
		}
		if b.open != "thinking" {
			if err := b.start("thinking", thinkingContent{"thinking", "", ""}); err != nil {
				return err
			}
		}
		if t.Text != "" {
			if err := b.sse.event("content_block_delta", anthropicBlockDelta{"content_block_delta", b.next, anthropicDelta{Type: "thinking_delta", Thinking: &t.Text}}); err != nil {
				return err
			}
		}
		if t.Signature == "" {
			return nil
		}
		if err := b.sse.event("content_block_delta", anthropicBlockDelta{"content_block_delta", b.next, anthropicDelta{Type: "signature_delta", Signature: &t.Signature}}); err != nil {
			return err
		}
		return b.close()
	}
	if t := ev.ToolUse; t != nil {
		switch {
		case t.Done:
			return b.close()
		case t.ID != "":
			return b.start("tool_use", toolUseContent{"tool_use", t.ID, t.Name, json.RawMessage("{}")})
		default:
			return b.sse.event("content_block_delta", anthropicBlockDelta{"content_block_delta", b.next, anthropicDelta{Type: "input_json_delta", PartialJSON: t.InputDelta}})
		}
	}
	if b.open != "text" {
		if err := b.start("text", textContent{"text", ""}); err != nil {
			return err
		}
	}
	return b.sse.event("content_block_delta", anthropicBlockDelta{"content_block_delta", b.next, anthropicDelta{Type: "text_delta", Text: ev.Text}})
}

// TokenCountHeader says how /v1/messages/count_tokens counted: TokenCountProvider when
// the provider counted with the model's tokenizer (Bedrock's CountTokens),
// TokenCountEstimate when the server estimated (another provider, or a model the
// provider does not count for).
const (
	TokenCountHeader   = "Genai-Token-Count"
	TokenCountProvider = "provider"
	TokenCountEstimate = "estimate"
)

// anthropicCountTokens serves POST /v1/messages/count_tokens: the provider's count when
// it counts tokens for the model (Options.TokenCounter), else an estimate. A provider's
// failure other than "this model is not counted" is the answer's error, not hidden
// behind an estimate.
func (s *Server) anthropicCountTokens(w http.ResponseWriter, r *http.Request) {
	data, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, _, err := genai.ParseChatRequest(data)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if tc := s.opts.TokenCounter; tc != nil {
		n, err := tc.CountTokens(r.Context(), req)
		switch {
		case err == nil:
			w.Header().Set(TokenCountHeader, TokenCountProvider)
			writeJSON(w, http.StatusOK, map[string]int{"input_tokens": n})
			return
		case !errors.Is(err, genai.ErrCountUnsupported):
			s.writeError(w, r, err)
			return
		}
		s.log.DebugContext(r.Context(), "count_tokens: estimated", "model", req.Model, "reason", err)
	}
	w.Header().Set(TokenCountHeader, TokenCountEstimate)
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": estimateTokens(req)})
}

// estimateTokens estimates a request's input tokens where no tokenizer is at hand: text
// as the knowledge base's chunker counts tokens, and each image as Anthropic documents
// images cost, width × height / 750.
func estimateTokens(req *genai.ChatRequest) int {
	n := rag.EstimateTokens(req.System)
	for _, m := range req.Messages {
		for _, b := range m.Content {
			switch b.Type {
			case genai.BlockText:
				n += rag.EstimateTokens(b.Text)
			case genai.BlockImage:
				n += imageTokens(b.Image)
			}
		}
	}
	return n
}

// imageTokens estimates an image's tokens as Anthropic documents them, from its size;
// an image whose size cannot be read (webp) counts as the largest that is not scaled
// down, about 1600 tokens.
func imageTokens(im *genai.Image) int {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(im.Data))
	if err != nil {
		return 1600
	}
	return min(1600, max(1, cfg.Width*cfg.Height/750))
}

// anthropicStopReason maps a stop reason to Anthropic's: a guardrail's intervention is
// its "refusal" (the answer was stopped for safety).
func anthropicStopReason(stop string) string {
	if stop == genai.StopGuardrail {
		return "refusal"
	}
	return stop
}
