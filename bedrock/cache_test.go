package bedrock_test

import (
	"context"
	"strings"
	"testing"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

const sonnet37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"

func cachedRequest(model string) *genai.ChatRequest {
	long := strings.Repeat("The handbook says many things. ", 200) // ~6,200 characters, over 1,024 tokens
	return &genai.ChatRequest{
		Model: model, System: long, CacheSystem: &genai.Cache{},
		Tools: []genai.Tool{weather}, CacheTools: &genai.Cache{TTL: "1h"},
		Messages: []genai.Message{{Role: genai.RoleUser, Content: []genai.ContentBlock{
			{Type: genai.BlockText, Text: long, Cache: &genai.Cache{}},
			{Type: genai.BlockText, Text: "Paris"},
		}}},
	}
}

// Cache points go where Bedrock caches: after the system prompt and the marked message
// block; the tool list, far below the model's least cacheable size, gets none. The first
// call writes the cache, the next reads it, and the usage says so, whole and streamed.
func TestPromptCaching(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	first, err := m.Chat(context.Background(), cachedRequest(sonnet37))
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if n := len(got.System); n != 2 || got.System[1].CachePoint == nil || got.System[1].CachePoint.Type != "default" {
		t.Errorf("system %+v", got.System)
	}
	for _, tool := range got.ToolConfig.Tools {
		if tool.CachePoint != nil {
			t.Errorf("a cache point after a tool list of a few tokens: %+v", got.ToolConfig.Tools)
		}
	}
	if c := got.Messages[0].Content; len(c) != 3 || c[1].CachePoint == nil || c[2].Text != "Paris" {
		t.Errorf("message %+v", c)
	}
	if first.Usage.CacheWriteTokens == 0 || first.Usage.CacheReadTokens != 0 {
		t.Errorf("first usage %+v", first.Usage)
	}
	_, _, final := toolEvents(t, m, cachedRequest(sonnet37))
	if final.Usage.CacheReadTokens == 0 {
		t.Errorf("second usage %+v, want cache reads", final.Usage)
	}
}

// On a model without prompt caching the cache points are left out, and the call works.
func TestPromptCachingLeftOutWhereUnsupported(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	if _, err := m.Chat(context.Background(), cachedRequest(bedrock.DefaultModel)); err != nil {
		t.Fatal(err)
	}
	got := srv.Requests()[0]
	if len(got.System) != 1 || len(got.Messages[0].Content) != 2 {
		t.Errorf("cache points sent to a model without caching: %+v %+v", got.System, got.Messages[0].Content)
	}
}

// More cache points than Bedrock takes are refused before the call, naming the rule.
func TestTooManyCachePoints(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := cachedRequest(sonnet37)
	for range 3 {
		req.Messages[0].Content = append(req.Messages[0].Content, genai.ContentBlock{Type: genai.BlockText, Text: "more", Cache: &genai.Cache{}})
	}
	if _, err := m.Chat(context.Background(), req); genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "at most 4") {
		t.Errorf("6 cache points: %v", err)
	}
}
