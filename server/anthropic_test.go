package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/server"
)

// anthropicClient serves genai on Bedrock's wire protocol (bedrocktest) and returns
// Anthropic's official Go client pointed at it, as Claude Code and Anthropic's SDKs are
// pointed with their base URL.
func anthropicClient(t *testing.T, key string) (anthropic.Client, *bedrocktest.Server) {
	t.Helper()
	up := bedrocktest.NewServer(bedrocktest.Options{})
	t.Cleanup(up.Close)
	chat := bedrock.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(up.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, bedrock.Options{})
	ts := httptest.NewServer(server.New(server.Options{Chat: chat, Provider: "bedrock", ChatModel: bedrock.DefaultModel,
		APIKeys: []string{"sk-ant-test-0123456789"}}))
	t.Cleanup(ts.Close)
	return anthropic.NewClient(aoption.WithBaseURL(ts.URL), aoption.WithAPIKey(key), aoption.WithMaxRetries(0)), up
}

func TestAnthropicSDKMessages(t *testing.T) {
	client, up := anthropicClient(t, "sk-ant-test-0123456789")
	ctx := context.Background()
	msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:         bedrock.DefaultModel,
		MaxTokens:     100,
		System:        []anthropic.TextBlockParam{{Text: "be brief"}},
		StopSequences: []string{"END"},
		Messages:      []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "You said: hello there" || msg.StopReason != "end_turn" || msg.Usage.OutputTokens == 0 || msg.Role != "assistant" {
		t.Errorf("message %+v", msg)
	}
	got := up.Requests()[0]
	if len(got.System) != 1 || got.System[0].Text != "be brief" || len(got.InferenceConfig.StopSequences) != 1 {
		t.Errorf("upstream request: system %+v, inference %+v", got.System, got.InferenceConfig)
	}
}

// Streamed, Anthropic's exact event sequence accumulates into the whole message.
func TestAnthropicSDKStreamWithImage(t *testing.T) {
	client, up := anthropicClient(t, "sk-ant-test-0123456789")
	png := "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	stream := client.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model:     bedrock.DefaultModel,
		MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
			anthropic.NewTextBlock("what is this?"), anthropic.NewImageBlockBase64("image/png", png))},
	})
	var msg anthropic.Message
	var kinds []string
	for stream.Next() {
		ev := stream.Current()
		kinds = append(kinds, ev.Type)
		if err := msg.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text == "" || msg.StopReason != "end_turn" || msg.Usage.OutputTokens == 0 {
		t.Errorf("accumulated %+v", msg)
	}
	if kinds[0] != "message_start" || kinds[1] != "content_block_start" || kinds[len(kinds)-3] != "content_block_stop" ||
		kinds[len(kinds)-2] != "message_delta" || kinds[len(kinds)-1] != "message_stop" {
		t.Errorf("event sequence %v", kinds)
	}
	want, _ := base64.StdEncoding.DecodeString(png)
	if c := up.Requests()[0].Messages[0].Content; len(c) != 2 || c[1].Image == nil || string(c[1].Image.Source.Bytes) != string(want) {
		t.Errorf("the image did not reach Bedrock byte for byte")
	}
}

// Errors have Anthropic's shape, which the client reads into its Error type.
func TestAnthropicSDKErrors(t *testing.T) {
	client, _ := anthropicClient(t, "sk-ant-test-0123456789")
	_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: bedrock.DefaultModel, MaxTokens: 100, // two user turns: Claude on Bedrock refuses them
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi")), anthropic.NewUserMessage(anthropic.NewTextBlock("again"))},
	})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type() != "invalid_request_error" {
		t.Errorf("two user turns on Bedrock: %v, want 400 invalid_request_error", err)
	}
	bad, _ := anthropicClient(t, "sk-ant-wrong-0123456789")
	_, err = bad.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: bedrock.DefaultModel, MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Type() != "authentication_error" {
		t.Errorf("a wrong key: %v, want 401 authentication_error", err)
	}
}

