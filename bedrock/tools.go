package bedrock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"genai"
)

// This file maps the domain's tools to Converse's toolConfig, toolUse and toolResult,
// and Bedrock's streamed and whole tool calls back to the domain.

// emptyObjectSchema is the input schema of a tool the history used but the request did
// not define. It keeps "properties" as an empty object: Bedrock's JSON Schema check
// wants an object there, and a Go encoder that drops or nulls an empty map breaks it.
var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

// toolConfig returns the toolConfig of a request, or nil when it needs none.
//
// Bedrock refuses a conversation whose history holds toolUse or toolResult blocks unless
// the request carries a toolConfig ("The toolConfig field must be defined when using
// toolUse and toolResult content blocks"), whereas Anthropic's and OpenAI's APIs let a
// client send the history without its tools. So the tools the history used are always
// declared: with the client's definition when it sent one, else with an input schema
// that takes any object. strict says whether the model takes strict tools (Bedrock's
// structured outputs). With tool choice "none", which Converse lacks, only those are
// sent, with no toolChoice: the model is offered nothing new, but a model may still call
// one of them, which Bedrock gives no way to forbid.
func toolConfig(req *genai.ChatRequest, strict bool) (*types.ToolConfiguration, error) {
	none := req.ToolChoice != nil && req.ToolChoice.Type == genai.ToolChoiceNone
	var tools []genai.Tool
	if !none {
		tools = append(tools, req.Tools...)
	}
	defined := make(map[string]bool, len(tools))
	for _, t := range tools {
		defined[t.Name] = true
	}
	for _, name := range historyToolNames(req.Messages) {
		if defined[name] {
			continue
		}
		defined[name] = true
		t := genai.Tool{Name: name, InputSchema: emptyObjectSchema}
		for _, d := range req.Tools {
			if d.Name == name {
				t = d
			}
		}
		tools = append(tools, t)
	}
	if len(tools) == 0 {
		return nil, nil
	}
	cfg := &types.ToolConfiguration{Tools: make([]types.Tool, len(tools))}
	for i, t := range tools {
		schema, err := documentOf(t.InputSchema, fmt.Sprintf("tools[%d].input_schema", i))
		if err != nil {
			return nil, err
		}
		spec := types.ToolSpecification{
			Name:        aws.String(t.Name),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: schema},
		}
		if t.Description != "" { // Bedrock refuses an empty description
			spec.Description = aws.String(t.Description)
		}
		if t.Strict && strict { // else genai's own check of the answer holds the call to its schema
			spec.Strict = aws.Bool(true)
		}
		cfg.Tools[i] = &types.ToolMemberToolSpec{Value: spec}
	}
	if c := req.ToolChoice; c != nil {
		switch c.Type {
		case genai.ToolChoiceAuto:
			cfg.ToolChoice = &types.ToolChoiceMemberAuto{}
		case genai.ToolChoiceAny:
			cfg.ToolChoice = &types.ToolChoiceMemberAny{}
		case genai.ToolChoiceTool:
			cfg.ToolChoice = &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(c.Name)}}
		}
	}
	return cfg, nil
}

// historyToolNames returns the names of the tools called in msgs, in order of first use.
func historyToolNames(msgs []genai.Message) []string {
	var names []string
	seen := map[string]bool{}
	for _, m := range msgs {
		for _, b := range m.Content {
			if b.Type == genai.BlockToolUse && !seen[b.ToolUse.Name] {
				seen[b.ToolUse.Name] = true
				names = append(names, b.ToolUse.Name)
			}
		}
	}
	return names
}

// toolBlock maps a tool_use or tool_result block at path to Converse's.
func toolBlock(b genai.ContentBlock, path string) (types.ContentBlock, error) {
	if b.Type == genai.BlockToolUse {
		input, err := documentOf(b.ToolUse.Input, path+".input")
		if err != nil {
			return nil, err
		}
		return &types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String(b.ToolUse.ID), Name: aws.String(b.ToolUse.Name), Input: input,
		}}, nil
	}
	r := b.ToolResult
	res := types.ToolResultBlock{ToolUseId: aws.String(r.ToolUseID), Content: make([]types.ToolResultContentBlock, len(r.Content))}
	if r.IsError {
		// Only on error: the status field is known to Claude and Nova models only, and
		// success is what its absence means.
		res.Status = types.ToolResultStatusError
	}
	for k, c := range r.Content {
		switch c.Type {
		case genai.BlockText:
			// A result that is a JSON object goes as Converse's json block, which models
			// that take structured results read as such; any other text as text.
			if doc, err := documentOf(json.RawMessage(c.Text), ""); err == nil && jsonObject(c.Text) {
				res.Content[k] = &types.ToolResultContentBlockMemberJson{Value: doc}
			} else {
				res.Content[k] = &types.ToolResultContentBlockMemberText{Value: c.Text}
			}
		case genai.BlockImage:
			format, ok := imageFormats[c.Image.Format]
			if !ok {
				return nil, genai.Errorf(genai.EMEDIATYPE, "%s.content[%d]: image format %q is not png, jpeg, gif or webp", path, k, c.Image.Format)
			}
			res.Content[k] = &types.ToolResultContentBlockMemberImage{Value: types.ImageBlock{
				Format: format, Source: &types.ImageSourceMemberBytes{Value: c.Image.Data},
			}}
		}
	}
	return &types.ContentBlockMemberToolResult{Value: res}, nil
}

func jsonObject(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") && json.Valid([]byte(s))
}

