package openaitest_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"genai/openai/openaitest"
)

// These tests drive the server with the official client, openai-go, so that its tool
// use is checked against what OpenAI's own SDK sends and reads.

func client(srv *openaitest.Server) sdk.ChatCompletionService {
	return sdk.NewChatCompletionService(option.WithBaseURL(srv.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
}

var weatherTool = sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: sdk.String("The weather in a city."),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required":   []string{"city"},
	},
})

func weatherParams() sdk.ChatCompletionNewParams {
	return sdk.ChatCompletionNewParams{
		Model:    "test-model",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("Lisbon")},
		Tools:    []sdk.ChatCompletionToolUnionParam{weatherTool},
	}
}

func TestSDKToolRoundTrip(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	c := client(srv)
	params := weatherParams()
	res, err := c.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	choice := res.Choices[0]
	if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 1 {
		t.Fatalf("finish_reason %q, tool_calls %+v", choice.FinishReason, choice.Message.ToolCalls)
	}
	call := choice.Message.ToolCalls[0]
	if call.ID != "call_1_0" || call.Type != "function" || call.Function.Name != "get_weather" || call.Function.Arguments != `{"city":"Lisbon"}` {
		t.Errorf("tool call = %+v", call)
	}
	if choice.Message.Content != "Calling get_weather." {
		t.Errorf("content = %q", choice.Message.Content)
	}

	params.Messages = append(params.Messages, choice.Message.ToParam(), sdk.ToolMessage("21°C, sunny", call.ID))
	res, err = c.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Choices[0]; got.FinishReason != "stop" || got.Message.Content != "Tool call_1_0 returned 21°C, sunny." || len(got.Message.ToolCalls) != 0 {
		t.Errorf("answer = %q (%s), %+v", got.Message.Content, got.FinishReason, got.Message.ToolCalls)
	}
	reqs := srv.Requests()
	if m := reqs[1].Messages[1]; m.Role != "assistant" || len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Arguments != `{"city":"Lisbon"}` {
		t.Errorf("the client's assistant message was recorded as %+v", m)
	}
}

func TestSDKStreamedToolRoundTrip(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Answer: func(req *openaitest.ChatRequest) openaitest.Answer {
		if a, ok := openaitest.ToolReply(req); ok && len(a.ToolCalls) == 0 {
			return a
		}
		return openaitest.Answer{ToolCalls: []openaitest.ToolCall{
			openaitest.Call("call_x", "get_weather", `{"city":"Lisbon"}`),
			openaitest.Call("call_y", "get_weather", `{"city":"Porto"}`),
		}}
	}})
	defer srv.Close()
	c := client(srv)
	params := weatherParams()
	params.StreamOptions.IncludeUsage = sdk.Bool(true)

	stream := c.NewStreaming(t.Context(), params)
	var acc sdk.ChatCompletionAccumulator
	var finished []string
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc.ID+" "+tc.Arguments)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{`call_x {"city":"Lisbon"}`, `call_y {"city":"Porto"}`}
	if !reflect.DeepEqual(finished, want) {
		t.Errorf("finished tool calls = %q, want %q", finished, want)
	}
	msg := acc.Choices[0].Message
	if acc.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 2 || msg.ToolCalls[1].Function.Name != "get_weather" {
		t.Fatalf("accumulated %+v, finish_reason %q", msg, acc.Choices[0].FinishReason)
	}
	if chunks < 8 {
		t.Errorf("%d chunks; the arguments should come in several pieces", chunks)
	}
	if acc.Usage.CompletionTokens == 0 {
		t.Errorf("no usage: %+v", acc.Usage)
	}

	params.Messages = append(params.Messages, msg.ToParam(), sdk.ToolMessage("sun", "call_x"), sdk.ToolMessage("rain", "call_y"))
	stream = c.NewStreaming(t.Context(), params)
	acc = sdk.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != "Tool call_x returned sun. Tool call_y returned rain." {
		t.Errorf("answer = %q", got)
	}
}

