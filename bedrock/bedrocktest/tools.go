package bedrocktest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tool use, as Converse does it: the request's toolConfig (recorded in
// Request.ToolConfig), toolUse blocks in assistant messages and toolResult blocks in user
// messages, checked by the rules the real service enforces; and answers that call tools,
// streamed as contentBlockStart (toolUse id and name), contentBlockDelta (pieces of the
// input JSON) and contentBlockStop for each call, with stop reason "tool_use".

// ToolConfig is the toolConfig of a Request.
type ToolConfig struct {
	Tools      []ToolEntry `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice"`
}

// ToolEntry is one tool of a ToolConfig.
type ToolEntry struct {
	ToolSpec *ToolSpec `json:"toolSpec"`
}

// ToolSpec is a tool's specification; InputSchema.JSON is the schema exactly as sent.
type ToolSpec struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Strict      *bool   `json:"strict"`
	InputSchema struct {
		JSON json.RawMessage `json:"json"`
	} `json:"inputSchema"`
}

// ToolChoice is the toolChoice of a ToolConfig: one of its fields is set.
type ToolChoice struct {
	Auto *struct{} `json:"auto,omitempty"`
	Any  *struct{} `json:"any,omitempty"`
	Tool *struct {
		Name string `json:"name"`
	} `json:"tool,omitempty"`
}

// ToolUseBlock is a tool call in a Message.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// ToolResultBlock is a tool result in a Message.
type ToolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"`
}

// ToolResultContent is one block of a ToolResultBlock: text, json or an image.
type ToolResultContent struct {
	Text  *string         `json:"text,omitempty"`
	JSON  json.RawMessage `json:"json,omitempty"`
	Image *ImageBlock     `json:"image,omitempty"`
}

// ToolCall is a tool call a Reply makes.
type ToolCall struct {
	ID, Name string
	Input    string // a JSON object
}

// toolChoiceModels are the model families that take toolChoice "any" or "tool"; others
// refuse them as Bedrock does.
var toolChoiceModels = []string{"anthropic.", "amazon.nova", "mistral.mistral-large"}

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// validateTools applies Converse's rules for tools, returning Bedrock's message for the
// first broken one, or "".
func validateTools(req *Request) string {
	hasBlocks := false
	for i, m := range req.Messages {
		var calls []string
		for j, b := range m.Content {
			switch {
			case b.ToolUse != nil:
				hasBlocks = true
				if m.Role != "assistant" {
					return fmt.Sprintf("messages.%d.content.%d: toolUse is allowed only in assistant messages", i, j)
				}
				calls = append(calls, b.ToolUse.ToolUseID)
			case b.ToolResult != nil:
				hasBlocks = true
				if m.Role != "user" {
					return fmt.Sprintf("messages.%d.content.%d: toolResult is allowed only in user messages", i, j)
				}
				if len(b.ToolResult.Content) == 0 {
					return fmt.Sprintf("messages.%d.content.%d.toolResult.content: must not be empty", i, j)
				}
			}
		}
		if len(calls) == 0 {
			continue
		}
		var results []string
		if i+1 < len(req.Messages) {
			for _, b := range req.Messages[i+1].Content {
				if b.ToolResult != nil {
					results = append(results, b.ToolResult.ToolUseID)
				}
			}
		}
		sort.Strings(calls)
		sort.Strings(results)
		if strings.Join(calls, ",") != strings.Join(results, ",") {
			return fmt.Sprintf("Expected toolResult blocks at messages.%d.content for the following Ids: %s, but found: %s", i+1, strings.Join(calls, ", "), strings.Join(results, ", "))
		}
	}
	cfg := req.ToolConfig
	if cfg == nil {
		if hasBlocks {
			return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
		}
		return ""
	}
	if len(cfg.Tools) == 0 {
		return "toolConfig.tools: must hold at least one tool"
	}
	names := map[string]bool{}
	for i, t := range cfg.Tools {
		s := t.ToolSpec
		if s == nil {
			return fmt.Sprintf("toolConfig.tools.%d: only toolSpec is served", i)
		}
		if !toolNameRE.MatchString(s.Name) {
			return fmt.Sprintf("toolConfig.tools.%d.toolSpec.name: %q must match ^[a-zA-Z0-9_-]{1,64}$", i, s.Name)
		}
		if names[s.Name] {
			return fmt.Sprintf("toolConfig.tools.%d.toolSpec.name: the tool name %q is not unique", i, s.Name)
		}
		names[s.Name] = true
		if s.Description != nil && *s.Description == "" {
			return fmt.Sprintf("toolConfig.tools.%d.toolSpec.description: must have length at least 1", i)
		}
		var schema map[string]json.RawMessage
		if err := json.Unmarshal(s.InputSchema.JSON, &schema); err != nil || schema == nil {
			return fmt.Sprintf("The format of the value at toolConfig.tools.%d.toolSpec.inputSchema.json is invalid. Provide a json object for the field and try again.", i)
		}
		if string(schema["type"]) != `"object"` {
			return fmt.Sprintf("The value at toolConfig.tools.%d.toolSpec.inputSchema.json.type must be one of the following: object.", i)
		}
		if p, ok := schema["properties"]; ok && !strings.HasPrefix(strings.TrimSpace(string(p)), "{") {
			return fmt.Sprintf("The value at toolConfig.tools.%d.toolSpec.inputSchema.json.properties must be an object.", i)
		}
	}
	for i, m := range req.Messages {
		for j, b := range m.Content {
			if b.ToolUse != nil && !names[b.ToolUse.Name] {
				return fmt.Sprintf("messages.%d.content.%d.toolUse.name: tool %q is not in toolConfig", i, j, b.ToolUse.Name)
			}
		}
	}
	if c := cfg.ToolChoice; c != nil {
		field := ""
		switch {
		case c.Any != nil:
			field = "any"
		case c.Tool != nil:
			field = "tool"
			if !names[c.Tool.Name] {
				return fmt.Sprintf("toolConfig.toolChoice.tool.name: %q is not one of the tools", c.Tool.Name)
			}
		}
		if field != "" && !modelTakesToolChoice(req.ModelID) {
			return fmt.Sprintf("This model doesn't support the toolConfig.toolChoice.%s field. Remove toolConfig.toolChoice.%s and try again.", field, field)
		}
	}
	return ""
}

