package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"

	"genai"
)

// This file maps the domain's tools and structured answers to the chat completions
// protocol — tools, tool_choice, parallel_tool_calls, assistant tool_calls, "tool"
// messages, response_format — and the tool calls of whole and streamed answers back.

// errorResultPrefix starts the text of a tool result whose IsError is set: OpenAI's
// "tool" messages have no error flag (Anthropic's is_error, Bedrock's status), so the
// model is told in words.
const errorResultPrefix = "Error: "

// maxStreamedCalls bounds the tool calls of one streamed answer, so that an endpoint
// sending ever new indexes cannot grow our memory without end. It is far above what
// any model calls in one turn.
const maxStreamedCalls = 256

// toolParams sets the tools of req on p: their definitions, the tool choice and
// parallel_tool_calls.
//
// OpenAI refuses tool_choice and parallel_tool_calls in a request without tools ("only
// allowed when 'tools' are specified"), so without tools neither is sent: the choices
// that the domain allows without tools, "auto" and "none", mean then what sending no
// tools means, and there is nothing to call in parallel. A history with tool calls needs
// no tools, unlike on Bedrock.
func toolParams(req *genai.ChatRequest, p *sdk.ChatCompletionNewParams) error {
	if len(req.Tools) == 0 {
		return nil
	}
	p.Tools = make([]sdk.ChatCompletionToolUnionParam, len(req.Tools))
	for i, t := range req.Tools {
		// The schema's members go as they came (json.RawMessage values), not through Go
		// values that would turn big integers into floats.
		var members map[string]json.RawMessage
		if err := json.Unmarshal(t.InputSchema, &members); err != nil {
			return genai.Errorf(genai.EINVALID, "tools[%d].input_schema: not a JSON object: %v", i, err)
		}
		schema := make(shared.FunctionParameters, len(members))
		for k, v := range members {
			schema[k] = v
		}
		def := shared.FunctionDefinitionParam{Name: t.Name, Parameters: schema}
		if t.Description != "" {
			def.Description = sdk.String(t.Description)
		}
		p.Tools[i] = sdk.ChatCompletionFunctionTool(def)
	}
	c := req.ToolChoice
	if c == nil {
		return nil
	}
	switch c.Type {
	case genai.ToolChoiceAuto:
		p.ToolChoice.OfAuto = sdk.String("auto")
	case genai.ToolChoiceAny:
		p.ToolChoice.OfAuto = sdk.String("required")
	case genai.ToolChoiceNone:
		p.ToolChoice.OfAuto = sdk.String("none")
	case genai.ToolChoiceTool:
		p.ToolChoice = sdk.ToolChoiceOptionFunctionToolChoice(sdk.ChatCompletionNamedToolChoiceFunctionParam{Name: c.Name})
	}
	if c.DisableParallel {
		p.ParallelToolCalls = sdk.Bool(false)
	}
	return nil
}

// responseFormat maps the domain's ResponseFormat to response_format, as it came.
func responseFormat(f *genai.ResponseFormat) sdk.ChatCompletionNewParamsResponseFormatUnion {
	if f.Type == genai.FormatJSONObject {
		return sdk.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}
	}
	s := shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: f.Name, Schema: f.Schema}
	if f.Description != "" {
		s.Description = sdk.String(f.Description)
	}
	if f.Strict {
		s.Strict = sdk.Bool(true)
	}
	return sdk.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: s}}
}

