package genai

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Tool use: a request offers the model tools (each a name, a description and a JSON
// Schema of its input); the model answers with tool calls (BlockToolUse) and stop reason
// "tool_use"; the caller runs them and sends their results back (BlockToolResult) in the
// next user message. Each provider maps these values to and from its own wire shape.

// Limits on the tools of one request, to bound the work of checking them.
const (
	MaxTools          = 128       // tools in ChatRequest.Tools
	MaxToolNameLength = 64        // bytes of a tool name
	MaxToolSchemaSize = 64 << 10  // bytes of one tool's input schema
	MaxToolInputSize  = 256 << 10 // bytes of one tool call's input JSON
)

// StopToolUse is the stop reason of an answer that ends with tool calls.
const StopToolUse = "tool_use"

// Tool is a function the model may call.
type Tool struct {
	// Name matches ^[a-zA-Z0-9_-]{1,64}$ and is unique in a request.
	Name        string
	Description string
	// InputSchema is the JSON Schema of the tool's input: a JSON object whose "type" is
	// "object".
	InputSchema json.RawMessage
	// Strict asks that every call's input be valid against InputSchema (OpenAI's
	// strict): a call that is not fails the answer with EBADANSWER.
	Strict bool
}

// ToolChoiceType says how the model may use the tools.
type ToolChoiceType string

// The tool choices.
const (
	ToolChoiceAuto ToolChoiceType = "auto" // the model decides (the default)
	ToolChoiceAny  ToolChoiceType = "any"  // the model must call one of the tools
	ToolChoiceTool ToolChoiceType = "tool" // the model must call the tool ToolChoice.Name
	ToolChoiceNone ToolChoiceType = "none" // the model must not call a tool
)

// ToolChoice is how the model may use the tools; a nil *ToolChoice is ToolChoiceAuto.
type ToolChoice struct {
	Type ToolChoiceType
	Name string // for ToolChoiceTool
	// DisableParallel asks for at most one tool call per answer (Anthropic's
	// disable_parallel_tool_use, OpenAI's parallel_tool_calls: false). A provider that
	// cannot honour it refuses the request.
	DisableParallel bool
}

// ToolUse is the content of a BlockToolUse block: a call the model made.
type ToolUse struct {
	ID   string
	Name string
	// Input is the call's arguments, a JSON object.
	Input json.RawMessage
}

// ToolResult is the content of a BlockToolResult block: the outcome of the call
// ToolUseID, as text and image blocks (JSON is sent as text).
type ToolResult struct {
	ToolUseID string
	Content   []ContentBlock
	IsError   bool
}

// ToolUseEvent is a streamed tool call, in three steps on the Event of each: its start
// (ID and Name set), its input JSON as it arrives (InputDelta, pieces that join to the
// whole input), and its end (Done set, ID, Name and the whole Input). Index numbers the
// answer's tool calls from 0, so the pieces of calls streamed together can be told apart.
type ToolUseEvent struct {
	Index      int
	ID         string
	Name       string
	InputDelta string
	Done       bool
	Input      json.RawMessage // when Done
}

// UsesTools reports whether r offers tools, sets a tool choice, or holds tool calls or
// results in its messages: what a provider without tool support must refuse rather than
// drop.
func (r *ChatRequest) UsesTools() bool {
	if len(r.Tools) > 0 || r.ToolChoice != nil {
		return true
	}
	for _, m := range r.Messages {
		for _, b := range m.Content {
			if b.Type == BlockToolUse || b.Type == BlockToolResult {
				return true
			}
		}
	}
	return false
}

// ValidToolName reports whether name matches ^[a-zA-Z0-9_-]{1,64}$, the rule for tool
// names that Anthropic, Bedrock and OpenAI share.
func ValidToolName(name string) bool {
	if len(name) == 0 || len(name) > MaxToolNameLength {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isJSONObject reports whether data is one JSON object.
func isJSONObject(data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(data, &m) == nil
}

// validateTools checks the tools and the tool choice of r.
func (r *ChatRequest) validateTools() error {
	if len(r.Tools) > MaxTools {
		return Errorf(ETOOLARGE, "tools: at most %d tools, got %d", MaxTools, len(r.Tools))
	}
	names := make(map[string]bool, len(r.Tools))
	for i, t := range r.Tools {
		if !ValidToolName(t.Name) {
			return Errorf(EINVALID, "tools[%d].name: %q must match ^[a-zA-Z0-9_-]{1,64}$", i, t.Name)
		}
		if names[t.Name] {
			return Errorf(EINVALID, "tools[%d].name: %q is defined twice", i, t.Name)
		}
		names[t.Name] = true
		if len(t.InputSchema) > MaxToolSchemaSize {
			return Errorf(ETOOLARGE, "tools[%d].input_schema: %d bytes, over the limit of %d", i, len(t.InputSchema), MaxToolSchemaSize)
		}
		var schema struct {
			Type any `json:"type"`
		}
		if !isJSONObject(t.InputSchema) || json.Unmarshal(t.InputSchema, &schema) != nil {
			return Errorf(EINVALID, "tools[%d].input_schema: required, a JSON Schema object", i)
		}
		if schema.Type != "object" {
			return Errorf(EINVALID, "tools[%d].input_schema.type: must be \"object\", got %s", i, jsonText(schema.Type))
		}
	}
	c := r.ToolChoice
	if c == nil {
		return nil
	}
	switch c.Type {
	case ToolChoiceAuto, ToolChoiceNone:
	case ToolChoiceAny, ToolChoiceTool:
		if len(r.Tools) == 0 {
			return Errorf(EINVALID, "tool_choice.type: %q needs tools", c.Type)
		}
	default:
		return Errorf(EINVALID, "tool_choice.type: must be \"auto\", \"any\", \"tool\" or \"none\", got %q", c.Type)
	}
	if c.Type == ToolChoiceTool && !names[c.Name] {
		return Errorf(EINVALID, "tool_choice.name: %q is not one of the tools", c.Name)
	}
	if c.Type != ToolChoiceTool && c.Name != "" {
		return Errorf(EINVALID, "tool_choice.name: only with type \"tool\"")
	}
	return nil
}

// validateToolBlock checks a tool_use or tool_result block at messages[i].content[j]
// against the message it is in and the one before it. images counts the images of tool
// results.
func (r *ChatRequest) validateToolBlock(i, j int, images *int) error {
	m := r.Messages[i]
	b := m.Content[j]
	path := fmt.Sprintf("messages[%d].content[%d]", i, j)
	switch b.Type {
	case BlockToolUse:
		u := b.ToolUse
		if m.Role != RoleAssistant {
			return Errorf(EINVALID, "%s: tool_use blocks are allowed only in assistant messages", path)
		}
		if u == nil || u.ID == "" {
			return Errorf(EINVALID, "%s.id: required", path)
		}
		if !ValidToolName(u.Name) {
			return Errorf(EINVALID, "%s.name: %q must match ^[a-zA-Z0-9_-]{1,64}$", path, u.Name)
		}
		if len(u.Input) > MaxToolInputSize {
			return Errorf(ETOOLARGE, "%s.input: %d bytes, over the limit of %d", path, len(u.Input), MaxToolInputSize)
		}
		if !isJSONObject(u.Input) {
			return Errorf(EINVALID, "%s.input: must be a JSON object", path)
		}
		for _, o := range m.Content[:j] {
			if o.Type == BlockToolUse && o.ToolUse.ID == u.ID {
				return Errorf(EINVALID, "%s.id: %q is used twice in the message", path, u.ID)
			}
		}
	case BlockToolResult:
		res := b.ToolResult
		if m.Role != RoleUser {
			return Errorf(EINVALID, "%s: tool_result blocks are allowed only in user messages", path)
		}
		if res == nil || res.ToolUseID == "" {
			return Errorf(EINVALID, "%s.tool_use_id: required", path)
		}
		if i == 0 || !hasToolUse(r.Messages[i-1], res.ToolUseID) {
			return Errorf(EINVALID, "%s.tool_use_id: %q is not a tool_use of the assistant message before it", path, res.ToolUseID)
		}
		for k, c := range res.Content {
			switch c.Type {
			case BlockText:
			case BlockImage:
				if c.Image == nil || len(c.Image.Data) == 0 {
					return Errorf(EINVALID, "%s.content[%d].source: required for an image block", path, k)
				}
				if len(c.Image.Data) > MaxImageBytes {
					return Errorf(ETOOLARGE, "%s.content[%d].source.data: image is %d bytes, over the limit of %d", path, k, len(c.Image.Data), MaxImageBytes)
				}
				*images++
			default:
				return Errorf(EINVALID, "%s.content[%d].type: %q is not \"text\" or \"image\"", path, k, c.Type)
			}
		}
	}
	return nil
}

func hasToolUse(m Message, id string) bool {
	if m.Role != RoleAssistant {
		return false
	}
	for _, b := range m.Content {
		if b.Type == BlockToolUse && b.ToolUse != nil && b.ToolUse.ID == id {
			return true
		}
	}
	return false
}

// jsonText shows a decoded JSON value in an error message.
func jsonText(v any) string {
	if v == nil {
		return "nothing"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// validateResponseFormat checks r.ResponseFormat: a known type, and for json_schema a
// tool-style name and a JSON Schema object.
func (r *ChatRequest) validateResponseFormat() error {
	f := r.ResponseFormat
	if f == nil {
		return nil
	}
	switch f.Type {
	case FormatJSONObject:
		if f.Name != "" || len(f.Schema) > 0 || f.Strict {
			return Errorf(EINVALID, "response_format: a name, schema or strict only with type \"json_schema\"")
		}
	case FormatJSONSchema:
		if !ValidToolName(f.Name) {
			return Errorf(EINVALID, "response_format.json_schema.name: %q must match ^[a-zA-Z0-9_-]{1,64}$", f.Name)
		}
		if len(f.Schema) > MaxToolSchemaSize {
			return Errorf(ETOOLARGE, "response_format.json_schema.schema: %d bytes, over the limit of %d", len(f.Schema), MaxToolSchemaSize)
		}
		if !isJSONObject(f.Schema) {
			return Errorf(EINVALID, "response_format.json_schema.schema: required, a JSON Schema object")
		}
	default:
		return Errorf(EINVALID, "response_format.type: must be \"json_object\" or \"json_schema\", got %q", f.Type)
	}
	return nil
}