func modelTakesToolChoice(model string) bool {
	for _, f := range toolChoiceModels {
		if strings.Contains(model, f) {
			return true
		}
	}
	return false
}

// lastToolResults returns the toolResult blocks of the last user message.
func (r *Request) lastToolResults() []*ToolResultBlock {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if m := r.Messages[i]; m.Role == "user" {
			var out []*ToolResultBlock
			for _, b := range m.Content {
				if b.ToolResult != nil {
					out = append(out, b.ToolResult)
				}
			}
			return out
		}
	}
	return nil
}

// ToolReply is EchoReply's answer to a request with tools, deterministic so tests can be
// exact. When the last user message holds tool results, it answers text that quotes
// each ("Tool <id> returned <text or json>." for each, images as "[image <format>, <n>
// bytes]", "Tool <id> failed: …" for an error), so a test sees that the results reached
// the model. Otherwise it calls one tool, the named tool choice or else the first tool,
// after the text "Calling <name>.", with the input {"<key>":"<last user text>"}, where
// key is the first entry of the schema's "required", else "input". It returns false when
// the request has no tools.
func ToolReply(req *Request) (Reply, bool) {
	if results := req.lastToolResults(); len(results) > 0 {
		var parts []string
		for _, r := range results {
			var content []string
			for _, c := range r.Content {
				switch {
				case c.Text != nil:
					content = append(content, *c.Text)
				case c.JSON != nil:
					content = append(content, string(c.JSON))
				case c.Image != nil:
					content = append(content, fmt.Sprintf("[image %s, %d bytes]", c.Image.Format, len(c.Image.Source.Bytes)))
				}
			}
			verb := "returned"
			if r.Status == "error" {
				verb = "failed:"
			}
			parts = append(parts, fmt.Sprintf("Tool %s %s %s.", r.ToolUseID, verb, strings.Join(content, " ")))
		}
		return Reply{Tokens: strings.SplitAfter(strings.Join(parts, " "), " ")}, true
	}
	if req.ToolConfig == nil || len(req.ToolConfig.Tools) == 0 {
		return Reply{}, false
	}
	spec := req.ToolConfig.Tools[0].ToolSpec
	if c := req.ToolConfig.ToolChoice; c != nil && c.Tool != nil {
		for _, t := range req.ToolConfig.Tools {
			if t.ToolSpec.Name == c.Tool.Name {
				spec = t.ToolSpec
			}
		}
	}
	var schema struct {
		Required []string `json:"required"`
	}
	json.Unmarshal(spec.InputSchema.JSON, &schema)
	key := "input"
	if len(schema.Required) > 0 {
		key = schema.Required[0]
	}
	input, _ := json.Marshal(map[string]string{key: req.LastUserText()})
	return Reply{
		Tokens:   []string{"Calling ", spec.Name + "."},
		ToolUses: []ToolCall{{ID: fmt.Sprintf("tooluse_%d_0", len(req.Messages)), Name: spec.Name, Input: string(input)}},
	}, true
}

// inputPieces splits a tool call's input JSON the way a model streams it, in pieces of
// about 8 bytes (never inside a UTF-8 character), so clients must join them.
func inputPieces(input string) []string {
	var out []string
	for len(input) > 8 {
		n := 8
		for n < len(input) && !utf8.RuneStart(input[n]) {
			n++
		}
		out = append(out, input[:n])
		input = input[n:]
	}
	return append(out, input)
}

type (
	toolStartEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Start             struct {
			ToolUse struct {
				ToolUseID string `json:"toolUseId"`
				Name      string `json:"name"`
			} `json:"toolUse"`
		} `json:"start"`
	}
	toolDeltaEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
		Delta             struct {
			ToolUse struct {
				Input string `json:"input"`
			} `json:"toolUse"`
		} `json:"delta"`
	}
)

// streamToolCalls sends the calls of a reply as content blocks from index first.
func streamToolCalls(ew *eventWriter, first int, calls []ToolCall) error {
	for k, c := range calls {
		var start toolStartEvent
		start.ContentBlockIndex = first + k
		start.Start.ToolUse.ToolUseID, start.Start.ToolUse.Name = c.ID, c.Name
		if err := ew.event("contentBlockStart", &start); err != nil {
			return err
		}
		for _, piece := range inputPieces(c.Input) {
			var d toolDeltaEvent
			d.ContentBlockIndex = first + k
			d.Delta.ToolUse.Input = piece
			if err := ew.event("contentBlockDelta", &d); err != nil {
				return err
			}
		}
		if err := ew.event("contentBlockStop", blockStopEvent{ContentBlockIndex: first + k}); err != nil {
			return err
		}
	}
	return nil
}

// toolUseBlocks returns the calls of a reply as Converse content blocks.
func toolUseBlocks(calls []ToolCall) []ContentBlock {
	var out []ContentBlock
	for _, c := range calls {
		out = append(out, ContentBlock{ToolUse: &ToolUseBlock{ToolUseID: c.ID, Name: c.Name, Input: json.RawMessage(c.Input)}})
	}
	return out
}
