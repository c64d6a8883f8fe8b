package openaitest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tool use and structured answers, as OpenAI's chat completions do them: the request's
// tools, tool_choice, parallel_tool_calls and response_format (recorded in ChatRequest),
// assistant messages with tool_calls and "tool" messages, checked by the rules OpenAI
// enforces with its messages; and answers that call tools (finish_reason "tool_calls"),
// streamed as OpenAI streams them: a first delta per call with its index, id, type and
// function name, then deltas of more of its arguments, a few bytes each.

// Tool is an entry of a request's tools.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef is the function of a Tool; Parameters is the JSON Schema exactly as sent.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

// ToolChoice is a request's tool_choice: Mode is "auto", "none" or "required" when it
// was sent as a string, "function" for {"type":"function","function":{"name":…}}, with
// Name set.
type ToolChoice struct {
	Mode string
	Name string
}

// UnmarshalJSON decodes a tool_choice given as a string or an object.
func (c *ToolChoice) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &c.Mode); err == nil {
		return nil
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("tool_choice: expected a string or an object: %w", err)
	}
	c.Mode, c.Name = obj.Type, obj.Function.Name
	return nil
}

// ResponseFormat is a request's response_format.
type ResponseFormat struct {
	Type       string            `json:"type"` // "text", "json_object" or "json_schema"
	JSONSchema *JSONSchemaFormat `json:"json_schema"`
}

// JSONSchemaFormat is the json_schema of a ResponseFormat; Schema exactly as sent.
type JSONSchemaFormat struct {
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict"`
}

// ToolCall is a tool call: in an assistant message of a request, and made by an Answer
// (where ID is made up when empty and Type is "function").
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function of a ToolCall: its name and its arguments, a JSON text.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Call returns a function ToolCall.
func Call(id, name, arguments string) ToolCall {
	return ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: name, Arguments: arguments}}
}

// Answer is a whole answer to a chat request: text tokens, each streamed as one chunk,
// then tool calls, which make the finish_reason "tool_calls". A request with
// parallel_tool_calls false gets only the first call, as OpenAI makes at most one. The
// request's max_tokens counts a token per text token and per streamed piece of a call
// (its start, and each few bytes of its arguments); an answer over it is cut there,
// with finish_reason "length", in the middle of a call's arguments if it falls there.
type Answer struct {
	Tokens    []string
	ToolCalls []ToolCall
}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// validate applies OpenAI's rules for roles, tools, tool messages and response_format,
// returning OpenAI's message and param for the first broken one, or "".
func validate(req *ChatRequest) (message, param string) {
	names := map[string]bool{}
	if req.Tools != nil && len(req.Tools) == 0 {
		return "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.", "tools"
	}
	for i, t := range req.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function' and 'custom'.", t.Type), p + ".type"
		}
		if !toolNameRE.MatchString(t.Function.Name) {
			return fmt.Sprintf("Invalid '%s.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", p), p + ".function.name"
		}
		if len(t.Function.Parameters) > 0 {
			var schema struct {
				Type any `json:"type"`
			}
			if err := json.Unmarshal(t.Function.Parameters, &schema); err != nil || schema.Type != "object" {
				got, _ := json.Marshal(schema.Type)
				return fmt.Sprintf("Invalid schema for function '%s': schema must be a JSON Schema of 'type: \"object\"', got 'type: %s'.", t.Function.Name, got), p + ".function.parameters"
			}
		}
		names[t.Function.Name] = true
	}
	if c := req.ToolChoice; c != nil {
		if len(req.Tools) == 0 {
			return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"
		}
		switch c.Mode {
		case "auto", "none", "required":
		case "function":
			if !names[c.Name] {
				// The wording of OpenAI's answer to a named choice that is no tool.
				return fmt.Sprintf("Tool choice '%s' not found in 'tools' parameter.", c.Name), "tool_choice"
			}
		default:
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'none', 'auto', and 'required'.", c.Mode), "tool_choice"
		}
	}
	if req.ParallelToolCalls != nil && len(req.Tools) == 0 {
		return "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.", "parallel_tool_calls"
	}
	if msg, p := validateMessages(req.Messages); msg != "" {
		return msg, p
	}
	if f := req.ResponseFormat; f != nil {
		switch f.Type {
		case "text":
		case "json_object":
			mentions := false
			for _, m := range req.Messages {
				mentions = mentions || strings.Contains(strings.ToLower(m.Text()), "json")
			}
			if !mentions {
				return "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", "messages"
			}
		case "json_schema":
			s := f.JSONSchema
			if s == nil {
				return "Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema"
			}
			if !toolNameRE.MatchString(s.Name) {
				return "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", "response_format.json_schema.name"
			}
		default:
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'text', 'json_object', and 'json_schema'.", f.Type), "response_format.type"
		}
	}
	return "", ""
}

