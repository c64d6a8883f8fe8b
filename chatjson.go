package genai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reads and writes the chat request in its wire form, Anthropic's Messages
// format, which is what the API and the workshop's pages send. It is written by hand
// rather than with struct tags alone because "content" is either a string or an array,
// and because every error must name the field that broke a rule.

type wireChatRequest struct {
	Model         *string           `json:"model"`
	System        json.RawMessage   `json:"system"`
	Messages      []json.RawMessage `json:"messages"`
	MaxTokens     *float64          `json:"max_tokens"`
	Temperature   *float64          `json:"temperature"`
	TopP          *float64          `json:"top_p"`
	StopSequences []string          `json:"stop_sequences"`
	Stream        *bool             `json:"stream"`
	// Metadata identifies the end user to the provider for abuse monitoring, as
	// Anthropic's API takes it; it changes nothing in the answer.
	Metadata *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
}

type wireMessage struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
}

type wireBlock struct {
	Type   string      `json:"type"`
	Text   *string     `json:"text"`
	Source *wireSource `json:"source"`
}

type wireSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
}

// strictBlock has the fields of a content block, to find those it should not have.
type strictBlock struct {
	Type   json.RawMessage `json:"type"`
	Text   json.RawMessage `json:"text"`
	Source json.RawMessage `json:"source"`
}

// RefuseUnknown decodes the JSON object data into v again, refusing any field v does
// not have: a field this server does not implement is refused, never silently dropped.
// The EINVALID error names the field after prefix, such as
// "messages[0].content[1].cache_control". Type errors are left to the decoding that
// names their field; RefuseUnknown returns nil for them.
func RefuseUnknown(data []byte, prefix string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	msg := err.Error()
	field, ok := strings.CutPrefix(msg, "json: unknown field ")
	if !ok {
		return nil // a type error, reported by the decoding that named the field
	}
	field, _ = strconv.Unquote(field)
	return Errorf(EINVALID, "%s%s: not supported by this server; remove it", prefix, field)
}

// ParseChatRequest decodes and validates a chat request in Anthropic's Messages format.
// It returns the request and whether the client asked for a stream (the default). Any
// error is an *Error with code EINVALID, ETOOLARGE or EMEDIATYPE whose message names the
// field and the rule, such as "messages[0].content[1].source.data: not valid base64".
func ParseChatRequest(data []byte) (req *ChatRequest, stream bool, err error) {
	var w wireChatRequest
	if err := DecodeJSON(data, &w); err != nil {
		return nil, false, err
	}
	if err := RefuseUnknown(data, "", &w); err != nil {
		return nil, false, err
	}
	req = &ChatRequest{StopSequences: w.StopSequences}
	stream = w.Stream == nil || *w.Stream
	if w.Model != nil {
		req.Model = *w.Model
	}
	if req.System, err = parseSystem(w.System); err != nil {
		return nil, false, err
	}
	if w.MaxTokens != nil {
		n := *w.MaxTokens
		if n != math.Trunc(n) || n < 1 || n > MaxOutputTokens {
			return nil, false, Errorf(EINVALID, "max_tokens: must be a whole number from 1 to %d, got %v", MaxOutputTokens, n)
		}
		req.MaxTokens = int(n)
	}
	req.Temperature, req.TopP = w.Temperature, w.TopP
	if w.Messages == nil {
		return nil, false, Errorf(EINVALID, "messages: required")
	}
	if len(w.Messages) > MaxMessages {
		return nil, false, Errorf(ETOOLARGE, "messages: at most %d messages, got %d", MaxMessages, len(w.Messages))
	}
	req.Messages = make([]Message, len(w.Messages))
	for i, raw := range w.Messages {
		if req.Messages[i], err = parseMessage(raw, fmt.Sprintf("messages[%d]", i)); err != nil {
			return nil, false, err
		}
	}
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	return req, stream, nil
}

// DecodeJSON unmarshals one JSON value from data into v. Its errors are *Error values
// (EINVALID) that name the field and what was wrong, such as "k: expected a number, got
// JSON string"; a body that is not valid UTF-8 or holds more than one value is refused.
func DecodeJSON(data []byte, v any) error {
	if !utf8.Valid(data) {
		return Errorf(EINVALID, "body: not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return Errorf(EINVALID, "body: more than one JSON value")
	}
	return nil
}

// jsonError describes a decoding error by the field it happened at.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return Errorf(EINVALID, "%s: expected %s, got JSON %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return Errorf(EINVALID, "body: malformed JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF):
		return Errorf(EINVALID, "body: empty, expected a JSON object")
	default:
		return Errorf(EINVALID, "body: malformed JSON: %v", err)
	}
}

