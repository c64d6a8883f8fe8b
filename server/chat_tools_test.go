package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/openai"
	"genai/openai/openaitest"
	"genai/server"
)

// toolServer serves /api/chat with the Bedrock provider, through the SDK, against a
// bedrocktest server.
func toolServer(t *testing.T, opts bedrocktest.Options) (string, *bedrocktest.Server) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	up := bedrocktest.NewServer(opts)
	t.Cleanup(up.Close)
	m := bedrock.New(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(up.URL),
	}, bedrock.Options{})
	ts := newServer(t, server.Options{Chat: m, Provider: "bedrock", ChatModel: bedrock.DefaultModel})
	return ts.URL, up
}

const weatherTools = `"tools":[{"name":"get_weather","description":"Weather of a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]`

func TestChatStreamsToolCalls(t *testing.T) {
	calls := []bedrocktest.ToolCall{
		{ID: "tooluse_a", Name: "get_weather", Input: `{"city":"Paris"}`},
		{ID: "tooluse_b", Name: "get_weather", Input: `{"city":"Lyon","unit":"celsius"}`},
	}
	url, up := toolServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: []string{"Looking."}, ToolUses: calls}
	}})
	resp := post(t, url+"/api/chat", `{`+weatherTools+`,"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"Paris and Lyon?"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	evs := readSSE(t, resp.Body)
	var names []string
	inputs := map[float64]string{}
	ends := map[float64]map[string]any{}
	for _, e := range evs {
		names = append(names, e.name)
		switch e.name {
		case "tool_use":
			if e.data["id"] != calls[int(e.data["index"].(float64))].ID || e.data["name"] != "get_weather" {
				t.Errorf("tool_use %v", e.data)
			}
		case "tool_input":
			inputs[e.data["index"].(float64)] += e.data["partial_json"].(string)
		case "tool_use_end":
			ends[e.data["index"].(float64)] = e.data
		}
	}
	joined := strings.Join(names, ",")
	if !strings.HasPrefix(joined, "start,delta,tool_use,tool_input,") || !strings.HasSuffix(joined, "tool_use_end,done") || strings.Count(joined, "tool_use,") != 2 {
		t.Errorf("events %s", joined)
	}
	for i, c := range calls {
		in, _ := json.Marshal(ends[float64(i)]["input"])
		if inputs[float64(i)] != c.Input || string(in) != c.Input || ends[float64(i)]["id"] != c.ID {
			t.Errorf("call %d: pieces %q, end %v; want %s", i, inputs[float64(i)], ends[float64(i)], c.Input)
		}
	}
	if done := evs[len(evs)-1].data; done["stop_reason"] != "tool_use" {
		t.Errorf("done %v", done)
	}
	if c := up.Requests()[0].ToolConfig; c == nil || c.ToolChoice == nil || c.ToolChoice.Any == nil || c.Tools[0].ToolSpec.Name != "get_weather" {
		t.Errorf("toolConfig %+v", c)
	}
}

func TestChatToolRoundTripNotStreamed(t *testing.T) {
	url, up := toolServer(t, bedrocktest.Options{})
	resp := post(t, url+"/api/chat", `{`+weatherTools+`,"stream":false,"messages":[{"role":"user","content":"Paris"}]}`)
	var first struct {
		StopReason string `json:"stop_reason"`
		Content    []map[string]any
	}
	json.NewDecoder(resp.Body).Decode(&first)
	if resp.StatusCode != 200 || first.StopReason != "tool_use" || len(first.Content) != 2 {
		t.Fatalf("status %d body %+v", resp.StatusCode, first)
	}
	use := first.Content[1]
	input, _ := json.Marshal(use["input"])
	if use["type"] != "tool_use" || use["id"] != "tooluse_1_0" || use["name"] != "get_weather" || string(input) != `{"city":"Paris"}` {
		t.Fatalf("tool_use block %v", use)
	}
	// The client runs the tool and sends the call and its result back, without tools.
	assistant, _ := json.Marshal(first.Content)
	body := `{"stream":false,"messages":[{"role":"user","content":"Paris"},{"role":"assistant","content":` + string(assistant) + `},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"tooluse_1_0","content":"21 degrees, clear"}]}]}`
	resp = post(t, url+"/api/chat", body)
	var second struct {
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
	}
	json.NewDecoder(resp.Body).Decode(&second)
	if resp.StatusCode != 200 || second.StopReason != "end_turn" || len(second.Content) != 1 ||
		second.Content[0].Text != "Tool tooluse_1_0 returned 21 degrees, clear." {
		t.Errorf("status %d body %+v", resp.StatusCode, second)
	}
	if c := up.Requests()[1].ToolConfig; c == nil || c.Tools[0].ToolSpec.Name != "get_weather" {
		t.Errorf("the history's tool was not declared: %+v", c)
	}
}

func TestChatToolErrorsNameTheField(t *testing.T) {
	url, up := toolServer(t, bedrocktest.Options{})
	for body, want := range map[string]string{
		`{"tools":[{"name":"a b","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"x"}]}`:                                                                 "tools[0].name:",
		`{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":"no result"}]}`: "messages[2].content: on Bedrock each tool_use of messages[1] needs a tool_result here; missing for t",
		`{` + weatherTools + `,"model":"meta.llama3-1-70b-instruct-v1:0","tool_choice":{"type":"tool","name":"get_weather"},"messages":[{"role":"user","content":"x"}]}`:         `tool_choice: model meta.llama3-1-70b-instruct-v1:0 on Bedrock does not support tool_choice "tool"`,
	} {
		resp := post(t, url+"/api/chat", body)
		code, msg := decodeError(t, resp)
		if resp.StatusCode != http.StatusBadRequest || code != genai.EINVALID || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %s %q, want 400 %q", body, resp.StatusCode, code, msg, want)
		}
	}
	// The workshop's plain-text route has no place for a call: refused, not dropped.
	resp := post(t, url+"/bedrock-haiku", `{`+weatherTools+`,"messages":[{"role":"user","content":"x"}]}`)
	if code, msg := decodeError(t, resp); resp.StatusCode != 400 || !strings.HasPrefix(msg, "tools: not supported on this route") {
		t.Errorf("workshop route: %d %s %q", resp.StatusCode, code, msg)
	}
	if n := up.Stats().Requests; n != 1 { // only the tool choice reached Bedrock, which refused it
		t.Errorf("%d requests reached Bedrock, want 1", n)
	}
}

