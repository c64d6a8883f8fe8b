package bedrock_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

func thinkingRequest(text string, budget int) *genai.ChatRequest {
	req := userText(text)
	req.Model, req.ThinkingBudget, req.MaxTokens = haiku45, budget, budget+1000
	return req
}

// streamThinking runs a stream to its end and returns its thinking, text, calls and end.
func streamThinking(t *testing.T, m *bedrock.ChatModel, req *genai.ChatRequest) ([]genai.ContentBlock, string, []genai.ToolUseEvent, genai.Event) {
	t.Helper()
	var thinking []genai.ContentBlock
	var text strings.Builder
	var calls []genai.ToolUseEvent
	var final genai.Event
	for ev, err := range m.Stream(context.Background(), req) {
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Done:
			final = ev
		case ev.Thinking != nil:
			if text.Len() > 0 {
				t.Errorf("thinking after text")
			}
			thinking = genai.AppendThinking(thinking, ev.Thinking)
		case ev.ToolUse != nil:
			calls = append(calls, *ev.ToolUse)
		default:
			text.WriteString(ev.Text)
		}
	}
	return thinking, text.String(), calls, final
}

// The budget reaches Bedrock in additionalModelRequestFields; the reasoning comes back
// before the answer, its text in pieces and then its signature, and whole from Converse.
func TestThinking(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	thinking, text, _, final := streamThinking(t, m, thinkingRequest("why is the sky blue", 2048))
	want := "Thinking about: why is the sky blue."
	if len(thinking) != 1 || thinking[0].Thinking.Text != want || thinking[0].Thinking.Signature != bedrocktest.Signature(want) {
		t.Fatalf("thinking %+v", thinking)
	}
	if text != "You said: why is the sky blue" || final.StopReason != "end_turn" {
		t.Errorf("answer %q %q", text, final.StopReason)
	}
	if got := srv.Requests()[0].Thinking(); got != 2048 {
		t.Errorf("budget sent %d", got)
	}
	resp, err := m.Chat(context.Background(), thinkingRequest("why is the sky blue", 2048))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Content) != 2 || resp.Content[0].Type != genai.BlockThinking || resp.Content[0].Thinking.Text != want || resp.Text != "You said: why is the sky blue" {
		t.Errorf("whole answer %+v", resp)
	}
}

// Interleaved thinking with tools, the case peers break: the turn that calls a tool
// starts with thinking; sent back with its signature intact before the tool result,
// the conversation goes on (bedrocktest refuses a tool turn whose thinking is missing or
// whose signature changed, as Bedrock does).
func TestThinkingWithTools(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := thinkingRequest("Paris", 1024)
	req.Tools = []genai.Tool{weather}
	thinking, text, calls, final := streamThinking(t, m, req)
	if final.StopReason != genai.StopToolUse || len(thinking) != 1 {
		t.Fatalf("stop %q, thinking %+v", final.StopReason, thinking)
	}
	if betas := srv.Requests()[0].Betas(); len(betas) != 1 || betas[0] != "interleaved-thinking-2025-05-14" {
		t.Errorf("betas %v", betas)
	}
	end := assembled(t, calls)[0]
	assistant := append(thinking, genai.ContentBlock{Type: genai.BlockText, Text: text},
		genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: end.ID, Name: end.Name, Input: end.Input}})
	next := thinkingRequest("Paris", 1024)
	next.Tools = req.Tools
	next.Messages = append(next.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: assistant},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{toolResult(end.ID, false, genai.ContentBlock{Type: genai.BlockText, Text: "21C"})}})
	resp, err := m.Chat(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.Text, "returned 21C") || resp.Content[0].Type != genai.BlockThinking {
		t.Errorf("answer %+v", resp)
	}

	// Without the thinking, or with its signature changed, Bedrock refuses the turn.
	for name, content := range map[string][]genai.ContentBlock{
		"without thinking": assistant[1:],
		"changed":          append([]genai.ContentBlock{{Type: genai.BlockThinking, Thinking: &genai.Thinking{Text: thinking[0].Thinking.Text + " (edited)", Signature: thinking[0].Thinking.Signature}}}, assistant[1:]...),
	} {
		next.Messages[1].Content = content
		if _, err := m.Chat(context.Background(), next); genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("%s: %v, want Bedrock's refusal", name, err)
		}
	}
}

