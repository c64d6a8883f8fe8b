package openaitest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ChatRequest is a chat completions request as the server decoded it from the wire.
// The decoding is independent of any client library, so a test that inspects it checks
// what really crossed the network.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *StreamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                StringList      `json:"stop"`
	Tools               []Tool          `json:"tools"`
	ToolChoice          *ToolChoice     `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	ResponseFormat      *ResponseFormat `json:"response_format"`

	// Header holds the request's HTTP headers, such as Authorization.
	Header http.Header `json:"-"`
}

// StreamOptions is the request's stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one message of a request. Content given as a plain string is decoded as a
// single text part, so tests see one shape whichever form the client sent; ContentIsString
// records which it was, and ContentIsNull a content that was null or absent, as that of
// an assistant message of tool calls may be. ToolCalls are an assistant message's tool
// calls and ToolCallID the call a "tool" message answers.
type Message struct {
	Role            string
	Content         []Part
	ContentIsString bool
	ContentIsNull   bool
	ToolCalls       []ToolCall
	ToolCallID      string
}

// UnmarshalJSON decodes a message whose content is a string or an array of parts.
func (m *Message) UnmarshalJSON(data []byte) error {
	var w struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCalls  []ToolCall      `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	m.Role, m.ToolCalls, m.ToolCallID = w.Role, w.ToolCalls, w.ToolCallID
	if len(w.Content) == 0 || string(w.Content) == "null" {
		m.ContentIsNull = true
		return nil
	}
	var s string
	if err := json.Unmarshal(w.Content, &s); err == nil {
		m.Content, m.ContentIsString = []Part{{Type: "text", Text: s}}, true
		return nil
	}
	if err := json.Unmarshal(w.Content, &m.Content); err != nil {
		return fmt.Errorf("content: expected a string or an array of parts: %w", err)
	}
	return nil
}

// Text returns the concatenated text parts of m.
func (m Message) Text() string {
	var b strings.Builder
	for _, p := range m.Content {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// Part is one content part: {"type":"text","text":…} or
// {"type":"image_url","image_url":{"url":…}}.
type Part struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
}

// ImageURL is the image_url object of an image part.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// StringList decodes a JSON string or an array of strings, as the stop field may be
// either.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*l = StringList{s}
		return nil
	}
	return json.Unmarshal(data, (*[]string)(l))
}

// DecodeDataURL splits a base64 data URL such as "data:image/png;base64,iVBOR…" into its
// media type and decoded bytes. It fails for any other kind of URL.
func DecodeDataURL(u string) (mediaType string, data []byte, err error) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", nil, errors.New("not a data URL")
	}
	meta, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return "", nil, errors.New("data URL without a comma")
	}
	mediaType, ok = strings.CutSuffix(meta, ";base64")
	if !ok {
		return "", nil, errors.New("data URL is not base64")
	}
	data, err = base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return "", nil, fmt.Errorf("data URL payload: %w", err)
	}
	return mediaType, data, nil
}

// The response shapes below are the subset of OpenAI's that clients read.

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *usage        `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

type delta struct {
	Role      string          `json:"role,omitempty"`
	Content   string          `json:"content,omitempty"`
	ToolCalls []toolCallDelta `json:"tool_calls,omitempty"`
}

// firstToolChunk is the chunk of an answer that begins with a tool call, whose delta
// has "content": null, as OpenAI's has. Types of its own keep the text chunks' encoding
// as cheap as it was.
type firstToolChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []firstToolChoice `json:"choices"`
}

type firstToolChoice struct {
	Index        int            `json:"index"`
	Delta        firstToolDelta `json:"delta"`
	FinishReason *string        `json:"finish_reason"`
}

type firstToolDelta struct {
	Role      string          `json:"role"`
	Content   *string         `json:"content"`
	ToolCalls []toolCallDelta `json:"tool_calls"`
}

type completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   usage              `json:"usage"`
}

type completionChoice struct {
	Index        int               `json:"index"`
	Message      completionMessage `json:"message"`
	FinishReason string            `json:"finish_reason"`
}

type completionMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"` // null for an answer of tool calls only
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Code    *string `json:"code"`
	Param   *string `json:"param"`
}

type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}
