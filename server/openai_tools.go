package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"genai"
)

// Function calling and structured answers on /v1/chat/completions, in OpenAI's shapes:
// tools, tool_choice, parallel_tool_calls, assistant tool_calls and tool messages in;
// tool_calls, finish_reason "tool_calls" and their streamed deltas out; response_format.

type oaiToolCall struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Function oaiFunctionCall `json:"function"`
}

type oaiFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	// ParsedArguments is the openai npm client's parse of Arguments, which it sends
	// back with the call; a copy, ignored.
	ParsedArguments json.RawMessage `json:"parsed_arguments,omitempty"`
}

type oaiTool struct {
	Type     string           `json:"type"`
	Function *json.RawMessage `json:"function"`
}

type oaiFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

type oaiResponseFormat struct {
	Type       string           `json:"type"`
	JSONSchema *json.RawMessage `json:"json_schema"`
}

type oaiJSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Strict      *bool           `json:"strict"`
}

// emptySchema is the input schema of a function declared without parameters, as OpenAI
// takes it: an object with no properties.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// present reports whether raw holds a JSON value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// decodeObject decodes the JSON object raw at path into v, refusing fields v lacks.
func decodeObject(raw json.RawMessage, path string, v any) error {
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return genai.Errorf(genai.EINVALID, "%s: expected an object", path)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return genai.Errorf(genai.EINVALID, "%s: %v", path, err)
	}
	return genai.RefuseUnknown(raw, path+".", v)
}

// parseOAITools reads the tools array: function tools only.
func parseOAITools(raws []json.RawMessage) ([]genai.Tool, error) {
	if len(raws) > genai.MaxTools {
		return nil, genai.Errorf(genai.ETOOLARGE, "tools: at most %d tools, got %d", genai.MaxTools, len(raws))
	}
	tools := make([]genai.Tool, 0, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d]", i)
		var t oaiTool
		if err := decodeObject(raw, path, &t); err != nil {
			return nil, err
		}
		if t.Type != "function" {
			return nil, genai.Errorf(genai.EINVALID, "%s.type: only \"function\" tools are supported, got %q", path, t.Type)
		}
		if t.Function == nil {
			return nil, genai.Errorf(genai.EINVALID, "%s.function: required", path)
		}
		var f oaiFunction
		if err := decodeObject(*t.Function, path+".function", &f); err != nil {
			return nil, err
		}
		schema := f.Parameters
		if !present(schema) {
			schema = emptySchema
		}
		tool := genai.Tool{Name: f.Name, Description: f.Description, InputSchema: schema, Strict: f.Strict != nil && *f.Strict}
		tools = append(tools, tool)
	}
	return tools, nil
}

// parseOAIToolChoice reads tool_choice ("none", "auto", "required", or a named
// function) and parallel_tool_calls.
func parseOAIToolChoice(raw json.RawMessage, parallel *bool, tools []genai.Tool) (*genai.ToolChoice, error) {
	var c *genai.ToolChoice
	if present(raw) {
		var word string
		if json.Unmarshal(raw, &word) == nil {
			switch word {
			case "auto":
				c = &genai.ToolChoice{Type: genai.ToolChoiceAuto}
			case "none":
				c = &genai.ToolChoice{Type: genai.ToolChoiceNone}
			case "required":
				c = &genai.ToolChoice{Type: genai.ToolChoiceAny}
			default:
				return nil, genai.Errorf(genai.EINVALID, "tool_choice: must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}, got %q", word)
			}
		} else {
			var named struct {
				Type     string           `json:"type"`
				Function *json.RawMessage `json:"function"`
			}
			if err := decodeObject(raw, "tool_choice", &named); err != nil {
				return nil, err
			}
			if named.Type != "function" || named.Function == nil {
				return nil, genai.Errorf(genai.EINVALID, "tool_choice: only {\"type\": \"function\", \"function\": {\"name\": …}} names a tool")
			}
			var fn struct {
				Name string `json:"name"`
			}
			if err := decodeObject(*named.Function, "tool_choice.function", &fn); err != nil {
				return nil, err
			}
			c = &genai.ToolChoice{Type: genai.ToolChoiceTool, Name: fn.Name}
		}
	}
	if parallel != nil {
		if len(tools) == 0 {
			return nil, genai.Errorf(genai.EINVALID, "parallel_tool_calls: only allowed when tools are specified")
		}
		if !*parallel {
			if c == nil {
				c = &genai.ToolChoice{Type: genai.ToolChoiceAuto}
			}
			c.DisableParallel = true
		}
	}
	return c, nil
}

