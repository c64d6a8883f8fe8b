package genai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
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
	Tools         []json.RawMessage `json:"tools"`
	ToolChoice    json.RawMessage   `json:"tool_choice"`
	ServerTools   []string          `json:"server_tools"`
	Thinking      json.RawMessage   `json:"thinking"`
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

// The fields of each kind of content block, so that a field a kind does not have is
// refused by name.
type (
	wireTextBlock struct {
		Type         string            `json:"type"`
		Text         *string           `json:"text"`
		CacheControl *wireCacheControl `json:"cache_control"`
	}
	wireImageBlock struct {
		Type         string            `json:"type"`
		Source       json.RawMessage   `json:"source"`
		CacheControl *wireCacheControl `json:"cache_control"`
	}
	wireDocumentBlock struct {
		Type         string            `json:"type"`
		Source       json.RawMessage   `json:"source"`
		Title        *string           `json:"title"`
		Context      *string           `json:"context"`
		CacheControl *wireCacheControl `json:"cache_control"`
	}
	wireToolUseBlock struct {
		Type         string            `json:"type"`
		ID           *string           `json:"id"`
		Name         *string           `json:"name"`
		Input        json.RawMessage   `json:"input"`
		CacheControl *wireCacheControl `json:"cache_control"`
	}
	wireThinkingBlock struct {
		Type      string  `json:"type"`
		Thinking  *string `json:"thinking"`
		Signature *string `json:"signature"`
	}
	wireRedactedThinkingBlock struct {
		Type string  `json:"type"`
		Data *string `json:"data"`
	}
	wireToolResultBlock struct {
		Type         string            `json:"type"`
		ToolUseID    *string           `json:"tool_use_id"`
		Content      json.RawMessage   `json:"content"`
		IsError      *bool             `json:"is_error"`
		CacheControl *wireCacheControl `json:"cache_control"`
	}
	// wireCacheControl is Anthropic's cache_control: a cache point after its block.
	wireCacheControl struct {
		Type string `json:"type"`
		TTL  string `json:"ttl"`
	}
)

// cacheOf reads a block's cache_control at path.
func cacheOf(c *wireCacheControl, path string) (*Cache, error) {
	if c == nil {
		return nil, nil
	}
	if c.Type != "ephemeral" {
		return nil, Errorf(EINVALID, "%s.cache_control.type: must be \"ephemeral\", got %q", path, c.Type)
	}
	return &Cache{TTL: c.TTL}, nil
}

type wireSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type"`
	Data      string `json:"data"`
}

type wireTool struct {
	Type         *string           `json:"type"`
	Name         *string           `json:"name"`
	Description  *string           `json:"description"`
	InputSchema  json.RawMessage   `json:"input_schema"`
	CacheControl *wireCacheControl `json:"cache_control"`
}