// The server refuses broken tool requests as OpenAI does: status 400, its message, the
// param at fault.
func TestSDKToolErrors(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	c := client(srv)
	call := sdk.ChatCompletionMessageParamUnion{OfAssistant: &sdk.ChatCompletionAssistantMessageParam{
		ToolCalls: []sdk.ChatCompletionMessageToolCallUnionParam{
			{OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{ID: "call_1", Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: "{}"}}},
			{OfFunction: &sdk.ChatCompletionMessageFunctionToolCallParam{ID: "call_2", Function: sdk.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: "{}"}}},
		},
	}}
	for _, tc := range []struct {
		name   string
		change func(p *sdk.ChatCompletionNewParams)
		msg    string
		param  string
	}{
		{"unanswered call", func(p *sdk.ChatCompletionNewParams) {
			p.Messages = append(p.Messages, call, sdk.ToolMessage("sun", "call_1"), sdk.UserMessage("and?"))
		}, "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: call_2", "messages.[1].role"},
		{"call at the end", func(p *sdk.ChatCompletionNewParams) {
			p.Messages = append(p.Messages, call)
		}, "The following tool_call_ids did not have response messages: call_1, call_2", "messages.[1].role"},
		{"stray tool message", func(p *sdk.ChatCompletionNewParams) {
			p.Messages = append(p.Messages, sdk.ToolMessage("sun", "call_9"))
		}, "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", "messages.[1].role"},
		{"unknown tool choice", func(p *sdk.ChatCompletionNewParams) {
			p.ToolChoice = sdk.ToolChoiceOptionFunctionToolChoice(sdk.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"})
		}, "Tool choice 'get_time' not found in 'tools' parameter.", "tool_choice"},
		{"tool choice without tools", func(p *sdk.ChatCompletionNewParams) {
			p.Tools, p.ToolChoice.OfAuto = nil, sdk.String("auto")
		}, "'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"},
		{"parallel_tool_calls without tools", func(p *sdk.ChatCompletionNewParams) {
			p.Tools, p.ParallelToolCalls = nil, sdk.Bool(false)
		}, "'parallel_tool_calls' is only allowed when 'tools' are specified.", "parallel_tool_calls"},
		{"bad tool name", func(p *sdk.ChatCompletionNewParams) {
			p.Tools = []sdk.ChatCompletionToolUnionParam{sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get weather"})}
		}, "Invalid 'tools[0].function.name': string does not match pattern.", "tools[0].function.name"},
		{"json_object without the word", func(p *sdk.ChatCompletionNewParams) {
			p.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
		}, "'messages' must contain the word 'json' in some form", "messages"},
	} {
		p := weatherParams()
		tc.change(&p)
		_, err := c.New(t.Context(), p)
		var apiErr *sdk.Error
		if !errors.As(err, &apiErr) {
			t.Errorf("%s: err = %v, want an API error", tc.name, err)
			continue
		}
		if apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, tc.msg) || apiErr.Param != tc.param || apiErr.Type != "invalid_request_error" {
			t.Errorf("%s: %d %q (param %q, type %q), want 400 %q (param %q)", tc.name, apiErr.StatusCode, apiErr.Message, apiErr.Param, apiErr.Type, tc.msg, tc.param)
		}
	}
}

func TestSDKToolChoiceAndParallel(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	c := client(srv)
	p := weatherParams()
	p.Tools = append(p.Tools, sdk.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_time"}))
	p.ToolChoice = sdk.ToolChoiceOptionFunctionToolChoice(sdk.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_time"})
	p.ParallelToolCalls = sdk.Bool(false)
	res, err := c.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if calls := res.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != "get_time" || calls[0].Function.Arguments != `{"input":"Lisbon"}` {
		t.Errorf("tool calls = %+v, want get_time called with the input key", calls)
	}
	got := srv.Requests()[0]
	if got.ToolChoice == nil || *got.ToolChoice != (openaitest.ToolChoice{Mode: "function", Name: "get_time"}) || got.ParallelToolCalls == nil || *got.ParallelToolCalls {
		t.Errorf("recorded tool_choice %+v, parallel_tool_calls %v", got.ToolChoice, got.ParallelToolCalls)
	}

	p.ToolChoice = sdk.ChatCompletionToolChoiceOptionUnionParam{OfAuto: sdk.String("none")}
	res, err = c.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Choices[0]; len(m.Message.ToolCalls) != 0 || m.Message.Content != "Lisbon" || m.FinishReason != "stop" {
		t.Errorf("with tool_choice none: %+v", m)
	}
}

func TestSDKStructuredOutput(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	c := client(srv)
	p := sdk.ChatCompletionNewParams{
		Model:    "test-model",
		Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("three red apples")},
		ResponseFormat: sdk.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name:   "count",
				Strict: sdk.Bool(true),
				Schema: map[string]any{
					"type": "object",
					"properties": map[string]any{
						"what": map[string]any{"type": "string"}, "n": map[string]any{"type": "number"},
						"ripe": map[string]any{"type": []string{"boolean", "null"}}, "note": map[string]any{"type": "string"},
					},
					"required": []string{"what", "n", "ripe"},
				},
			},
		}},
	}
	res, err := c.New(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(res.Choices[0].Message.Content), &got); err != nil {
		t.Fatalf("answer %q: %v", res.Choices[0].Message.Content, err)
	}
	if want := map[string]any{"what": "three red apples", "n": 3.0, "ripe": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("answer = %v, want %v", got, want)
	}
}

// The wire of a streamed tool call, read by hand: OpenAI's shapes, exactly.
func TestToolCallStreamWire(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Answer: func(*openaitest.ChatRequest) openaitest.Answer {
		return openaitest.Answer{ToolCalls: []openaitest.ToolCall{openaitest.Call("call_q", "get_weather", `{"city":"Porto"}`)}}
	}})
	defer srv.Close()
	res, err := http.Post(srv.URL+"/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true,
		"messages":[{"role":"user","content":"Porto"}],
		"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var deltas []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta        json.RawMessage `json:"delta"`
				FinishReason *string         `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatal(err)
		}
		d := string(c.Choices[0].Delta)
		if c.Choices[0].FinishReason != nil {
			d += " " + *c.Choices[0].FinishReason
		}
		deltas = append(deltas, d)
	}
	want := []string{
		`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_q","type":"function","function":{"name":"get_weather","arguments":""}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}`,
		`{"tool_calls":[{"index":0,"function":{"arguments":"\"Porto\"}"}}]}`,
		`{} tool_calls`,
	}
	if !reflect.DeepEqual(deltas, want) {
		t.Errorf("deltas:\n%s\nwant:\n%s", strings.Join(deltas, "\n"), strings.Join(want, "\n"))
	}
}