// parseOAIResponseFormat reads response_format: text (nil), json_object or json_schema.
func parseOAIResponseFormat(raw json.RawMessage) (*genai.ResponseFormat, error) {
	if !present(raw) {
		return nil, nil
	}
	var rf oaiResponseFormat
	if err := decodeObject(raw, "response_format", &rf); err != nil {
		return nil, err
	}
	switch rf.Type {
	case "text":
		if rf.JSONSchema != nil {
			return nil, genai.Errorf(genai.EINVALID, "response_format.json_schema: only with type \"json_schema\"")
		}
		return nil, nil
	case "json_object":
		if rf.JSONSchema != nil {
			return nil, genai.Errorf(genai.EINVALID, "response_format.json_schema: only with type \"json_schema\"")
		}
		return &genai.ResponseFormat{Type: genai.FormatJSONObject}, nil
	case "json_schema":
		if rf.JSONSchema == nil {
			return nil, genai.Errorf(genai.EINVALID, "response_format.json_schema: required with type \"json_schema\"")
		}
		var js oaiJSONSchema
		if err := decodeObject(*rf.JSONSchema, "response_format.json_schema", &js); err != nil {
			return nil, err
		}
		schema := js.Schema
		if !present(schema) {
			return nil, genai.Errorf(genai.EINVALID, "response_format.json_schema.schema: required")
		}
		return &genai.ResponseFormat{Type: genai.FormatJSONSchema, Name: js.Name, Description: js.Description, Schema: schema, Strict: js.Strict != nil && *js.Strict}, nil
	}
	return nil, genai.Errorf(genai.EINVALID, "response_format.type: must be \"text\", \"json_object\" or \"json_schema\", got %q", rf.Type)
}

// oaiToolUses reads an assistant message's tool_calls as tool_use blocks; each call's
// arguments must be a JSON object ("" is taken as {}).
func oaiToolUses(calls []oaiToolCall, path string) ([]genai.ContentBlock, error) {
	blocks := make([]genai.ContentBlock, len(calls))
	for k, c := range calls {
		p := fmt.Sprintf("%s.tool_calls[%d]", path, k)
		if c.Type != "function" {
			return nil, genai.Errorf(genai.EINVALID, "%s.type: must be \"function\", got %q", p, c.Type)
		}
		args := []byte(c.Function.Arguments)
		if len(bytes.TrimSpace(args)) == 0 {
			args = []byte("{}")
		}
		var compact bytes.Buffer
		if !json.Valid(args) || json.Compact(&compact, args) != nil || compact.Bytes()[0] != '{' {
			return nil, genai.Errorf(genai.EINVALID, "%s.function.arguments: must be a JSON object in a string", p)
		}
		blocks[k] = genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: c.ID, Name: c.Function.Name, Input: compact.Bytes()}}
	}
	return blocks, nil
}

// oaiToolResult reads a tool message as a tool_result block: its content is a string or
// text parts.
func oaiToolResult(m oaiMessage, path string) (genai.ContentBlock, error) {
	if m.ToolCallID == "" {
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.tool_call_id: required in a tool message", path)
	}
	res := &genai.ToolResult{ToolUseID: m.ToolCallID}
	blocks, err := oaiContent(m.Content, path)
	if err != nil {
		return genai.ContentBlock{}, err
	}
	for j, b := range blocks {
		if b.Type != genai.BlockText {
			return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.content[%d]: a tool message takes text only", path, j)
		}
		if b.Text != "" {
			res.Content = append(res.Content, b)
		}
	}
	return genai.ContentBlock{Type: genai.BlockToolResult, ToolResult: res}, nil
}