type wireToolChoice struct {
	Type                   *string `json:"type"`
	Name                   *string `json:"name"`
	DisableParallelToolUse *bool   `json:"disable_parallel_tool_use"`
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
	if req.System, req.CacheSystem, err = parseSystem(w.System); err != nil {
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
	if req.Tools, req.CacheTools, err = parseTools(w.Tools); err != nil {
		return nil, false, err
	}
	if req.ToolChoice, err = parseToolChoice(w.ToolChoice); err != nil {
		return nil, false, err
	}
	req.ServerTools = w.ServerTools
	if req.ThinkingBudget, req.ThinkingOff, err = parseThinking(w.Thinking); err != nil {
		return nil, false, err
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

func parseSystem(raw json.RawMessage) (string, *Cache, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil, nil
	}
	// Anthropic also allows the system prompt as an array of text blocks.
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return "", nil, Errorf(EINVALID, "system: expected a string or an array of text blocks")
	}
	var parts []string
	var cache *Cache
	for i, r := range raws {
		path := fmt.Sprintf("system[%d]", i)
		var b wireTextBlock
		if err := decodeStrict(r, path, &b); err != nil {
			return "", nil, err
		}
		if b.Type != "text" || b.Text == nil {
			return "", nil, Errorf(EINVALID, "%s: expected a text block", path)
		}
		parts = append(parts, *b.Text)
		c, err := cacheOf(b.CacheControl, path)
		if err != nil {
			return "", nil, err
		}
		if c != nil {
			cache = c // the system prompt is one text: its cache point ends after all of it
		}
	}
	return strings.Join(parts, "\n"), cache, nil
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
	var raws []json.RawMessage
	if err := json.Unmarshal(w.Content, &raws); err != nil {
		return Message{}, Errorf(EINVALID, "%s.content: expected a string or an array of content blocks", path)
	}
	if len(raws) == 0 {
		return Message{}, Errorf(EINVALID, "%s.content: must not be empty", path)
	}
	m.Content = make([]ContentBlock, len(raws))
	for j, raw := range raws {
		var err error
		if m.Content[j], err = parseBlock(raw, fmt.Sprintf("%s.content[%d]", path, j), true); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

// parseBlock decodes the content block raw at path: text or image, and tool_use or
// tool_result when tools is set (a tool result's own content holds neither).
func parseBlock(raw json.RawMessage, path string, tools bool) (ContentBlock, error) {
	kinds := `"text" or "image"`
	if tools {
		kinds = `"text", "image", "document", "thinking", "redacted_thinking", "tool_use" or "tool_result"`
	}
	var head struct {
		Type *string `json:"type"`
	}
	if err := decodeAt(raw, path, &head); err != nil {
		return ContentBlock{}, err
	}
	if head.Type == nil || *head.Type == "" {
		return ContentBlock{}, Errorf(EINVALID, "%s.type: required (%s)", path, kinds)
	}
	switch typ := *head.Type; {
	case typ == "text":
		var b wireTextBlock
		if err := decodeStrict(raw, path, &b); err != nil {
			return ContentBlock{}, err
		}
		if b.Text == nil {
			return ContentBlock{}, Errorf(EINVALID, "%s.text: required", path)
		}
		cache, err := cacheOf(b.CacheControl, path)
		return ContentBlock{Type: BlockText, Text: *b.Text, Cache: cache}, err
	case typ == "image":
		var b wireImageBlock
		if err := decodeStrict(raw, path, &b); err != nil {
			return ContentBlock{}, err
		}
		if len(b.Source) == 0 || string(b.Source) == "null" {
			return ContentBlock{}, Errorf(EINVALID, "%s.source: required for an image block", path)
		}
		var src wireSource
		if err := decodeAt(b.Source, path+".source", &src); err != nil {
			return ContentBlock{}, err
		}
		im, err := parseImageSource(&src, path+".source")
		if err != nil {
			return ContentBlock{}, err
		}
		if err := RefuseUnknown(b.Source, path+".source.", &wireSource{}); err != nil {
			return ContentBlock{}, err
		}
		cache, err := cacheOf(b.CacheControl, path)
		return ContentBlock{Type: BlockImage, Image: im, Cache: cache}, err
	case typ == "document" && tools:
		return parseDocumentBlock(raw, path)
	case typ == "thinking" && tools:
		var b wireThinkingBlock
		if err := decodeStrict(raw, path, &b); err != nil {
			return ContentBlock{}, err
		}
		if b.Thinking == nil {
			return ContentBlock{}, Errorf(EINVALID, "%s.thinking: required", path)
		}
		if b.Signature == nil {
			return ContentBlock{}, Errorf(EINVALID, "%s.signature: required; send the thinking block back as it came", path)
		}
		return ContentBlock{Type: BlockThinking, Thinking: &Thinking{Text: *b.Thinking, Signature: *b.Signature}}, nil
	case typ == "redacted_thinking" && tools:
		var b wireRedactedThinkingBlock
		if err := decodeStrict(raw, path, &b); err != nil {
			return ContentBlock{}, err
		}
		if b.Data == nil {
			return ContentBlock{}, Errorf(EINVALID, "%s.data: required", path)
		}
		data, err := base64.StdEncoding.DecodeString(*b.Data)
		if err != nil || len(data) == 0 {
			return ContentBlock{}, Errorf(EINVALID, "%s.data: not the data this server gave (base64); send the redacted_thinking block back as it came", path)
		}
		return ContentBlock{Type: BlockThinking, Thinking: &Thinking{Redacted: data}}, nil
	case typ == "tool_use" && tools:
		var b wireToolUseBlock
		if err := decodeStrict(raw, path, &b); err != nil {
			return ContentBlock{}, err
		}
		if b.ID == nil || *b.ID == "" {
			return ContentBlock{}, Errorf(EINVALID, "%s.id: required", path)
		}
		if b.Name == nil {
			return ContentBlock{}, Errorf(EINVALID, "%s.name: required", path)
		}
		input, err := compactObject(b.Input, path+".input")
		if err != nil {
			return ContentBlock{}, err
		}
		cache, err := cacheOf(b.CacheControl, path)
		return ContentBlock{Type: BlockToolUse, ToolUse: &ToolUse{ID: *b.ID, Name: *b.Name, Input: input}, Cache: cache}, err
	case typ == "tool_result" && tools:
		var b wireToolResultBlock
		if err := decodeStrict(raw, path, &b); err != nil {
			return ContentBlock{}, err
		}
		if b.ToolUseID == nil || *b.ToolUseID == "" {
			return ContentBlock{}, Errorf(EINVALID, "%s.tool_use_id: required", path)
		}
		res := &ToolResult{ToolUseID: *b.ToolUseID, IsError: b.IsError != nil && *b.IsError}
		var text string
		var raws []json.RawMessage
		switch {
		case len(b.Content) == 0 || string(b.Content) == "null":
		case json.Unmarshal(b.Content, &text) == nil:
			if text != "" {
				res.Content = []ContentBlock{{Type: BlockText, Text: text}}
			}
		case json.Unmarshal(b.Content, &raws) == nil:
			for k, r := range raws {
				c, err := parseBlock(r, fmt.Sprintf("%s.content[%d]", path, k), false)
				if err != nil {
					return ContentBlock{}, err
				}
				if c.Cache != nil {
					return ContentBlock{}, Errorf(EINVALID, "%s.content[%d].cache_control: put it on the tool_result block itself", path, k)
				}
				res.Content = append(res.Content, c)
			}
		default:
			return ContentBlock{}, Errorf(EINVALID, "%s.content: expected a string or an array of text and image blocks", path)
		}
		cache, err := cacheOf(b.CacheControl, path)
		return ContentBlock{Type: BlockToolResult, ToolResult: res, Cache: cache}, err
	default:
		return ContentBlock{}, Errorf(EINVALID, "%s.type: %q is not %s", path, typ, kinds)
	}
}

// parseTools decodes the "tools" array.
func parseTools(raws []json.RawMessage) (tools []Tool, cache *Cache, err error) {
	if len(raws) > MaxTools {
		return nil, nil, Errorf(ETOOLARGE, "tools: at most %d tools, got %d", MaxTools, len(raws))
	}
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d]", i)
		var w wireTool
		if err := decodeStrict(raw, path, &w); err != nil {
			return nil, nil, err
		}
		// Anthropic's server tools (web search, code execution…) carry a type of their
		// own; only client tools, whose calls come back to the caller, are served.
		if w.Type != nil && *w.Type != "custom" {
			return nil, nil, Errorf(EINVALID, "%s.type: %q is not supported; only client tools (no type, or \"custom\")", path, *w.Type)
		}
		if w.Name == nil {
			return nil, nil, Errorf(EINVALID, "%s.name: required", path)
		}
		if len(w.InputSchema) == 0 || string(w.InputSchema) == "null" {
			return nil, nil, Errorf(EINVALID, "%s.input_schema: required", path)
		}
		schema, err := compactObject(w.InputSchema, path+".input_schema")
		if err != nil {
			return nil, nil, err
		}
		t := Tool{Name: *w.Name, InputSchema: schema}
		if w.Description != nil {
			t.Description = *w.Description
		}
		tools = append(tools, t)
		if c, err := cacheOf(w.CacheControl, path); err != nil {
			return nil, nil, err
		} else if c != nil {
			cache = c // a cache point on any tool ends after the whole list
		}
	}
	return tools, cache, nil
}

// parseToolChoice decodes "tool_choice".
func parseToolChoice(raw json.RawMessage) (*ToolChoice, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var w wireToolChoice
	if err := decodeStrict(raw, "tool_choice", &w); err != nil {
		return nil, err
	}
	if w.Type == nil {
		return nil, Errorf(EINVALID, "tool_choice.type: required (\"auto\", \"any\", \"tool\" or \"none\")")
	}
	c := &ToolChoice{Type: ToolChoiceType(*w.Type), DisableParallel: w.DisableParallelToolUse != nil && *w.DisableParallelToolUse}
	if w.Name != nil {
		c.Name = *w.Name
	}
	return c, nil
}

// compactObject returns raw, which must be a JSON object, without insignificant space.
func compactObject(raw json.RawMessage, path string) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, Errorf(EINVALID, "%s: required, a JSON object", path)
	}
	if !isJSONObject(raw) {
		return nil, Errorf(EINVALID, "%s: must be a JSON object", path)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, Errorf(EINVALID, "%s: %v", path, err)
	}
	return buf.Bytes(), nil
}