// validateMessages checks the roles and the tool turns: an assistant message with
// tool_calls must be followed by a "tool" message for each call, and a "tool" message
// must answer a call of the assistant message before the tool messages it is among.
func validateMessages(msgs []Message) (message, param string) {
	var open map[string]bool // the calls of the last assistant message, not yet answered
	openAt := 0
	for i, m := range msgs {
		p := fmt.Sprintf("messages.[%d]", i)
		if m.Role != "tool" && len(open) > 0 {
			return missingResults(open), fmt.Sprintf("messages.[%d].role", openAt)
		}
		switch m.Role {
		case "system", "developer", "user":
		case "assistant":
			if m.ContentIsNull && len(m.ToolCalls) == 0 {
				return "Invalid value for 'content': expected a string, got null.", p + ".content"
			}
			open, openAt = map[string]bool{}, i
			for j, c := range m.ToolCalls {
				if c.ID == "" {
					return fmt.Sprintf("Missing required parameter: 'messages[%d].tool_calls[%d].id'.", i, j), fmt.Sprintf("messages[%d].tool_calls[%d].id", i, j)
				}
				if c.Type != "function" {
					return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function' and 'custom'.", c.Type), fmt.Sprintf("messages[%d].tool_calls[%d].type", i, j)
				}
				open[c.ID] = true
			}
		case "tool":
			if m.ToolCallID == "" {
				return fmt.Sprintf("Missing required parameter: 'messages[%d].tool_call_id'.", i), fmt.Sprintf("messages[%d].tool_call_id", i)
			}
			if !open[m.ToolCallID] {
				return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", p + ".role"
			}
			delete(open, m.ToolCallID)
		default:
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", m.Role), p + ".role"
		}
		if m.Role != "user" {
			for _, part := range m.Content {
				if part.Type == "image_url" {
					return fmt.Sprintf("Invalid 'messages[%d]'. Image URLs are only allowed for messages with role 'user', but this message with role '%s' contains an image URL.", i, m.Role), fmt.Sprintf("messages[%d]", i)
				}
			}
		}
	}
	if len(open) > 0 {
		return missingResults(open), fmt.Sprintf("messages.[%d].role", openAt)
	}
	return "", ""
}

func missingResults(open map[string]bool) string {
	ids := make([]string, 0, len(open))
	for id := range open {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: " + strings.Join(ids, ", ")
}

// EchoAnswer is the answer of a Server whose Config sets neither Answer nor Reply: that
// of ToolReply for a request with tools or tool results, else that of JSONReply for one
// asking for JSON, else the text of the last user message, split after each space.
func EchoAnswer(req *ChatRequest) Answer {
	if a, ok := ToolReply(req); ok {
		return a
	}
	if a, ok := JSONReply(req); ok {
		return a
	}
	return Answer{Tokens: strings.SplitAfter(req.LastUserText(), " ")}
}

// LastUserText returns the text of the last user message of req.
func (r *ChatRequest) LastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Text()
		}
	}
	return ""
}

// ToolReply is EchoAnswer's answer to a request with tools, deterministic so tests can
// be exact, and worded as bedrocktest.ToolReply's. When "tool" messages follow the last
// assistant message, it answers text that quotes each, in order ("Tool <id> returned
// <text>."), then each image of the user messages after them ("[image <media type>, <n>
// bytes]"), so a test sees that the results reached the model. Otherwise, unless
// tool_choice is "none", it calls one tool, the named tool choice or else the first
// tool, after the text "Calling <name>.", with the arguments {"<key>":"<last user
// text>"}, where key is the first entry of the schema's "required", else "input". It
// returns false when the request has neither tool results nor tools to call.
func ToolReply(req *ChatRequest) (Answer, bool) {
	last := -1
	for i, m := range req.Messages {
		if m.Role == "assistant" {
			last = i
		}
	}
	var parts []string
	results := false
	for _, m := range req.Messages[last+1:] {
		switch m.Role {
		case "tool":
			results = true
			parts = append(parts, fmt.Sprintf("Tool %s returned %s.", m.ToolCallID, m.Text()))
		case "user":
			for _, p := range m.Content {
				if p.Type == "image_url" && p.ImageURL != nil {
					if mediaType, data, err := DecodeDataURL(p.ImageURL.URL); err == nil {
						parts = append(parts, fmt.Sprintf("[image %s, %d bytes]", mediaType, len(data)))
					}
				}
			}
		}
	}
	if results {
		return Answer{Tokens: strings.SplitAfter(strings.Join(parts, " "), " ")}, true
	}
	if len(req.Tools) == 0 || req.ToolChoice != nil && req.ToolChoice.Mode == "none" {
		return Answer{}, false
	}
	fn := req.Tools[0].Function
	if c := req.ToolChoice; c != nil && c.Mode == "function" {
		for _, t := range req.Tools {
			if t.Function.Name == c.Name {
				fn = t.Function
			}
		}
	}
	var schema struct {
		Required []string `json:"required"`
	}
	json.Unmarshal(fn.Parameters, &schema)
	key := "input"
	if len(schema.Required) > 0 {
		key = schema.Required[0]
	}
	args, _ := json.Marshal(map[string]string{key: req.LastUserText()})
	return Answer{
		Tokens:    []string{"Calling ", fn.Name + "."},
		ToolCalls: []ToolCall{Call(fmt.Sprintf("call_%d_0", len(req.Messages)), fn.Name, string(args))},
	}, true
}