// A redacted block streams whole and goes back as the bytes it came as.
func TestRedactedThinking(t *testing.T) {
	secret := []byte{0x01, 0x02, 0xfe, 0xff}
	srv := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: []string{"ok"}, Reasoning: &bedrocktest.Reasoning{Redacted: secret}}
	}})
	m := newModel(t, srv, bedrock.Options{})
	thinking, _, _, _ := streamThinking(t, m, thinkingRequest("x", 1024))
	if len(thinking) != 1 || !bytes.Equal(thinking[0].Thinking.Redacted, secret) {
		t.Fatalf("thinking %+v", thinking)
	}
	next := thinkingRequest("x", 1024)
	next.Messages = append(next.Messages, genai.Message{Role: genai.RoleAssistant, Content: append(thinking, genai.ContentBlock{Type: genai.BlockText, Text: "ok"})}, genai.TextMessage(genai.RoleUser, "again"))
	if _, err := m.Chat(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	sent := srv.Requests()[1].Messages[1].Content[0].ReasoningContent
	if sent == nil || !bytes.Equal(sent.RedactedContent, secret) {
		t.Errorf("redacted content sent back %+v", sent)
	}
}

// Claude's rules for thinking are checked before any call, each naming its field.
func TestThinkingRules(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	hot := 0.5
	for name, tc := range map[string]struct {
		req  func() *genai.ChatRequest
		want string
	}{
		"temperature": {func() *genai.ChatRequest { r := thinkingRequest("x", 1024); r.Temperature = &hot; return r }, "temperature:"},
		"forced tool": {func() *genai.ChatRequest {
			r := thinkingRequest("x", 1024)
			r.Tools, r.ToolChoice = []genai.Tool{weather}, &genai.ToolChoice{Type: genai.ToolChoiceAny}
			return r
		}, "tool_choice:"},
		"budget over max_tokens": {func() *genai.ChatRequest { r := thinkingRequest("x", 4096); r.MaxTokens = 0; return r }, "max_tokens:"},
	} {
		if _, err := m.Chat(context.Background(), tc.req()); genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d refused requests reached Bedrock", n)
	}
}

// DefaultThinkingBudget thinks on a request that names no budget, on a model that
// thinks, with the token limit grown by the budget; not on a model that does not, not
// when the request turned thinking off, and not when it sets what Claude refuses then.
func TestDefaultThinkingBudget(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{DefaultThinkingBudget: 2048})
	hot := 0.5
	for _, tc := range []struct {
		name string
		req  func() *genai.ChatRequest
		want int
	}{
		{"a thinking model", func() *genai.ChatRequest { r := userText("x"); r.Model, r.MaxTokens = haiku45, 500; return r }, 2048},
		{"a model that does not think", func() *genai.ChatRequest { return userText("x") }, 0},
		{"thinking turned off", func() *genai.ChatRequest { r := userText("x"); r.Model, r.ThinkingOff = haiku45, true; return r }, 0},
		{"a temperature", func() *genai.ChatRequest { r := userText("x"); r.Model, r.Temperature = haiku45, &hot; return r }, 0},
	} {
		if _, err := m.Chat(context.Background(), tc.req()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		reqs := srv.Requests()
		got := reqs[len(reqs)-1]
		if got.Thinking() != tc.want {
			t.Errorf("%s: budget %d, want %d", tc.name, got.Thinking(), tc.want)
		}
		if tc.want > 0 && *got.InferenceConfig.MaxTokens != 500+tc.want {
			t.Errorf("%s: maxTokens %d, want %d", tc.name, *got.InferenceConfig.MaxTokens, 500+tc.want)
		}
	}
}