// decodeStrict decodes the JSON object raw at path into v, naming the field of a type
// error, and refuses a field v does not have.
func decodeStrict(raw json.RawMessage, path string, v any) error {
	if err := decodeAt(raw, path, v); err != nil {
		return err
	}
	return RefuseUnknown(raw, path+".", v)
}

// decodeAt decodes the JSON value raw at path into v, naming the field of a type error.
func decodeAt(raw json.RawMessage, path string, v any) error {
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		at := path
		if typeErr.Field != "" {
			at += "." + typeErr.Field
		}
		return Errorf(EINVALID, "%s: expected %s, got JSON %s", at, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	}
	return Errorf(EINVALID, "%s: %v", path, err)
}

// parseDocumentBlock decodes Anthropic's document block at path: a base64 source of any
// document format (Anthropic's own API takes only PDFs this way; this server takes each
// format Bedrock reads) or a text source of plain text, and the optional title, which
// is the document's name, and context.
func parseDocumentBlock(raw json.RawMessage, path string) (ContentBlock, error) {
	var b wireDocumentBlock
	if err := decodeStrict(raw, path, &b); err != nil {
		return ContentBlock{}, err
	}
	if len(b.Source) == 0 || string(b.Source) == "null" {
		return ContentBlock{}, Errorf(EINVALID, "%s.source: required for a document block", path)
	}
	var src wireSource
	if err := decodeStrict(b.Source, path+".source", &src); err != nil {
		return ContentBlock{}, err
	}
	var name string
	if b.Title != nil {
		name = *b.Title
	}
	var doc *ChatDocument
	var err error
	switch src.Type {
	case "base64":
		doc, err = DecodeDocument(name, src.MediaType, src.Data, path+".source")
	case "text":
		if src.MediaType != "text/plain" {
			return ContentBlock{}, Errorf(EMEDIATYPE, "%s.source.media_type: must be \"text/plain\" for a text source, got %q", path, src.MediaType)
		}
		doc, err = NewDocument(name, src.MediaType, []byte(src.Data), path+".source")
	default:
		return ContentBlock{}, Errorf(EINVALID, "%s.source.type: must be \"base64\" or \"text\", got %q", path, src.Type)
	}
	if err != nil {
		return ContentBlock{}, err
	}
	if b.Context != nil {
		doc.Context = *b.Context
	}
	cache, err := cacheOf(b.CacheControl, path)
	return ContentBlock{Type: BlockDocument, Document: doc, Cache: cache}, err
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
// widest range, and tools (tool.go): valid unique names, object input schemas, a tool
// choice that names a defined tool, tool calls only in assistant messages and tool
// results only in user messages, each answering a call of the assistant message just
// before it. Providers check their own narrower rules (see package bedrock). It returns
// an *Error naming the field.
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
	images, documents := 0, 0
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
			case BlockDocument:
				if err := r.validateDocument(i, j); err != nil {
					return err
				}
				documents++
			case BlockToolUse, BlockToolResult:
				if err := r.validateToolBlock(i, j, &images); err != nil {
					return err
				}
			case BlockThinking: // validateThinking
			default:
				return Errorf(EINVALID, "messages[%d].content[%d].type: %q is not \"text\", \"image\", \"document\", \"thinking\", \"tool_use\" or \"tool_result\"", i, j, b.Type)
			}
		}
	}
	if images > MaxImages {
		return Errorf(ETOOLARGE, "messages: %d images, at most %d per request", images, MaxImages)
	}
	if documents > MaxDocuments {
		return Errorf(ETOOLARGE, "messages: %d documents, at most %d per request", documents, MaxDocuments)
	}
	if err := r.validateTools(); err != nil {
		return err
	}
	if len(r.ServerTools) > MaxServerTools {
		return Errorf(EINVALID, "server_tools: at most %d, got %d", MaxServerTools, len(r.ServerTools))
	}
	for i, name := range r.ServerTools {
		if !validGroupName(name) || slices.Contains(r.ServerTools[:i], name) {
			return Errorf(EINVALID, "server_tools[%d]: %q is not a tool group name, or is named twice", i, name)
		}
	}
	if err := r.validateThinking(); err != nil {
		return err
	}
	if err := r.validateCache(); err != nil {
		return err
	}
	if err := r.validateResponseFormat(); err != nil {
		return err
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

// parseThinking reads the "thinking" field: {"type":"enabled","budget_tokens":N} or
// {"type":"disabled"}; it returns the budget (0 when off) and whether the request turned
// thinking off itself.
func parseThinking(raw json.RawMessage) (budget int, off bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	var w struct {
		Type         *string  `json:"type"`
		BudgetTokens *float64 `json:"budget_tokens"`
	}
	if err := decodeStrict(raw, "thinking", &w); err != nil {
		return 0, false, err
	}
	switch {
	case w.Type == nil:
		return 0, false, Errorf(EINVALID, "thinking.type: required (\"enabled\" or \"disabled\")")
	case *w.Type == "disabled":
		if w.BudgetTokens != nil {
			return 0, false, Errorf(EINVALID, "thinking.budget_tokens: only with type \"enabled\"")
		}
		return 0, true, nil
	case *w.Type != "enabled":
		return 0, false, Errorf(EINVALID, "thinking.type: must be \"enabled\" or \"disabled\", got %q", *w.Type)
	case w.BudgetTokens == nil:
		return 0, false, Errorf(EINVALID, "thinking.budget_tokens: required with type \"enabled\"")
	}
	n := *w.BudgetTokens
	if n != math.Trunc(n) || n < MinThinkingBudget || n > MaxOutputTokens {
		return 0, false, Errorf(EINVALID, "thinking.budget_tokens: must be a whole number from %d to %d, got %v", MinThinkingBudget, MaxOutputTokens, n)
	}
	return int(n), false, nil
}