// JSONReply is EchoAnswer's answer to a request whose response_format asks for JSON,
// deterministic so that structured-output tests can be exact. For "json_object" it is
// {"answer":"<last user text>"}. For "json_schema" it is an object with each property
// the schema requires (each it has when it requires none): a number or an integer as the
// count of words of the last user text, a boolean as true, anything else as that text.
// The JSON streams in pieces of a few bytes. It returns false for other requests.
func JSONReply(req *ChatRequest) (Answer, bool) {
	f := req.ResponseFormat
	if f == nil || f.Type != "json_object" && f.Type != "json_schema" {
		return Answer{}, false
	}
	text := req.LastUserText()
	out := map[string]any{"answer": text}
	if f.Type == "json_schema" && f.JSONSchema != nil {
		var schema struct {
			Properties map[string]struct {
				Type json.RawMessage `json:"type"`
			} `json:"properties"`
			Required []string `json:"required"`
		}
		json.Unmarshal(f.JSONSchema.Schema, &schema)
		keys := schema.Required
		if len(keys) == 0 {
			for k := range schema.Properties {
				keys = append(keys, k)
			}
		}
		out = map[string]any{}
		for _, k := range keys {
			switch schemaType(schema.Properties[k].Type) {
			case "number", "integer":
				out[k] = len(strings.Fields(text))
			case "boolean":
				out[k] = true
			default:
				out[k] = text
			}
		}
	}
	data, _ := json.Marshal(out) // keys sorted: deterministic
	return Answer{Tokens: pieces(string(data))}, true
}

// schemaType returns a JSON Schema's "type", the first that is not "null" of a list.
func schemaType(raw json.RawMessage) string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one
	}
	var list []string
	json.Unmarshal(raw, &list)
	for _, t := range list {
		if t != "null" {
			return t
		}
	}
	return ""
}

// pieces splits s the way a model streams JSON, in pieces of about 8 bytes (never inside
// a UTF-8 character), so that clients must join them.
func pieces(s string) []string {
	var out []string
	for len(s) > 8 {
		n := 8
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n++
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// The tool call shapes of answers.
type (
	toolCallDelta struct {
		Index    int               `json:"index"`
		ID       string            `json:"id,omitempty"`
		Type     string            `json:"type,omitempty"`
		Function functionCallDelta `json:"function"`
	}
	functionCallDelta struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}
)

// toolCallDeltas returns the chunks' deltas of the calls of an answer: for each, its
// start with empty arguments, then its arguments in pieces.
func toolCallDeltas(calls []ToolCall) [][]toolCallDelta {
	var out [][]toolCallDelta
	for k, c := range calls {
		out = append(out, []toolCallDelta{{Index: k, ID: c.ID, Type: "function", Function: functionCallDelta{Name: c.Function.Name}}})
		if c.Function.Arguments == "" {
			continue
		}
		for _, p := range pieces(c.Function.Arguments) {
			out = append(out, []toolCallDelta{{Index: k, Function: functionCallDelta{Arguments: p}}})
		}
	}
	return out
}

// callsOf joins deltas of calls back into calls, as a client does.
func callsOf(deltas [][]toolCallDelta) []ToolCall {
	var calls []ToolCall
	for _, ds := range deltas {
		for _, d := range ds {
			if d.ID != "" {
				calls = append(calls, Call(d.ID, d.Function.Name, ""))
			}
			calls[len(calls)-1].Function.Arguments += d.Function.Arguments
		}
	}
	return calls
}
