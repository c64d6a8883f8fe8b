package bedrock_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

var guardrails = map[string]bedrocktest.Guardrail{"gr-1": {Version: "2", Blocked: []string{"forbidden"}, Message: "Sorry, I cannot answer that."}}

// The configured guardrail goes with every call (with its stream mode on streams); an
// input it blocks ends the answer with its message and stop reason
// guardrail_intervened, whole and streamed; an answer it allows is unchanged.
func TestGuardrail(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{Guardrails: guardrails})
	m := newModel(t, srv, bedrock.Options{Guardrail: &bedrock.Guardrail{ID: "gr-1", Version: "2", StreamMode: "async"}})
	resp, err := m.Chat(context.Background(), userText("a forbidden question"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "Sorry, I cannot answer that." || resp.StopReason != genai.StopGuardrail {
		t.Errorf("whole: %q %q", resp.Text, resp.StopReason)
	}
	text, _, final := toolEvents(t, m, userText("a forbidden question"))
	if text != "Sorry, I cannot answer that." || final.StopReason != genai.StopGuardrail {
		t.Errorf("streamed: %q %q", text, final.StopReason)
	}
	text, _, final = toolEvents(t, m, userText("a fine question"))
	if text != "You said: a fine question" || final.StopReason != "end_turn" {
		t.Errorf("allowed: %q %q", text, final.StopReason)
	}
	reqs := srv.Requests()
	if g := reqs[0].GuardrailConfig; g == nil || g.GuardrailIdentifier != "gr-1" || g.GuardrailVersion != "2" || g.StreamProcessingMode != "" {
		t.Errorf("Converse guardrailConfig %+v", g)
	}
	if g := reqs[1].GuardrailConfig; g == nil || g.StreamProcessingMode != "async" {
		t.Errorf("ConverseStream guardrailConfig %+v", g)
	}
}

// A guardrail Bedrock does not know is Bedrock's 400, which says so.
func TestGuardrailUnknown(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{Guardrails: guardrails})
	m := newModel(t, srv, bedrock.Options{Guardrail: &bedrock.Guardrail{ID: "gr-1", Version: "9"}})
	_, err := m.Chat(context.Background(), userText("hi"))
	if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "guardrail") {
		t.Errorf("unknown version: %v", err)
	}
}

// With Trace, the guardrail's trace is asked for and an intervention's is logged, with
// the policy that blocked, whole and streamed.
func TestGuardrailTraceLogged(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	srv := newServer(t, bedrocktest.Options{Guardrails: guardrails})
	m := newModel(t, srv, bedrock.Options{Guardrail: &bedrock.Guardrail{ID: "gr-1", Version: "2", Trace: true}})
	if _, err := m.Chat(context.Background(), userText("a forbidden question")); err != nil {
		t.Fatal(err)
	}
	toolEvents(t, m, userText("another forbidden one"))
	if got := srv.Requests()[1].GuardrailConfig.Trace; got != "enabled" {
		t.Errorf("trace asked %q", got)
	}
	if n := strings.Count(logs.String(), "guardrail intervened"); n != 2 || !strings.Contains(logs.String(), "forbidden") || !strings.Contains(logs.String(), "BLOCKED") {
		t.Errorf("%d interventions logged:\n%s", n, logs.String())
	}
}