// oaiConversation turns OpenAI's messages into the system prompt and the domain's
// messages. A run of tool messages becomes one user message of tool results, joined by
// the user message that may follow it, since the domain (like Anthropic and Bedrock)
// wants every result of an assistant's calls in the next user turn.
func oaiConversation(in []oaiMessage) (string, []genai.Message, error) {
	var system []string
	var msgs []genai.Message
	afterTool := false // the last domain message was made of tool messages
	for i, m := range in {
		path := fmt.Sprintf("messages[%d]", i)
		if m.Role != "tool" && m.ToolCallID != "" {
			return "", nil, genai.Errorf(genai.EINVALID, "%s.tool_call_id: only in a tool message", path)
		}
		if m.Role != "assistant" && m.ToolCalls != nil {
			return "", nil, genai.Errorf(genai.EINVALID, "%s.tool_calls: only in an assistant message", path)
		}
		if m.Role != "assistant" && m.Refusal != nil {
			return "", nil, genai.Errorf(genai.EINVALID, "%s.refusal: only in an assistant message", path)
		}
		if present(m.Audio) || present(m.FunctionCall) {
			return "", nil, genai.Errorf(genai.EINVALID, "%s: audio and function_call are not supported by this server (use tool_calls)", path)
		}
		if present(m.Annotations) && string(m.Annotations) != "[]" {
			return "", nil, genai.Errorf(genai.EINVALID, "%s.annotations: not supported by this server; send [] or leave it out", path)
		}
		switch m.Role {
		case "system", "developer":
			blocks, err := oaiContent(m.Content, path)
			if err != nil {
				return "", nil, err
			}
			for j, b := range blocks {
				if b.Type != genai.BlockText {
					return "", nil, genai.Errorf(genai.EINVALID, "%s.content[%d]: a system message takes text only", path, j)
				}
				system = append(system, b.Text)
			}
		case "user":
			blocks, err := oaiContent(m.Content, path)
			if err != nil {
				return "", nil, err
			}
			if afterTool {
				last := &msgs[len(msgs)-1]
				last.Content = append(last.Content, blocks...)
			} else {
				msgs = append(msgs, genai.Message{Role: genai.RoleUser, Content: blocks})
			}
			afterTool = false
		case "assistant":
			var blocks []genai.ContentBlock
			// An assistant message that calls tools may have no content.
			if present(m.Content) || len(m.ToolCalls) == 0 && m.Refusal == nil {
				text, err := oaiContent(m.Content, path)
				if err != nil {
					return "", nil, err
				}
				for _, b := range text {
					if b.Type == genai.BlockText && b.Text == "" && len(m.ToolCalls) > 0 {
						continue
					}
					blocks = append(blocks, b)
				}
			}
			if m.Refusal != nil && *m.Refusal != "" {
				blocks = append(blocks, genai.ContentBlock{Type: genai.BlockText, Text: *m.Refusal})
			}
			calls, err := oaiToolUses(m.ToolCalls, path)
			if err != nil {
				return "", nil, err
			}
			msgs = append(msgs, genai.Message{Role: genai.RoleAssistant, Content: append(blocks, calls...)})
			afterTool = false
		case "tool":
			b, err := oaiToolResult(m, path)
			if err != nil {
				return "", nil, err
			}
			if afterTool {
				last := &msgs[len(msgs)-1]
				last.Content = append(last.Content, b)
			} else {
				msgs = append(msgs, genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{b}})
			}
			afterTool = true
		default:
			return "", nil, genai.Errorf(genai.EINVALID, "%s.role: %q is not system, developer, user, assistant or tool", path, m.Role)
		}
	}
	return strings.Join(system, "\n\n"), msgs, nil
}

// oaiFinishReason maps a stop reason to OpenAI's finish_reason.
func oaiFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "max_steps":
		return "length"
	case genai.StopToolUse:
		return "tool_calls"
	}
	return "stop"
}

// oaiAnswer is the message of a whole answer: its text (null when it has none but tool
// calls) and its calls of the client's tools. Server tools have run already; their
// calls are not the client's to answer, so they are not listed.
func oaiAnswer(resp *genai.ChatResponse, clientTools []genai.Tool) map[string]any {
	msg := map[string]any{"role": "assistant", "content": resp.Text}
	var calls []oaiToolCall
	for _, b := range resp.Content {
		if b.Type == genai.BlockToolUse && isClientTool(clientTools, b.ToolUse.Name) {
			calls = append(calls, oaiToolCall{ID: b.ToolUse.ID, Type: "function", Function: oaiFunctionCall{Name: b.ToolUse.Name, Arguments: string(b.ToolUse.Input)}})
		}
	}
	if len(calls) > 0 {
		msg["tool_calls"] = calls
		if resp.Text == "" {
			msg["content"] = nil
		}
	}
	return msg
}

func isClientTool(tools []genai.Tool, name string) bool {
	return slices.ContainsFunc(tools, func(t genai.Tool) bool { return t.Name == name })
}

// oaiToolDeltas turns the streamed tool-call events of an answer into OpenAI's
// tool_calls deltas, numbering the client's calls from 0 as OpenAI's clients expect
// (the agent numbers every call, its own included, across its steps).
type oaiToolDeltas struct {
	clientTools []genai.Tool
	index       map[int]int // event index → client call index
}

// delta returns the delta of ev, or nil for a call the client does not see: the end of
// a call (its input has streamed already) or a call of a server tool.
func (d *oaiToolDeltas) delta(ev *genai.ToolUseEvent) map[string]any {
	if d.index == nil {
		d.index = map[int]int{}
	}
	i, known := d.index[ev.Index]
	switch {
	case ev.Done:
		return nil
	case ev.ID != "": // the call's start
		if !isClientTool(d.clientTools, ev.Name) {
			return nil
		}
		i = len(d.index)
		d.index[ev.Index] = i
		return map[string]any{"tool_calls": []map[string]any{{
			"index": i, "id": ev.ID, "type": "function",
			"function": map[string]any{"name": ev.Name, "arguments": ""},
		}}}
	case !known:
		return nil
	}
	return map[string]any{"tool_calls": []map[string]any{{
		"index": i, "function": map[string]any{"arguments": ev.InputDelta},
	}}}
}
