package loadtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/tidwall/gjson"
)

// The surfaces a load test can drive, each genai route with its own request and stream
// shape.
const (
	SurfaceAPI       = "api"       // POST /api/chat, genai's own events
	SurfaceOpenAI    = "openai"    // POST /v1/chat/completions, OpenAI's chunks
	SurfaceAnthropic = "anthropic" // POST /v1/messages, Anthropic's events
)

// Surfaces lists the surfaces by name.
var Surfaces = []string{SurfaceAPI, SurfaceOpenAI, SurfaceAnthropic}

// surface is what differs between the routes: the path, the request body and how an
// answer is read.
type surface struct {
	path string
	body func(o *Options, prompt string) any
	// readStream reads a text/event-stream answer into res; readWhole a JSON one.
	readStream func(d ssestream.Decoder, start time.Time, res *Result)
	readWhole  func(body []byte, res *Result)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

var surfaces = map[string]surface{
	SurfaceAPI: {
		path: "/api/chat",
		body: func(o *Options, p string) any {
			return struct {
				Model     string    `json:"model,omitempty"`
				Messages  []message `json:"messages"`
				MaxTokens int       `json:"max_tokens,omitempty"`
				Stream    bool      `json:"stream"`
			}{o.Model, []message{{"user", p}}, o.MaxTokens, o.Stream}
		},
		readStream: readAPIStream,
		readWhole: func(b []byte, res *Result) {
			res.InputTokens = int(gjson.GetBytes(b, "usage.input_tokens").Int())
			res.OutputTokens = int(gjson.GetBytes(b, "usage.output_tokens").Int())
		},
	},
	SurfaceOpenAI: {
		path: "/v1/chat/completions",
		body: func(o *Options, p string) any {
			type streamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			}
			var so *streamOptions
			if o.Stream {
				so = &streamOptions{true} // the usage comes in a last chunk only when asked for
			}
			return struct {
				Model         string         `json:"model,omitempty"`
				Messages      []message      `json:"messages"`
				MaxTokens     int            `json:"max_tokens,omitempty"`
				Stream        bool           `json:"stream"`
				StreamOptions *streamOptions `json:"stream_options,omitempty"`
			}{o.Model, []message{{"user", p}}, o.MaxTokens, o.Stream, so}
		},
		readStream: readOpenAIStream,
		readWhole: func(b []byte, res *Result) {
			res.InputTokens = int(gjson.GetBytes(b, "usage.prompt_tokens").Int())
			res.OutputTokens = int(gjson.GetBytes(b, "usage.completion_tokens").Int())
		},
	},
	SurfaceAnthropic: {
		path: "/v1/messages",
		body: func(o *Options, p string) any {
			return struct {
				Model     string    `json:"model"`
				Messages  []message `json:"messages"`
				MaxTokens int       `json:"max_tokens"`
				Stream    bool      `json:"stream"`
			}{o.Model, []message{{"user", p}}, o.MaxTokens, o.Stream}
		},
		readStream: readAnthropicStream,
		readWhole: func(b []byte, res *Result) {
			res.InputTokens = int(gjson.GetBytes(b, "usage.input_tokens").Int())
			res.OutputTokens = int(gjson.GetBytes(b, "usage.output_tokens").Int())
		},
	},
}

// Result is the outcome of one request.
type Result struct {
	// Kind is empty for a success, else the kind of failure: "<status> <code>" for an
	// HTTP error (such as "502 upstream_error"), "stream <code>" for an error event
	// after the stream began, "truncated" for a stream that ended without its last
	// event, "transport" when no answer came (refused connection, reset, timeout).
	Kind string
	// Message is the error's own message, kept as an example of its kind.
	Message string
	// Status is the HTTP status; 0 when none came.
	Status int
	// RetryAfter is a 429's Retry-After.
	RetryAfter time.Duration
	// TTFT is the time to the first token of a stream: text, thinking or a tool call.
	// Zero when none came.
	TTFT time.Duration
	// Latency is the time to the end of the answer.
	Latency                   time.Duration
	InputTokens, OutputTokens int
}

