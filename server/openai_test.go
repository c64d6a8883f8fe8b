package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/server"
)

// openAIClient serves genai on Bedrock's wire protocol (bedrocktest) and returns the
// official OpenAI client pointed at it.
func openAIClient(t *testing.T) (oai.Client, *bedrocktest.Server, string) {
	t.Helper()
	up := bedrocktest.NewServer(bedrocktest.Options{})
	t.Cleanup(up.Close)
	chat := bedrock.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(up.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, bedrock.Options{})
	ts := httptest.NewServer(server.New(server.Options{Chat: chat, Provider: "bedrock", ChatModel: bedrock.DefaultModel,
		APIKeys: []string{"sk-test-0123456789abcdef"}}))
	t.Cleanup(ts.Close)
	return oai.NewClient(option.WithBaseURL(ts.URL+"/v1"), option.WithAPIKey("sk-test-0123456789abcdef"), option.WithMaxRetries(0)), up, ts.URL
}

func TestOpenAISDKChat(t *testing.T) {
	client, up, _ := openAIClient(t)
	ctx := context.Background()
	resp, err := client.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{
		Model: bedrock.DefaultModel,
		Messages: []oai.ChatCompletionMessageParamUnion{
			oai.SystemMessage("be brief"),
			oai.UserMessage("hello there"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "You said: hello there" || resp.Choices[0].FinishReason != "stop" || resp.Usage.CompletionTokens == 0 {
		t.Errorf("completion %+v", resp)
	}
	if got := up.Requests()[0]; len(got.System) != 1 || got.System[0].Text != "be brief" {
		t.Errorf("system prompt upstream: %+v", got.System)
	}
}

func TestOpenAISDKStreamWithImage(t *testing.T) {
	client, up, _ := openAIClient(t)
	png, _ := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
	stream := client.Chat.Completions.NewStreaming(context.Background(), oai.ChatCompletionNewParams{
		Model: bedrock.DefaultModel,
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage([]oai.ChatCompletionContentPartUnionParam{
			oai.ImageContentPart(oai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)}),
			oai.TextContentPart("what is this"),
		})},
		StreamOptions: oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)},
	})
	var acc oai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "You said: what is this" || acc.Usage.TotalTokens == 0 {
		t.Errorf("streamed %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	im := up.Requests()[0].Messages[0].Content[0].Image
	if im == nil || !bytes.Equal(im.Source.Bytes, png) {
		t.Errorf("image did not arrive byte-exact: %+v", im)
	}
}

func TestOpenAISDKErrors(t *testing.T) {
	client, _, base := openAIClient(t)
	_, err := client.Chat.Completions.New(context.Background(), oai.ChatCompletionNewParams{
		Model: bedrock.DefaultModel,
		Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage([]oai.ChatCompletionContentPartUnionParam{
			oai.ImageContentPart(oai.ChatCompletionContentPartImageImageURLParam{URL: "http://169.254.169.254/latest/meta-data"}),
		})},
	})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !bytes.Contains([]byte(apiErr.Message), []byte("does not fetch URLs")) {
		t.Errorf("an image URL must be refused with 400 naming the rule; got %v", err)
	}
	bad := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("sk-wrong-0123456789abcdef"), option.WithMaxRetries(0))
	_, err = bad.Models.List(context.Background())
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("a wrong key must get 401; got %v", err)
	}
}

// A field of OpenAI's API that no provider here implements is refused by name, never
// dropped; the neutral values that clients send by default pass.
func TestOpenAIChatRefusesWhatItDoesNotImplement(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{events: answer}, ChatModel: "m"})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct{ body, want string }{
		{`{` + msgs + `,"n":2}`, "n: only 1"},
		{`{` + msgs + `,"logprobs":true}`, "logprobs: not supported"},
		{`{` + msgs + `,"seed":7}`, "seed: not supported"},
		{`{"messages":[{"role":"user","content":"hi","name":"bob"}]}`, "messages[0].name: not supported"},
		{`{"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{}}]}]}`, "messages[0].content[0].cache_control: not supported"},
	} {
		resp := post(t, ts.URL+"/v1/chat/completions", tc.body)
		code, msg := decodeError(t, resp)
		if resp.StatusCode != 400 || code != "invalid_request" || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %s %q, want 400 naming %q", tc.body, resp.StatusCode, code, msg, tc.want)
		}
	}
	neutral := `{` + msgs + `,"n":1,"logprobs":false,"presence_penalty":0,"frequency_penalty":0,"response_format":{"type":"text"},"user":"u1"}`
	if resp := post(t, ts.URL+"/v1/chat/completions", neutral); resp.StatusCode != 200 {
		t.Errorf("neutral values: %d, want 200", resp.StatusCode)
	}
}

// Errors on /v1 have OpenAI's shape, which the official client reads into its Error:
// type, param and code, with the status that picks the client's error class.
func TestOpenAISDKErrorShape(t *testing.T) {
	client, _, base := openAIClient(t)
	hot := 1.7 // over Claude's range on Bedrock
	_, err := client.Chat.Completions.New(context.Background(), oai.ChatCompletionNewParams{
		Model:       bedrock.DefaultModel,
		Messages:    []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi")},
		Temperature: oai.Float(hot),
	})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *openai.Error", err)
	}
	if apiErr.StatusCode != 400 || apiErr.Type != "invalid_request_error" || apiErr.Param != "temperature" || apiErr.Code != "invalid_request" {
		t.Errorf("status %d type %q param %q code %q message %q", apiErr.StatusCode, apiErr.Type, apiErr.Param, apiErr.Code, apiErr.Message)
	}
	bad := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("sk-wrong-0123456789abcdef"), option.WithMaxRetries(0))
	_, err = bad.Models.List(context.Background())
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Type != "authentication_error" {
		t.Errorf("a wrong key: %v, want 401 authentication_error", err)
	}
}
