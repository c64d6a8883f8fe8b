package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"

	"genai"
	"genai/bedrock"
	"genai/server"
)

// weatherTool is a function tool in openai-go's shape.
var weatherTool = oai.ChatCompletionFunctionTool(oai.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: param.NewOpt("Weather of a city"),
	Parameters: oai.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required":   []string{"city"},
	},
})

// A full function-calling round trip through the official client, whole: the model's
// call comes back as tool_calls with finish_reason "tool_calls"; the client's answer in
// a tool message reaches the model (bedrocktest quotes each result it is given), as
// toolResult blocks of one user turn after the assistant's toolUse.
func TestOpenAISDKToolRoundTrip(t *testing.T) {
	client, up, _ := openAIClient(t)
	ctx := context.Background()
	params := oai.ChatCompletionNewParams{
		Model:    bedrock.DefaultModel,
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Paris")},
		Tools:    []oai.ChatCompletionToolUnionParam{weatherTool},
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	choice := resp.Choices[0]
	if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 1 {
		t.Fatalf("choice %+v", choice)
	}
	call := choice.Message.ToolCalls[0]
	if call.Function.Name != "get_weather" || call.Function.Arguments != `{"city":"Paris"}` || call.ID == "" || call.Type != "function" {
		t.Errorf("tool call %+v", call)
	}
	if choice.Message.Content != "Calling get_weather." {
		t.Errorf("content %q", choice.Message.Content)
	}
	if cfg := up.Requests()[0].ToolConfig; cfg == nil || cfg.Tools[0].ToolSpec.Name != "get_weather" || !strings.Contains(string(cfg.Tools[0].ToolSpec.InputSchema.JSON), `"required":["city"]`) {
		t.Errorf("toolConfig upstream %+v", cfg)
	}

	params.Messages = append(params.Messages, choice.Message.ToParam(), oai.ToolMessage("21°C and sunny", call.ID))
	resp, err = client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "Tool "+call.ID+" returned 21°C and sunny." || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("answer %q, finish %q", got, resp.Choices[0].FinishReason)
	}
	sent := up.Requests()[1].Messages
	if len(sent) != 3 || sent[1].Content[len(sent[1].Content)-1].ToolUse == nil || sent[2].Content[0].ToolResult == nil {
		t.Errorf("upstream conversation: %+v", sent)
	}
}

// The same round trip streamed: tool_calls deltas as OpenAI sends them (the first with
// id, type and name, then the arguments in pieces), which the client's accumulator
// assembles into the whole call.
func TestOpenAISDKToolRoundTripStreamed(t *testing.T) {
	client, _, _ := openAIClient(t)
	ctx := context.Background()
	params := oai.ChatCompletionNewParams{
		Model:      bedrock.DefaultModel,
		Messages:   []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Lyon")},
		Tools:      []oai.ChatCompletionToolUnionParam{weatherTool},
		ToolChoice: oai.ToolChoiceOptionFunctionToolChoice(oai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"}),
	}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc oai.ChatCompletionAccumulator
	deltas := 0
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		if len(chunk.Choices) > 0 && len(chunk.Choices[0].Delta.ToolCalls) > 0 {
			deltas++
			if d := chunk.Choices[0].Delta.ToolCalls[0]; d.Index != 0 {
				t.Errorf("delta index %d", d.Index)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	choice := acc.Choices[0]
	if choice.FinishReason != "tool_calls" || len(choice.Message.ToolCalls) != 1 || deltas < 2 {
		t.Fatalf("finish %q, calls %+v, %d tool deltas", choice.FinishReason, choice.Message.ToolCalls, deltas)
	}
	call := choice.Message.ToolCalls[0]
	if call.Function.Name != "get_weather" || call.Function.Arguments != `{"city":"Lyon"}` || call.ID == "" {
		t.Errorf("assembled call %+v", call)
	}

	params.ToolChoice = oai.ChatCompletionToolChoiceOptionUnionParam{}
	params.Messages = append(params.Messages, choice.Message.ToParam(), oai.ToolMessage(`{"temp":18}`, call.ID), oai.UserMessage("and tomorrow?"))
	stream = client.Chat.Completions.NewStreaming(ctx, params)
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := text.String(); got != "Tool "+call.ID+` returned {"temp":18}.` {
		t.Errorf("answer %q", got)
	}
}

// What Bedrock cannot do is refused by name before any call: forbidding parallel calls.
// A malformed call in the history is refused by its path.
func TestOpenAIToolsRefusals(t *testing.T) {
	client, up, _ := openAIClient(t)
	ctx := context.Background()
	_, err := client.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model:             bedrock.DefaultModel,
		Messages:          []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Paris")},
		Tools:             []oai.ChatCompletionToolUnionParam{weatherTool},
		ParallelToolCalls: param.NewOpt(false),
	})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "parallel") {
		t.Errorf("parallel_tool_calls false on Bedrock: %v", err)
	}
	assistant := oai.ChatCompletionAssistantMessageParam{ToolCalls: []oai.ChatCompletionMessageToolCallUnionParam{{
		OfFunction: &oai.ChatCompletionMessageFunctionToolCallParam{ID: "call_1", Function: oai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "get_weather", Arguments: `["Paris"]`}},
	}}}
	_, err = client.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model: bedrock.DefaultModel,
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Paris"),
			{OfAssistant: &assistant}, oai.ToolMessage("21", "call_1")},
		Tools: []oai.ChatCompletionToolUnionParam{weatherTool},
	})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "messages[1].tool_calls[0].function.arguments" {
		t.Errorf("arguments not an object: %v (param %q)", err, apiErr.Param)
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d requests reached Bedrock", n)
	}
}