// A tool round trip with Anthropic's client: the call streamed as a tool_use block with
// input_json_delta pieces, then the result sent back and quoted by the model.
func TestAnthropicSDKToolRoundTrip(t *testing.T) {
	client, _ := anthropicClient(t, "sk-ant-test-0123456789")
	ctx := context.Background()
	tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
		Name:        "get_weather",
		Description: anthropic.String("the weather in a city"),
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}},
	}}}
	question := anthropic.NewUserMessage(anthropic.NewTextBlock("Paris"))
	stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: bedrock.DefaultModel, MaxTokens: 100, Tools: tools, Messages: []anthropic.MessageParam{question}})
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != "tool_use" || len(msg.Content) != 2 || msg.Content[1].Type != "tool_use" || string(msg.Content[1].Input) != `{"city":"Paris"}` {
		t.Fatalf("streamed tool call: %+v", msg)
	}
	call := msg.Content[1]
	whole, err := client.Messages.New(ctx, anthropic.MessageNewParams{Model: bedrock.DefaultModel, MaxTokens: 100, Tools: tools,
		Messages: []anthropic.MessageParam{question, msg.ToParam(),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock(call.ID, "sunny, 21 °C", false))}})
	if err != nil {
		t.Fatal(err)
	}
	if whole.StopReason != "end_turn" || len(whole.Content) != 1 || whole.Content[0].Text != "Tool "+call.ID+" returned sunny, 21 °C." {
		t.Errorf("answer to the result: %+v", whole)
	}
}

// Extended thinking through Anthropic's SDK with tools, the case gateways break: the
// streamed thinking block (thinking_delta, then signature_delta) accumulates into the
// message, which the SDK sends back with the tool result; Bedrock's check of the
// signature and of the thinking that must open the tool turn passes, and the answer
// goes on, thinking again.
func TestAnthropicSDKThinkingWithTools(t *testing.T) {
	client, up := anthropicClient(t, "sk-ant-test-0123456789")
	ctx := context.Background()
	const model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	tools := []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
		Name:        "get_weather",
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}},
	}}}
	thinking := anthropic.ThinkingConfigParamOfEnabled(1024)
	question := anthropic.NewUserMessage(anthropic.NewTextBlock("Paris"))
	params := anthropic.MessageNewParams{Model: model, MaxTokens: 2048, Tools: tools, Thinking: thinking, Messages: []anthropic.MessageParam{question}}
	stream := client.Messages.NewStreaming(ctx, params)
	var msg anthropic.Message
	kinds := map[string]int{}
	for stream.Next() {
		ev := stream.Current()
		if ev.Type == "content_block_delta" {
			kinds[ev.Delta.Type]++
		}
		if err := msg.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if kinds["thinking_delta"] < 2 || kinds["signature_delta"] != 1 {
		t.Errorf("deltas %v", kinds)
	}
	if len(msg.Content) != 3 || msg.Content[0].Type != "thinking" || msg.Content[0].Signature != bedrocktest.Signature(msg.Content[0].Thinking) || msg.Content[2].Type != "tool_use" {
		t.Fatalf("streamed message %+v", msg.Content)
	}
	params.Messages = append(params.Messages, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[2].ID, "21 °C", false)))
	whole, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Content) != 2 || whole.Content[0].Type != "thinking" || whole.Content[1].Text != "Tool "+msg.Content[2].ID+" returned 21 °C." {
		t.Errorf("answer %+v", whole.Content)
	}
	if got := up.Requests()[1]; got.Thinking() != 1024 || got.Messages[1].Content[0].ReasoningContent == nil {
		t.Errorf("upstream: budget %d, history %+v", got.Thinking(), got.Messages[1].Content)
	}
}

// Prompt caching through Anthropic's SDK: cache_control on the system prompt becomes
// Bedrock's cache point; the first call writes the cache and the second reads it, as the
// usage says in Anthropic's fields.
func TestAnthropicSDKPromptCaching(t *testing.T) {
	client, up := anthropicClient(t, "sk-ant-test-0123456789")
	ctx := context.Background()
	long := strings.Repeat("The style guide says many things. ", 200)
	params := anthropic.MessageNewParams{
		Model: "us.anthropic.claude-3-7-sonnet-20250219-v1:0", MaxTokens: 100,
		System:   []anthropic.TextBlockParam{{Text: long, CacheControl: anthropic.NewCacheControlEphemeralParam()}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
	first, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	stream := client.Messages.NewStreaming(ctx, params)
	var second anthropic.Message
	for stream.Next() {
		second.Accumulate(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if first.Usage.CacheCreationInputTokens == 0 || first.Usage.CacheReadInputTokens != 0 || second.Usage.CacheReadInputTokens == 0 {
		t.Errorf("usage: first %+v, second %+v", first.Usage, second.Usage)
	}
	if sys := up.Requests()[0].System; len(sys) != 2 || sys[1].CachePoint == nil {
		t.Errorf("system sent %+v", sys)
	}
}