func jsonKind(kind string) string {
	switch kind {
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value"
	case "float64", "int":
		return "a number"
	default:
		return "a " + kind
	}
}

func parseSystem(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	// Anthropic also allows the system prompt as an array of text blocks.
	var blocks []wireBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", Errorf(EINVALID, "system: expected a string or an array of text blocks")
	}
	var parts []string
	for i, b := range blocks {
		if b.Type != "text" || b.Text == nil {
			return "", Errorf(EINVALID, "system[%d]: expected a text block", i)
		}
		parts = append(parts, *b.Text)
	}
	return strings.Join(parts, "\n"), nil
}

func parseMessage(raw json.RawMessage, path string) (Message, error) {
	var w wireMessage
	if err := json.Unmarshal(raw, &w); err != nil {
		return Message{}, Errorf(EINVALID, "%s: expected an object with role and content", path)
	}
	if err := RefuseUnknown(raw, path+".", &w); err != nil {
		return Message{}, err
	}
	if w.Role == nil {
		return Message{}, Errorf(EINVALID, "%s.role: required", path)
	}
	m := Message{Role: Role(*w.Role)}
	if len(w.Content) == 0 || string(w.Content) == "null" {
		return Message{}, Errorf(EINVALID, "%s.content: required", path)
	}
	var text string
	if err := json.Unmarshal(w.Content, &text); err == nil {
		m.Content = []ContentBlock{{Type: BlockText, Text: text}}
		return m, nil
	}
	var blocks []wireBlock
	if err := json.Unmarshal(w.Content, &blocks); err != nil {
		return Message{}, Errorf(EINVALID, "%s.content: expected a string or an array of content blocks", path)
	}
	var raws []json.RawMessage
	json.Unmarshal(w.Content, &raws)
	for j, raw := range raws {
		if err := RefuseUnknown(raw, fmt.Sprintf("%s.content[%d].", path, j), &strictBlock{}); err != nil {
			return Message{}, err
		}
	}
	if len(blocks) == 0 {
		return Message{}, Errorf(EINVALID, "%s.content: must not be empty", path)
	}
	for j, b := range blocks {
		bp := fmt.Sprintf("%s.content[%d]", path, j)
		switch b.Type {
		case "text":
			if b.Text == nil {
				return Message{}, Errorf(EINVALID, "%s.text: required", bp)
			}
			m.Content = append(m.Content, ContentBlock{Type: BlockText, Text: *b.Text})
		case "image":
			im, err := parseImageSource(b.Source, bp+".source")
			if err != nil {
				return Message{}, err
			}
			var sb strictBlock
			json.Unmarshal(raws[j], &sb)
			if err := RefuseUnknown(sb.Source, bp+".source.", &wireSource{}); err != nil {
				return Message{}, err
			}
			m.Content = append(m.Content, ContentBlock{Type: BlockImage, Image: im})
		case "":
			return Message{}, Errorf(EINVALID, "%s.type: required (\"text\" or \"image\")", bp)
		default:
			return Message{}, Errorf(EINVALID, "%s.type: %q is not \"text\" or \"image\"", bp, b.Type)
		}
	}
	return m, nil
}