// errorCode returns the code of an error object of any of the three surfaces: each
// has it at error.code (genai's, and genai's OpenAI and Anthropic shapes), falling
// back to the Anthropic or OpenAI type for another server.
func errorCode(data []byte) (code, message string) {
	e := gjson.GetBytes(data, "error")
	code = e.Get("code").String()
	if code == "" {
		code = e.Get("type").String()
	}
	if code == "" {
		code = "unknown"
	}
	return code, e.Get("message").String()
}

// readAPIStream reads /api/chat's events: start, delta (thinking, tool_use…), then done
// with the usage, or error.
func readAPIStream(d ssestream.Decoder, start time.Time, res *Result) {
	for d.Next() {
		ev := d.Event()
		switch ev.Type {
		case "delta", "thinking", "tool_use", "tool_input":
			firstToken(res, start)
		case "done":
			res.InputTokens = int(gjson.GetBytes(ev.Data, "usage.input_tokens").Int())
			res.OutputTokens = int(gjson.GetBytes(ev.Data, "usage.output_tokens").Int())
			return
		case "error":
			streamError(res, ev.Data)
			return
		}
	}
	truncated(res, d)
}

// readOpenAIStream reads /v1/chat/completions' chunks: deltas, a last chunk with the
// usage (as stream_options.include_usage asks), then [DONE]; or an {"error": …} chunk.
func readOpenAIStream(d ssestream.Decoder, start time.Time, res *Result) {
	for d.Next() {
		data := d.Event().Data
		if bytes.HasPrefix(data, []byte("[DONE]")) {
			return
		}
		chunk := gjson.ParseBytes(data)
		if chunk.Get("error").Exists() {
			streamError(res, data)
			return
		}
		if res.TTFT == 0 {
			for _, c := range chunk.Get("choices").Array() {
				delta := c.Get("delta")
				if delta.Get("content").String() != "" || delta.Get("reasoning_content").String() != "" || delta.Get("tool_calls").Exists() {
					firstToken(res, start)
				}
			}
		}
		if u := chunk.Get("usage"); u.IsObject() {
			res.InputTokens = int(u.Get("prompt_tokens").Int())
			res.OutputTokens = int(u.Get("completion_tokens").Int())
		}
	}
	truncated(res, d)
}

// readAnthropicStream reads /v1/messages' events: message_start (input tokens),
// content_block_delta, message_delta (the usage), message_stop; or error.
func readAnthropicStream(d ssestream.Decoder, start time.Time, res *Result) {
	for d.Next() {
		ev := d.Event()
		switch ev.Type {
		case "message_start":
			res.InputTokens = int(gjson.GetBytes(ev.Data, "message.usage.input_tokens").Int())
		case "content_block_delta":
			firstToken(res, start)
		case "message_delta":
			u := gjson.GetBytes(ev.Data, "usage")
			if in := u.Get("input_tokens"); in.Exists() {
				res.InputTokens = int(in.Int())
			}
			res.OutputTokens = int(u.Get("output_tokens").Int())
		case "message_stop":
			return
		case "error":
			streamError(res, ev.Data)
			return
		}
	}
	truncated(res, d)
}

func firstToken(res *Result, start time.Time) {
	if res.TTFT == 0 {
		res.TTFT = time.Since(start)
	}
}

func streamError(res *Result, data []byte) {
	code, msg := errorCode(data)
	res.Kind, res.Message = "stream "+code, msg
}

// truncated marks a stream that ended before its last event.
func truncated(res *Result, d ssestream.Decoder) {
	res.Kind, res.Message = "truncated", "the stream ended before its last event"
	if err := d.Err(); err != nil {
		res.Message = err.Error()
	}
}

// readAnswer reads an answer to a request sent at start into res.
func (s surface) readAnswer(resp *http.Response, start time.Time, res *Result) {
	res.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		code, msg := errorCode(body)
		if !json.Valid(body) {
			code, msg = "not_json", string(body)
		}
		res.Kind, res.Message = strconv.Itoa(resp.StatusCode)+" "+code, msg
		if resp.StatusCode == http.StatusTooManyRequests {
			res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		s.readStream(ssestream.NewDecoder(resp), start, res)
		return
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		res.Kind, res.Message = "truncated", err.Error()
		return
	}
	s.readWhole(body, res)
}
