// Package structured holds a model's structured answers to their JSON Schemas, with
// github.com/google/jsonschema-go (the validator the MCP Go SDK uses too): the answer of
// a request with a ResponseFormat, and every call of a strict tool. Providers ask the
// model for the format as well as they can (Bedrock's structured outputs or a forced
// tool, OpenAI's response_format); this check is what makes the promise hold whatever
// the upstream is, since an OpenAI-compatible server may ignore the format.
package structured

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"genai"
)

// Check returns m with its structured answers checked: a request's JSON Schemas are
// compiled before the call (an invalid schema is EINVALID, naming the field), and an
// answer that breaks its format, or a strict tool's call whose input breaks its schema,
// fails with EBADANSWER naming what was wrong. An answer cut by the token limit
// (stop reason "max_tokens") is passed as it is, as OpenAI does with finish_reason
// "length". Requests without a format or strict tools pass through untouched.
func Check(m genai.ChatModel) genai.ChatModel { return checked{m} }

type checked struct{ genai.ChatModel }

// checks are the compiled schemas of one request.
type checks struct {
	format *genai.ResponseFormat
	answer *jsonschema.Resolved            // for FormatJSONSchema
	tools  map[string]*jsonschema.Resolved // strict tools by name
}

// compile returns the checks of req, or nil when it needs none.
func compile(req *genai.ChatRequest) (*checks, error) {
	var c checks
	if f := req.ResponseFormat; f != nil {
		c.format = f
		if f.Type == genai.FormatJSONSchema {
			r, err := resolve(f.Schema, "response_format.json_schema.schema")
			if err != nil {
				return nil, err
			}
			c.answer = r
		}
	}
	for i, t := range req.Tools {
		if !t.Strict {
			continue
		}
		r, err := resolve(t.InputSchema, fmt.Sprintf("tools[%d].parameters", i))
		if err != nil {
			return nil, err
		}
		if c.tools == nil {
			c.tools = map[string]*jsonschema.Resolved{}
		}
		c.tools[t.Name] = r
	}
	if c.format == nil && c.tools == nil {
		return nil, nil
	}
	return &c, nil
}

func resolve(raw json.RawMessage, path string) (*jsonschema.Resolved, error) {
	var s jsonschema.Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a JSON Schema: %v", path, err)
	}
	r, err := s.Resolve(nil)
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: %v", path, err)
	}
	return r, nil
}

// text checks an answer's text against the format.
func (c *checks) text(text, stop string) error {
	if c.format == nil || stop == "max_tokens" || stop == genai.StopToolUse {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(strings.TrimSpace(text)), &v); err != nil {
		return genai.Errorf(genai.EBADANSWER, "response_format: the model's answer is not JSON (%v)", err)
	}
	if _, ok := v.(map[string]any); !ok && c.format.Type == genai.FormatJSONObject {
		return genai.Errorf(genai.EBADANSWER, "response_format: the model's answer is JSON but not an object")
	}
	if c.answer != nil {
		if err := c.answer.Validate(v); err != nil {
			return genai.Errorf(genai.EBADANSWER, "response_format.json_schema: the model's answer does not match the schema %q: %v", c.format.Name, err)
		}
	}
	return nil
}

// call checks a tool call's input against its strict tool's schema.
func (c *checks) call(name string, input json.RawMessage) error {
	r := c.tools[name]
	if r == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(input, &v); err != nil {
		return genai.Errorf(genai.EBADANSWER, "tools: the model's call of the strict tool %q has an input that is not JSON", name)
	}
	if err := r.Validate(v); err != nil {
		return genai.Errorf(genai.EBADANSWER, "tools: the model's call of the strict tool %q does not match its parameters: %v", name, err)
	}
	return nil
}

// Chat implements genai.ChatModel.
func (m checked) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	c, err := compile(req)
	if err != nil {
		return nil, err
	}
	resp, err := m.ChatModel.Chat(ctx, req)
	if err != nil || c == nil {
		return resp, err
	}
	for _, b := range resp.Content {
		if b.Type == genai.BlockToolUse {
			if err := c.call(b.ToolUse.Name, b.ToolUse.Input); err != nil {
				return nil, err
			}
		}
	}
	if err := c.text(resp.Text, resp.StopReason); err != nil {
		return nil, err
	}
	return resp, nil
}

// Stream implements genai.ChatModel. The text streams as it comes; the check happens
// at each tool call's end and at the answer's end, where a failure is the sequence's
// error in place of the Done event.
func (m checked) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	c, err := compile(req)
	if err != nil {
		return func(yield func(genai.Event, error) bool) { yield(genai.Event{}, err) }
	}
	if c == nil {
		return m.ChatModel.Stream(ctx, req)
	}
	return func(yield func(genai.Event, error) bool) {
		var text strings.Builder
		for ev, err := range m.ChatModel.Stream(ctx, req) {
			switch {
			case err != nil:
			case ev.ToolUse != nil && ev.ToolUse.Done:
				err = c.call(ev.ToolUse.Name, ev.ToolUse.Input)
			case ev.ToolResult != nil:
				text.Reset() // an agent's step ended: the answer is what follows
			case ev.Done:
				err = c.text(text.String(), ev.StopReason)
			case c.format != nil:
				text.WriteString(ev.Text)
			}
			if err != nil {
				yield(genai.Event{}, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}