// The request's JSON maps to the domain as OpenAI defines it: a run of tool messages
// and the user message after it make one user turn, content null beside tool_calls, the
// tool choices, and the errors of each field.
func TestOpenAIToolRequestMapping(t *testing.T) {
	rec := &scripted{events: answer}
	ts := newServer(t, server.Options{Chat: rec, ChatModel: "m"})
	body := `{"model":"m","messages":[
		{"role":"user","content":"weather in Paris and Lyon"},
		{"role":"assistant","content":null,"tool_calls":[
			{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Paris\"}"}},
			{"id":"c2","type":"function","function":{"name":"w","arguments":""}}]},
		{"role":"tool","tool_call_id":"c1","content":"21"},
		{"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"18"}]},
		{"role":"user","content":"thanks"}],
		"tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object"},"strict":true}},{"type":"function","function":{"name":"v"}}],
		"tool_choice":"required","stream":false}`
	if resp := post(t, ts.URL+"/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	req := rec.got
	if len(req.Messages) != 3 {
		t.Fatalf("messages %+v", req.Messages)
	}
	a, u := req.Messages[1].Content, req.Messages[2].Content
	if len(a) != 2 || a[0].ToolUse.ID != "c1" || string(a[0].ToolUse.Input) != `{"city":"Paris"}` || string(a[1].ToolUse.Input) != `{}` {
		t.Errorf("assistant %+v", a)
	}
	if len(u) != 3 || u[0].ToolResult.ToolUseID != "c1" || u[1].ToolResult.Content[0].Text != "18" || u[2].Text != "thanks" {
		t.Errorf("user turn %+v", u)
	}
	if req.ToolChoice.Type != "any" || !req.Tools[0].Strict || string(req.Tools[1].InputSchema) != `{"type":"object","properties":{}}` {
		t.Errorf("tools %+v choice %+v", req.Tools, req.ToolChoice)
	}

	msgs := `"messages":[{"role":"user","content":"hi"}]`
	fn := `{"type":"function","function":{"name":"f"}}`
	for _, tc := range []struct{ body, want string }{
		{`{` + msgs + `,"tools":[{"type":"code_interpreter"}]}`, `tools[0].type: only "function"`},
		{`{` + msgs + `,"tools":[{"type":"function","function":{"name":"f","examples":[]}}]}`, "tools[0].function.examples: not supported"},
		{`{` + msgs + `,"tools":[` + fn + `],"tool_choice":"sometimes"}`, "tool_choice: must be"},
		{`{` + msgs + `,"tools":[` + fn + `],"tool_choice":{"type":"function","function":{"name":"g"}}}`, `tool_choice.name: "g" is not one of the tools`},
		{`{` + msgs + `,"parallel_tool_calls":true}`, "parallel_tool_calls: only allowed when tools"},
		{`{` + msgs + `,"response_format":{"type":"xml"}}`, "response_format.type: must be"},
		{`{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":{"type":"object"}}}}`, "response_format.json_schema.name"},
		{`{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"a"}}}`, "response_format.json_schema.schema: required"},
		{`{"messages":[{"role":"function","content":"x","name":"f"}]}`, "messages[0].name: not supported"},
		{`{"messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id: required"},
		{`{"messages":[{"role":"user","content":"x","tool_call_id":"c"}]}`, "messages[0].tool_call_id: only in a tool message"},
		{`{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"},"extra":1}]}]}`, "messages[1].tool_calls[0].extra: not supported"},
		{`{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null}]}`, "messages[1].content"},
		{`{"messages":[{"role":"user","content":"x"}],"server_tools":["no such"]}`, "server_tools[0]"},
	} {
		resp := post(t, ts.URL+"/v1/chat/completions", tc.body)
		code, msg := decodeError(t, resp)
		if resp.StatusCode != 400 || code != "invalid_request" || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %s %q, want 400 naming %q", tc.body, resp.StatusCode, code, msg, tc.want)
		}
	}
	body = `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"city","schema":{"type":"object","required":["name"]},"strict":true}}}`
	if resp := post(t, ts.URL+"/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Fatalf("json_schema: status %d", resp.StatusCode)
	}
	f := rec.got.ResponseFormat
	if f == nil || f.Type != genai.FormatJSONSchema || f.Name != "city" || !f.Strict || string(f.Schema) != `{"type":"object","required":["name"]}` {
		t.Errorf("response format %+v", f)
	}
}

// JSON mode and a JSON schema through openai-go: the answer is the JSON, whole and
// streamed (a forced tool makes it on the default model, Bedrock's structured outputs on
// a model that has them, and the server checks it either way).
func TestOpenAISDKStructuredAnswers(t *testing.T) {
	client, up, _ := openAIClient(t)
	ctx := context.Background()
	schema := oai.ResponseFormatJSONSchemaJSONSchemaParam{
		Name: "city", Strict: param.NewOpt(true),
		Schema: map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}, "required": []string{"name"}, "additionalProperties": false},
	}
	for _, tc := range []struct {
		name, model string
		format      oai.ChatCompletionNewParamsResponseFormatUnion
		want        string
	}{
		{"json_object", bedrock.DefaultModel, oai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &oai.ResponseFormatJSONObjectParam{}}, `{"input":"Lyon"}`},
		{"json_schema by a forced tool", bedrock.DefaultModel, oai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &oai.ResponseFormatJSONSchemaParam{JSONSchema: schema}}, `{"name":"Lyon"}`},
		{"json_schema by structured outputs", "us.anthropic.claude-haiku-4-5-20251001-v1:0", oai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &oai.ResponseFormatJSONSchemaParam{JSONSchema: schema}}, `{"name":"Lyon"}`},
	} {
		params := oai.ChatCompletionNewParams{Model: tc.model, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Lyon")}, ResponseFormat: tc.format}
		resp, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := resp.Choices[0].Message.Content; got != tc.want || resp.Choices[0].FinishReason != "stop" {
			t.Errorf("%s: %q (%s), want %s", tc.name, got, resp.Choices[0].FinishReason, tc.want)
		}
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		var text strings.Builder
		for stream.Next() {
			if c := stream.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
		}
		if err := stream.Err(); err != nil || text.String() != tc.want {
			t.Errorf("%s streamed: %q, %v", tc.name, text.String(), err)
		}
	}
	reqs := up.Requests()
	if last := reqs[len(reqs)-1]; last.OutputConfig == nil || last.ToolConfig != nil {
		t.Errorf("structured outputs model: outputConfig %+v, toolConfig %+v", last.OutputConfig, last.ToolConfig)
	}
}