// validateToolTurns checks what OpenAI demands of tool turns beyond the domain's rules
// (a result answers a call of the message before it): each tool call of an assistant
// message is answered in the next message, as OpenAI refuses "an assistant message with
// 'tool_calls'" that is not "followed by tool messages responding to each
// 'tool_call_id'". Refused here, the error names our field rather than OpenAI's.
func validateToolTurns(msgs []genai.Message) error {
	for i, m := range msgs {
		var calls []string
		for _, b := range m.Content {
			if b.Type == genai.BlockToolUse {
				calls = append(calls, b.ToolUse.ID)
			}
		}
		if len(calls) == 0 {
			continue
		}
		answered := map[string]bool{}
		if i+1 < len(msgs) {
			for _, b := range msgs[i+1].Content {
				if b.Type == genai.BlockToolResult {
					answered[b.ToolResult.ToolUseID] = true
				}
			}
		}
		var missing []string
		for _, id := range calls {
			if !answered[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return genai.Errorf(genai.EINVALID, "messages[%d]: each tool_use needs a tool_result in the next user message; missing for %s", i, strings.Join(missing, ", "))
		}
	}
	return nil
}

// assistantMessage maps an assistant message: its text as content and its tool calls
// as tool_calls. Content is null, as OpenAI sends it, for a message of calls only.
//
// Thinking blocks (another provider's reasoning, kept in the history) are not sent:
// Chat Completions has no field for them, and models discard earlier turns' reasoning.
func assistantMessage(msg genai.Message) sdk.ChatCompletionMessageParamUnion {
	text := msg.Text()
	var calls []sdk.ChatCompletionMessageToolCallUnionParam
	for _, b := range msg.Content {
		if b.Type == genai.BlockToolUse {
			calls = append(calls, sdk.ChatCompletionMessageToolCallUnionParam{OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{
				ID:       b.ToolUse.ID,
				Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{Name: b.ToolUse.Name, Arguments: string(b.ToolUse.Input)},
			}})
		}
	}
	if len(calls) == 0 {
		// Plain string content: some servers take content parts from users only.
		return sdk.AssistantMessage(text)
	}
	a := &sdk.ChatCompletionAssistantMessageParam{ToolCalls: calls}
	if text != "" {
		a.Content.OfString = sdk.String(text)
	} else {
		a.Content.OfString = param.Null[string]()
	}
	return sdk.ChatCompletionMessageParamUnion{OfAssistant: a}
}

// userMessages maps a user message: first a "tool" message for each of its tool
// results, which OpenAI wants right after the assistant message that made the calls,
// then a user message of its other blocks, if it has any.
//
// A "tool" message holds text only. The images of a result go in that user message,
// before the message's own blocks, after a text part naming the call they came from;
// the tool message says how many follow, so the model can tie them to the call.
func userMessages(msg genai.Message) []sdk.ChatCompletionMessageParamUnion {
	var out []sdk.ChatCompletionMessageParamUnion
	var images, rest []genai.ContentBlock
	for _, b := range msg.Content {
		if b.Type != genai.BlockToolResult {
			rest = append(rest, b)
			continue
		}
		r := b.ToolResult
		var texts []string
		var pictures []genai.ContentBlock
		for _, c := range r.Content {
			switch c.Type {
			case genai.BlockText:
				texts = append(texts, c.Text)
			case genai.BlockImage:
				pictures = append(pictures, c)
			}
		}
		text := strings.Join(texts, "\n")
		if len(pictures) > 0 {
			text = strings.TrimSpace(text + fmt.Sprintf("\n(%d %s, in the user message that follows)", len(pictures), plural(len(pictures), "image")))
			images = append(images, genai.ContentBlock{Type: genai.BlockText, Text: "Images returned by tool call " + r.ToolUseID + ":"})
			images = append(images, pictures...)
		}
		if r.IsError {
			text = strings.TrimSpace(errorResultPrefix + text)
		}
		out = append(out, sdk.ToolMessage(text, r.ToolUseID))
	}
	if blocks := append(images, rest...); len(blocks) > 0 {
		out = append(out, userMessage(genai.Message{Role: genai.RoleUser, Content: blocks}))
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// userMessage sends a text-only message of one block as a plain string, which every
// server accepts, and anything else as content parts, images as base64 data URLs.
func userMessage(msg genai.Message) sdk.ChatCompletionMessageParamUnion {
	if len(msg.Content) == 1 && msg.Content[0].Type == genai.BlockText {
		return sdk.UserMessage(msg.Content[0].Text)
	}
	parts := make([]sdk.ChatCompletionContentPartUnionParam, 0, len(msg.Content))
	for _, b := range msg.Content {
		switch b.Type {
		case genai.BlockText:
			parts = append(parts, sdk.TextContentPart(b.Text))
		case genai.BlockImage:
			parts = append(parts, sdk.ImageContentPart(sdk.ChatCompletionContentPartImageImageURLParam{
				URL: "data:" + b.Image.MediaType() + ";base64," + base64.StdEncoding.EncodeToString(b.Image.Data),
			}))
		}
	}
	return sdk.UserMessage(parts)
}

// callInput checks the arguments of a tool call the model made: a JSON object, or
// nothing, which a call of a tool without parameters may have and which reads as {}.
// finish is the answer's finish_reason, which says why arguments may be cut short.
func (m *ChatModel) callInput(id, name, arguments, finish string) (json.RawMessage, error) {
	if strings.TrimSpace(arguments) == "" {
		return json.RawMessage(`{}`), nil
	}
	if len(arguments) > genai.MaxToolInputSize {
		return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s called tool %s (call %s) with arguments over %d bytes", m.baseURL, name, id, genai.MaxToolInputSize)
	}
	if !jsonObject([]byte(arguments)) {
		if finish == "length" {
			return nil, genai.Errorf(genai.EUPSTREAM, "the answer from %s reached its token limit in the middle of the arguments of tool %s (call %s); raise max_tokens", m.baseURL, name, id)
		}
		return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s called tool %s (call %s) with arguments that are not a JSON object: %s", m.baseURL, name, id, clip(arguments))
	}
	return json.RawMessage(arguments), nil
}

// jsonObject reports whether data is one JSON object.
func jsonObject(data []byte) bool {
	data = bytes.TrimSpace(data)
	return len(data) > 0 && data[0] == '{' && json.Valid(data)
}

// answerContent maps the message of a whole answer to the domain's blocks: its text,
// then its tool calls.
func (m *ChatModel) answerContent(msg *sdk.ChatCompletionMessage, finish string) ([]genai.ContentBlock, error) {
	var out []genai.ContentBlock
	if msg.Content != "" {
		out = append(out, genai.ContentBlock{Type: genai.BlockText, Text: msg.Content})
	}
	for _, c := range msg.ToolCalls {
		if c.Type != "function" && c.Type != "" { // some servers leave the type out
			// We offer functions only; a custom tool call cannot be one of ours.
			return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s answered a tool call %s of type %q, not a function", m.baseURL, c.ID, c.Type)
		}
		if c.ID == "" || c.Function.Name == "" {
			return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s answered a tool call without an id or a function name", m.baseURL)
		}
		input, err := m.callInput(c.ID, c.Function.Name, c.Function.Arguments, finish)
		if err != nil {
			return nil, err
		}
		out = append(out, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: c.ID, Name: c.Function.Name, Input: input}})
	}
	return out, nil
}

// toolCallPiece is one entry of a streamed delta's tool_calls: the first piece of a
// call has its id and function name, later ones more of its arguments.
type toolCallPiece struct {
	index     int64
	id, name  string
	arguments string
}

// toolStream assembles the tool calls of a streamed answer from the pieces of each
// chunk, keyed by their index, as OpenAI streams them: the first piece of a call has its
// id, type and function name (and often empty arguments), later pieces only the index
// and more of the arguments. Several calls may stream one after another in one answer.
// A call ends with the answer (finish_reason): OpenAI marks no call's end apart.
//
// Two departures of OpenAI-compatible servers are taken too: a server that sends a
// whole call in one piece (Ollama, Mistral), and one that gives every call the same
// index but its own id (a new id at an index starts a new call).
type toolStream struct {
	m     *ChatModel
	calls []*streamedCall // in order of their first piece
	ended bool
}

type streamedCall struct {
	wire     int64 // the index on the wire
	index    int   // genai's: the order of the call in the answer
	id, name string
	input    strings.Builder
	closed   bool // a later call took over its wire index
}

// piece takes a piece of a call and returns the events it makes: a start for a new
// call, and a delta for any arguments.
func (t *toolStream) piece(p toolCallPiece, events []genai.ToolUseEvent) ([]genai.ToolUseEvent, error) {
	if t.ended {
		return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s streamed a piece of a tool call after the answer's finish_reason", t.m.baseURL)
	}
	var c *streamedCall
	for _, o := range t.calls {
		if o.wire == p.index && !o.closed {
			c = o
		}
	}
	if c != nil && p.id != "" && p.id != c.id {
		c.closed, c = true, nil
	}
	if c == nil {
		if p.id == "" || p.name == "" {
			return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s streamed a tool call (index %d) whose first piece has no id or function name", t.m.baseURL, p.index)
		}
		if len(t.calls) == maxStreamedCalls {
			return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s streamed over %d tool calls in one answer", t.m.baseURL, maxStreamedCalls)
		}
		c = &streamedCall{wire: p.index, index: len(t.calls), id: p.id, name: p.name}
		t.calls = append(t.calls, c)
		events = append(events, genai.ToolUseEvent{Index: c.index, ID: c.id, Name: c.name})
	}
	if p.arguments == "" {
		return events, nil
	}
	if c.input.Len()+len(p.arguments) > genai.MaxToolInputSize {
		return nil, genai.Errorf(genai.EUPSTREAM, "the model endpoint %s called tool %s (call %s) with arguments over %d bytes", t.m.baseURL, c.name, c.id, genai.MaxToolInputSize)
	}
	c.input.WriteString(p.arguments)
	return append(events, genai.ToolUseEvent{Index: c.index, InputDelta: p.arguments}), nil
}

// events returns the tool call events of a choice of a chunk: those of its pieces, then,
// when it has the answer's finish_reason, the end of every call.
func (t *toolStream) events(choice *streamChoice) ([]genai.ToolUseEvent, error) {
	var events []genai.ToolUseEvent
	for _, p := range choice.toolCalls {
		var err error
		if events, err = t.piece(p, events); err != nil {
			return nil, err
		}
	}
	if choice.finishReason == "" {
		return events, nil
	}
	done, err := t.end(choice.finishReason)
	return append(events, done...), err
}

// end closes the calls when the answer ends with finish, returning the Done event of each with its
// whole input, or an error for a call whose arguments are not a JSON object.
func (t *toolStream) end(finish string) ([]genai.ToolUseEvent, error) {
	if t.ended {
		return nil, nil
	}
	t.ended = true
	events := make([]genai.ToolUseEvent, 0, len(t.calls))
	for _, c := range t.calls {
		input, err := t.m.callInput(c.id, c.name, c.input.String(), finish)
		if err != nil {
			return nil, err
		}
		events = append(events, genai.ToolUseEvent{Index: c.index, ID: c.id, Name: c.name, Done: true, Input: input})
	}
	return events, nil
}

// stopReasonOf names the finish_reason of an answer as genai does. An answer with tool
// calls ends in genai.StopToolUse even when the server says "stop", as vLLM does for a
// named tool_choice and older Ollama for every call: the caller must run the calls
// either way, and that is what the stop reason tells it.
func stopReasonOf(finish string, calls bool) string {
	if calls && (finish == "stop" || finish == "tool_calls" || finish == "function_call") {
		return genai.StopToolUse
	}
	switch finish {
	case "stop":
		return "end_turn"
	case "length":
		return "max_tokens"
	case "tool_calls":
		return genai.StopToolUse
	}
	return finish
}