// The OpenAI-compatible provider carries tools too: the call comes back streamed and
// whole, as it does from Bedrock.
func TestChatToolsThroughOpenAIProvider(t *testing.T) {
	up := openaitest.New(openaitest.Config{})
	t.Cleanup(up.Close)
	m := openai.New(openai.Options{BaseURL: up.URL, DefaultModel: "m"})
	ts := newServer(t, server.Options{Chat: m, Provider: "openai", ChatModel: "m"})
	resp := post(t, ts.URL+"/api/chat", `{`+weatherTools+`,"messages":[{"role":"user","content":"Paris"}]}`)
	var names []string
	var end map[string]any
	for _, e := range readSSE(t, resp.Body) {
		names = append(names, e.name)
		if e.name == "tool_use_end" {
			end = e.data
		}
	}
	if joined := strings.Join(names, ","); !strings.HasPrefix(joined, "start,delta,tool_use,tool_input,") || !strings.HasSuffix(joined, "tool_use_end,done") {
		t.Errorf("events %s", joined)
	}
	if in, _ := json.Marshal(end["input"]); end["id"] != "call_1_0" || string(in) != `{"city":"Paris"}` {
		t.Errorf("tool_use_end %v", end)
	}
	resp = post(t, ts.URL+"/api/chat", `{`+weatherTools+`,"stream":false,"messages":[{"role":"user","content":"Paris"}]}`)
	var whole struct {
		StopReason string `json:"stop_reason"`
		Content    []map[string]any
	}
	json.NewDecoder(resp.Body).Decode(&whole)
	if resp.StatusCode != 200 || whole.StopReason != "tool_use" || len(whole.Content) != 2 || whole.Content[1]["name"] != "get_weather" {
		t.Errorf("status %d body %+v", resp.StatusCode, whole)
	}
	if got := up.Requests()[0].Tools; len(got) != 1 || got[0].Function.Name != "get_weather" {
		t.Errorf("tools sent %+v", got)
	}
}

// /api/chat streams the reasoning as thinking events before the answer, the signature
// last, and a whole answer holds it as Anthropic's thinking block.
func TestChatStreamsThinking(t *testing.T) {
	url, _ := toolServer(t, bedrocktest.Options{})
	body := `{"model":"us.anthropic.claude-haiku-4-5-20251001-v1:0","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"sky"}]`
	resp := post(t, url+"/api/chat", body+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var names []string
	var thought, sig string
	for _, e := range readSSE(t, resp.Body) {
		names = append(names, e.name)
		if e.name == "thinking" {
			if s, _ := e.data["text"].(string); s != "" {
				thought += s
			}
			if s, _ := e.data["signature"].(string); s != "" {
				sig = s
			}
		}
	}
	joined := strings.Join(names, ",")
	if !strings.HasPrefix(joined, "start,thinking,thinking,") || !strings.HasSuffix(joined, "delta,done") {
		t.Errorf("events %s", joined)
	}
	if thought != "Thinking about: sky." || sig != bedrocktest.Signature(thought) {
		t.Errorf("thinking %q signed %q", thought, sig)
	}
	resp = post(t, url+"/api/chat", body+`,"stream":false}`)
	var whole struct {
		Content []map[string]any `json:"content"`
	}
	json.NewDecoder(resp.Body).Decode(&whole)
	if len(whole.Content) != 2 || whole.Content[0]["type"] != "thinking" || whole.Content[0]["signature"] != sig || whole.Content[1]["text"] != "You said: sky" {
		t.Errorf("whole %+v", whole.Content)
	}
}
