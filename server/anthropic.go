package server

import (
	"bytes"
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
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type anthropicMessage struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Model        string          `json:"model"`
	Content      []textContent   `json:"content"`
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
		stop := resp.StopReason
		writeJSON(w, http.StatusOK, anthropicMessage{
			ID: id, Type: "message", Role: "assistant", Model: req.Model,
			Content: []textContent{{"text", resp.Text}}, StopReason: &stop,
			Usage: &anthropicUsage{resp.Usage.InputTokens, resp.Usage.OutputTokens},
		})
		return
	}

	var sse *sseWriter
	var usage genai.Usage
	defer func() { call.finish(err, usage) }()
	type blockStart struct {
		Type         string      `json:"type"`
		Index        int         `json:"index"`
		ContentBlock textContent `json:"content_block"`
	}
	type textDelta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type blockDelta struct {
		Type  string    `json:"type"`
		Index int       `json:"index"`
		Delta textDelta `json:"delta"`
	}
	type indexed struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	type stopDelta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	type messageDelta struct {
		Type  string         `json:"type"`
		Delta stopDelta      `json:"delta"`
		Usage anthropicUsage `json:"usage"`
	}
	type typed struct {
		Type string `json:"type"`
	}
	for ev, evErr := range s.opts.Chat.Stream(r.Context(), req) {
		if evErr != nil {
			err = evErr
			break
		}
		if sse == nil {
			sse = newSSEWriter(w)
			start := struct {
				Type    string           `json:"type"`
				Message anthropicMessage `json:"message"`
			}{"message_start", anthropicMessage{ID: id, Type: "message", Role: "assistant", Model: req.Model,
				Content: []textContent{}, Usage: &anthropicUsage{}}}
			if err = sse.eventHeld("message_start", start); err != nil {
				return
			}
			if err = sse.eventHeld("content_block_start", blockStart{"content_block_start", 0, textContent{"text", ""}}); err != nil {
				return
			}
			if err = sse.eventHeld("ping", typed{"ping"}); err != nil {
				return
			}
		}
		if ev.Done {
			usage = ev.Usage
			if err = sse.eventHeld("content_block_stop", indexed{"content_block_stop", 0}); err != nil {
				return
			}
			if err = sse.eventHeld("message_delta", messageDelta{"message_delta", stopDelta{StopReason: ev.StopReason},
				anthropicUsage{ev.Usage.InputTokens, ev.Usage.OutputTokens}}); err != nil {
				return
			}
			err = sse.event("message_stop", typed{"message_stop"})
			return
		}
		if ev.Text == "" {
			continue
		}
		call.firstToken()
		if err = sse.event("content_block_delta", blockDelta{"content_block_delta", 0, textDelta{"text_delta", ev.Text}}); err != nil {
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
	sse.event("error", s.errorPayload(r, s.errorDetailOf(r, err)))
}

// anthropicCountTokens serves POST /v1/messages/count_tokens. No provider here exposes
// a tokenizer, so the count is an estimate: text as the knowledge base's chunker counts
// tokens, and each image as Anthropic documents images cost, width × height / 750.
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
	writeJSON(w, http.StatusOK, map[string]int{"input_tokens": n})
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