// documentOf returns the JSON value raw as a Smithy document. The value is decoded to
// Go values first because the document encoder marshals Go values by reflection (a
// json.RawMessage would go as a base64 string); integers stay integers. An object with
// an empty key, which the encoder cannot send, is refused naming path.
func documentOf(raw json.RawMessage, path string) (document.Interface, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: not valid JSON: %v", path, err)
	}
	v, err := documentValue(v)
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: %v", path, err)
	}
	return document.NewLazyDocument(v), nil
}

var errEmptyKey = errors.New("an object key is empty, which Bedrock cannot take")

func documentValue(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("the number %s is out of range", v)
		}
		return f, nil
	case map[string]any:
		for k, e := range v {
			if k == "" {
				return nil, errEmptyKey
			}
			var err error
			if v[k], err = documentValue(e); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = documentValue(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// answerContent maps the content of a Converse answer to the domain's blocks, returning
// them and their text joined.
func answerContent(model string, blocks []types.ContentBlock) ([]genai.ContentBlock, string, error) {
	var out []genai.ContentBlock
	var text strings.Builder
	for _, b := range blocks {
		switch b := b.(type) {
		case *types.ContentBlockMemberText:
			text.WriteString(b.Value)
			out = append(out, genai.ContentBlock{Type: genai.BlockText, Text: b.Value})
		case *types.ContentBlockMemberReasoningContent:
			if t := answerThinking(b); t != nil {
				out = append(out, genai.ContentBlock{Type: genai.BlockThinking, Thinking: t})
			}
		case *types.ContentBlockMemberToolUse:
			input := json.RawMessage(`{}`)
			if b.Value.Input != nil {
				data, err := b.Value.Input.MarshalSmithyDocument()
				if err != nil || !jsonObject(string(data)) {
					return nil, "", genai.Errorf(genai.EUPSTREAM, "Bedrock model %s: tool call %s has an input that is not a JSON object", model, aws.ToString(b.Value.ToolUseId))
				}
				input = data
			}
			out = append(out, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{
				ID: aws.ToString(b.Value.ToolUseId), Name: aws.ToString(b.Value.Name), Input: input,
			}})
		}
	}
	return out, text.String(), nil
}

// toolStream assembles the tool calls of a ConverseStream answer, which arrive as
// contentBlockStart (id and name), contentBlockDelta (pieces of the input JSON) and
// contentBlockStop, keyed by the content block's index; several can be in one answer.
type toolStream struct {
	model string
	open  map[int]*streamedCall // by contentBlockIndex
	calls int
}

type streamedCall struct {
	index    int
	id, name string
	input    strings.Builder
}

// event returns the domain event for a stream event, or nil when it is not a tool
// call's, or an error when the model's call is malformed.
func (t *toolStream) event(ev *streamEvent) (*genai.ToolUseEvent, error) {
	switch ev.kind {
	case "contentBlockStart":
		u := ev.Start.ToolUse
		if u == nil {
			return nil, nil
		}
		if t.open == nil {
			t.open = map[int]*streamedCall{}
		}
		c := &streamedCall{index: t.calls, id: u.ToolUseID, name: u.Name}
		t.calls++
		t.open[ev.ContentBlockIndex] = c
		return &genai.ToolUseEvent{Index: c.index, ID: c.id, Name: c.name}, nil
	case "contentBlockDelta":
		if ev.Delta.ToolUse == nil {
			return nil, nil
		}
		c := t.open[ev.ContentBlockIndex]
		if c == nil {
			return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock model %s: tool input for content block %d, which did not start a tool call", t.model, ev.ContentBlockIndex)
		}
		if len(c.input.String())+len(ev.Delta.ToolUse.Input) > genai.MaxToolInputSize {
			return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock model %s: tool call %s has an input over %d bytes", t.model, c.id, genai.MaxToolInputSize)
		}
		c.input.WriteString(ev.Delta.ToolUse.Input)
		return &genai.ToolUseEvent{Index: c.index, InputDelta: ev.Delta.ToolUse.Input}, nil
	case "contentBlockStop":
		c := t.open[ev.ContentBlockIndex]
		if c == nil {
			return nil, nil
		}
		delete(t.open, ev.ContentBlockIndex)
		input := c.input.String()
		if strings.TrimSpace(input) == "" {
			input = "{}" // a call of a tool without parameters may stream no input
		}
		if !jsonObject(input) {
			return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock model %s: tool call %s streamed an input that is not a JSON object", t.model, c.id)
		}
		return &genai.ToolUseEvent{Index: c.index, ID: c.id, Name: c.name, Done: true, Input: json.RawMessage(input)}, nil
	}
	return nil, nil
}

// unfinished reports a tool call that started and never stopped.
func (t *toolStream) unfinished() error {
	for _, c := range t.open {
		return genai.Errorf(genai.EUPSTREAM, "Bedrock model %s: tool call %s did not end before the answer did", t.model, c.id)
	}
	return nil
}

// toolChoiceError makes Bedrock's refusal of a tool choice, which depends on the model
// (only some take "any" or a named tool), name the request's field and the way out.
func toolChoiceError(req *genai.ChatRequest, model string, err error) error {
	c := req.ToolChoice
	if c == nil || (c.Type != genai.ToolChoiceAny && c.Type != genai.ToolChoiceTool) ||
		genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "toolChoice") {
		return err
	}
	return genai.Errorf(genai.EINVALID, "tool_choice: model %s on Bedrock does not support tool_choice %q; use \"auto\" or leave tool_choice out (%s)", model, c.Type, genai.ErrorMessage(err))
}
