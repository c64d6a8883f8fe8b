package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai/bedrock/bedrocktest"
)

// agentEvent is one event of a streamed /api/chat answer.
type agentEvent struct {
	name string
	data map[string]any
}

func agentChat(t *testing.T, base, body string) []agentEvent {
	t.Helper()
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return agentEvents(t, resp, nil)
}

func names(evs []agentEvent) []string {
	var out []string
	for _, e := range evs {
		if len(out) == 0 || out[len(out)-1] != e.name {
			out = append(out, e.name)
		}
	}
	return out
}

func agentServer(t *testing.T, env map[string]string) string {
	t.Helper()
	bedrockUpstream(t, bedrocktest.Options{})
	env["GENAI_PROVIDER"] = "bedrock"
	_, base := start(t, env)
	resp, err := http.Post(base+"/api/kb/documents", "application/json", strings.NewReader(
		`{"title":"Tides","uri":"tides.md","text":"# Tides\n\nSpring tides, the highest tides, come when the Sun and the Moon line up."}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("ingest: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	return base
}

// The agent answers from an ingested document: the model calls the knowledge-base tool,
// the server runs it, streams the call, its result and the citations, feeds the result
// back, and the model's answer quotes it.
func TestAgentAnswersFromTheKnowledgeBase(t *testing.T) {
	base := agentServer(t, map[string]string{})
	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"highest tides"}],"server_tools":["knowledge_base"]}`)
	got := strings.Join(names(evs), " ")
	if got != "start delta tool_use tool_input tool_use_end citations tool_result delta done" { // "Calling …", the call, its result, the answer
		t.Fatalf("events %s", got)
	}
	var call, result, cites, done map[string]any
	var text strings.Builder
	for _, e := range evs {
		switch e.name {
		case "tool_use_end":
			call = e.data
		case "tool_result":
			result = e.data
		case "citations":
			cites = e.data
		case "delta":
			text.WriteString(e.data["text"].(string))
		case "done":
			done = e.data
		}
	}
	if call["name"] != "search_knowledge_base" || call["input"].(map[string]any)["query"] != "highest tides" {
		t.Errorf("tool call %v", call)
	}
	content, _ := json.Marshal(result["content"])
	if result["is_error"] != false || !strings.Contains(string(content), "[1] Tides") || !strings.Contains(string(content), "Spring tides") {
		t.Errorf("tool result %v", result)
	}
	if cs := cites["citations"].([]any); len(cs) != 1 || cs[0].(map[string]any)["n"] != 1.0 || cs[0].(map[string]any)["uri"] != "tides.md" {
		t.Errorf("citations %v", cites)
	}
	// bedrocktest quotes the result it was given: it reached the model.
	if !strings.Contains(text.String(), "returned [1] Tides") || !strings.Contains(text.String(), "Spring tides") {
		t.Errorf("answer %q does not quote the tool's result", text.String())
	}
	if done["stop_reason"] != "end_turn" {
		t.Errorf("done %v", done)
	}
}

// At the step limit the answer ends, with stop reason max_steps, rather than loop on.
func TestAgentStopsAtTheStepLimit(t *testing.T) {
	base := agentServer(t, map[string]string{"GENAI_AGENT_MAX_STEPS": "1"})
	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"highest tides"}],"server_tools":["knowledge_base"]}`)
	if last := evs[len(evs)-1]; last.name != "done" || last.data["stop_reason"] != "max_steps" {
		t.Errorf("last event %v, want done with max_steps (events %v)", last, names(evs))
	}
}

// A tool's failure goes back to the model as an error result, naming what was wrong.
func TestAgentToolErrorGoesToTheModel(t *testing.T) {
	base := agentServer(t, map[string]string{})
	long := strings.Repeat("tide ", 1000) // a query over the 4096-byte limit
	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"`+long+`"}],"server_tools":["knowledge_base"]}`)
	var result map[string]any
	var text strings.Builder
	for _, e := range evs {
		if e.name == "tool_result" {
			result = e.data
		}
		if e.name == "delta" {
			text.WriteString(e.data["text"].(string))
		}
	}
	content, _ := json.Marshal(result["content"])
	if result["is_error"] != true || !strings.Contains(string(content), "query: 5000 bytes") {
		t.Errorf("tool result %v", result)
	}
	if !strings.Contains(text.String(), "failed: query: 5000 bytes") {
		t.Errorf("answer %q: the error did not reach the model", text.String())
	}
	if last := evs[len(evs)-1]; last.name != "done" {
		t.Errorf("last event %v", last)
	}
}

func TestAgentRefusesUnknownGroups(t *testing.T) {
	base := agentServer(t, map[string]string{})
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"x"}],"server_tools":["web"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error struct{ Message string } }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 400 || !strings.Contains(e.Error.Message, "knowledge_base, notes") {
		t.Errorf("%d %q, want 400 naming the groups there are", resp.StatusCode, e.Error.Message)
	}
}

// The same agent behind /v1/chat/completions, with the official OpenAI client and the
// server_tools field beside OpenAI's own: the server runs the knowledge-base tool, and
// the client gets only the answer (the server's calls are not the client's to answer),
// whole and streamed.
func TestAgentOnChatCompletions(t *testing.T) {
	base := agentServer(t, map[string]string{})
	client := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	params := oai.ChatCompletionNewParams{Model: DefaultBedrockModel, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("highest tides")}}
	serverTools := option.WithJSONSet("server_tools", []string{"knowledge_base"})
	resp, err := client.Chat.Completions.New(t.Context(), params, serverTools)
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Choices[0].Message
	if !strings.Contains(msg.Content, "returned [1] Tides") || len(msg.ToolCalls) != 0 || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("whole answer %+v, finish %q", msg, resp.Choices[0].FinishReason)
	}
	stream := client.Chat.Completions.NewStreaming(t.Context(), params, serverTools)
	var acc oai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if c := acc.Choices[0]; !strings.Contains(c.Message.Content, "Spring tides") || len(c.Message.ToolCalls) != 0 || c.FinishReason != "stop" {
		t.Errorf("streamed answer %+v, finish %q", c.Message, c.FinishReason)
	}
}
