package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/agent"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// The loop runs against the Bedrock provider on Bedrock's wire protocol (bedrocktest,
// which calls the first tool offered with {"<required[0]>": the user's text}, and
// quotes tool results when it gets them).
func model(t *testing.T) *bedrock.ChatModel {
	t.Helper()
	up := bedrocktest.NewServer(bedrocktest.Options{})
	t.Cleanup(up.Close)
	return bedrock.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(up.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, bedrock.Options{})
}

// blockingTool waits for its context to end, and says so.
type blockingTool struct{ cancelled chan struct{} }

func (b blockingTool) Tool() genai.Tool {
	return genai.Tool{Name: "wait", InputSchema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`)}
}

func (b blockingTool) Run(ctx context.Context, _ json.RawMessage) (*genai.ToolOutput, error) {
	<-ctx.Done()
	close(b.cancelled)
	return nil, ctx.Err()
}

func ask(text string) *genai.ChatRequest {
	return &genai.ChatRequest{Messages: []genai.Message{genai.TextMessage(genai.RoleUser, text)}, MaxTokens: 100}
}

// Cancelling the request cancels the step under way, a tool call included.
func TestCancelStopsTheToolUnderWay(t *testing.T) {
	tool := blockingTool{make(chan struct{})}
	a := &agent.Agent{Model: model(t), Tools: []genai.ToolRunner{tool}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last error
	for ev, err := range a.Stream(ctx, ask("go")) {
		if ev.ToolUse != nil && ev.ToolUse.Done {
			time.AfterFunc(50*time.Millisecond, cancel)
		}
		last = err
	}
	select {
	case <-tool.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the tool's context was not cancelled")
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("the stream ended with %v, want the cancellation", last)
	}
}

// A call to a tool the client offered ends the turn: the client runs it.
func TestClientToolEndsTheTurn(t *testing.T) {
	ran := false
	a := &agent.Agent{Model: model(t), Tools: []genai.ToolRunner{runFunc(func() { ran = true })}}
	req := ask("Paris")
	req.Tools = []genai.Tool{{Name: "get_weather", InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}}
	resp, err := a.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != genai.StopToolUse || ran {
		t.Fatalf("stop %q, server tool ran: %v", resp.StopReason, ran)
	}
	var call *genai.ToolUse
	for _, b := range resp.Content {
		if b.Type == genai.BlockToolUse {
			call = b.ToolUse
		}
	}
	if call == nil || call.Name != "get_weather" || string(call.Input) != `{"city":"Paris"}` {
		t.Errorf("content %+v", resp.Content)
	}
}

// A client tool named like a server tool is refused rather than shadowed.
func TestClientToolCannotShadowAServerTool(t *testing.T) {
	a := &agent.Agent{Model: model(t), Tools: []genai.ToolRunner{runFunc(func() {})}}
	req := ask("x")
	req.Tools = []genai.Tool{{Name: "run", InputSchema: json.RawMessage(`{"type":"object"}`)}}
	if _, err := a.Chat(context.Background(), req); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("err = %v, want EINVALID", err)
	}
}

type runFunc func()

func (f runFunc) Tool() genai.Tool {
	return genai.Tool{Name: "run", InputSchema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)}
}

func (f runFunc) Run(context.Context, json.RawMessage) (*genai.ToolOutput, error) {
	f()
	return &genai.ToolOutput{Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "done"}}}, nil
}