func parseImageSource(s *wireSource, path string) (*Image, error) {
	if s == nil {
		return nil, Errorf(EINVALID, "%s: required for an image block", path)
	}
	if s.Type != "base64" {
		return nil, Errorf(EINVALID, "%s.type: must be \"base64\", got %q", path, s.Type)
	}
	declared, ok := strings.CutPrefix(s.MediaType, "image/")
	if !ok || !supportedImageFormat(declared) {
		return nil, Errorf(EMEDIATYPE, "%s.media_type: %q is not image/png, image/jpeg, image/gif or image/webp", path, s.MediaType)
	}
	if base64.StdEncoding.DecodedLen(len(s.Data)) > MaxImageBytes+3 {
		return nil, Errorf(ETOOLARGE, "%s.data: image is over the limit of %d bytes", path, MaxImageBytes)
	}
	data, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		return nil, Errorf(EINVALID, "%s.data: not valid base64", path)
	}
	if len(data) == 0 {
		return nil, Errorf(EINVALID, "%s.data: must not be empty", path)
	}
	if len(data) > MaxImageBytes {
		return nil, Errorf(ETOOLARGE, "%s.data: image is %d bytes, over the limit of %d", path, len(data), MaxImageBytes)
	}
	actual := SniffImage(data)
	if actual == "" {
		return nil, Errorf(EMEDIATYPE, "%s.data: bytes are not a png, jpeg, gif or webp image", path)
	}
	if actual != declared && !(declared == "jpg" && actual == "jpeg") {
		return nil, Errorf(EMEDIATYPE, "%s.media_type: declared image/%s but the bytes are image/%s", path, declared, actual)
	}
	return &Image{Format: actual, Data: data}, nil
}

func supportedImageFormat(f string) bool {
	switch f {
	case "png", "jpeg", "jpg", "gif", "webp":
		return true
	}
	return false
}

// SniffImage returns "png", "jpeg", "gif" or "webp" when data starts with that format's
// signature, and "" otherwise.
func SniffImage(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "gif"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// Validate checks the rules of a chat request that hold for every provider: a model id
// without spaces or control characters, messages of known roles with content, images in
// user messages only and within the server's limits, and inference settings in their
// widest range. Providers check their own narrower rules (see package bedrock). It
// returns an *Error naming the field.
func (r *ChatRequest) Validate() error {
	if len(r.Model) > MaxModelIDLength {
		return Errorf(EINVALID, "model: at most %d bytes", MaxModelIDLength)
	}
	for _, c := range r.Model {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == utf8.RuneError {
			return Errorf(EINVALID, "model: %q has a space or a control character", r.Model)
		}
	}
	if len(r.Messages) == 0 {
		return Errorf(EINVALID, "messages: must hold at least one message")
	}
	images := 0
	for i, m := range r.Messages {
		if m.Role != RoleUser && m.Role != RoleAssistant {
			return Errorf(EINVALID, "messages[%d].role: must be \"user\" or \"assistant\", got %q", i, m.Role)
		}
		if len(m.Content) == 0 {
			return Errorf(EINVALID, "messages[%d].content: must not be empty", i)
		}
		for j, b := range m.Content {
			switch b.Type {
			case BlockText:
			case BlockImage:
				if m.Role != RoleUser {
					return Errorf(EINVALID, "messages[%d].content[%d]: images are allowed only in user messages", i, j)
				}
				if b.Image == nil || len(b.Image.Data) == 0 {
					return Errorf(EINVALID, "messages[%d].content[%d].source: required for an image block", i, j)
				}
				if len(b.Image.Data) > MaxImageBytes {
					return Errorf(ETOOLARGE, "messages[%d].content[%d].source.data: image is %d bytes, over the limit of %d", i, j, len(b.Image.Data), MaxImageBytes)
				}
				images++
			default:
				return Errorf(EINVALID, "messages[%d].content[%d].type: %q is not \"text\" or \"image\"", i, j, b.Type)
			}
		}
	}
	if images > MaxImages {
		return Errorf(ETOOLARGE, "messages: %d images, at most %d per request", images, MaxImages)
	}
	if r.MaxTokens < 0 || r.MaxTokens > MaxOutputTokens {
		return Errorf(EINVALID, "max_tokens: must be from 1 to %d", MaxOutputTokens)
	}
	if t := r.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > MaxTemperature) {
		return Errorf(EINVALID, "temperature: must be from 0 to %d, got %v", MaxTemperature, *t)
	}
	if p := r.TopP; p != nil && (math.IsNaN(*p) || *p < 0 || *p > 1) {
		return Errorf(EINVALID, "top_p: must be from 0 to 1, got %v", *p)
	}
	if len(r.StopSequences) > MaxStopSequences {
		return Errorf(EINVALID, "stop_sequences: at most %d, got %d", MaxStopSequences, len(r.StopSequences))
	}
	for i, s := range r.StopSequences {
		if s == "" {
			return Errorf(EINVALID, "stop_sequences[%d]: must not be empty", i)
		}
	}
	return nil
}
