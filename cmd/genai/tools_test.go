package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"genai/bedrock/bedrocktest"
)

const toolsJSON = `"tools":[{"name":"lookup_order","description":"Find an order by its number","input_schema":{"type":"object","properties":{"order":{"type":"string"}},"required":["order"]}}]`

// sseEvent is one event of a stream, its data decoded.
type sseEvent struct {
	Name string
	Data map[string]any
}

func chatEvents(t *testing.T, base, body string) []sseEvent {
	t.Helper()
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return readEvents(t, resp, nil)
}

// A full tool round trip through the binary's wiring and the Bedrock SDK, streamed: the
// model calls the client's tool, the client runs it and sends the result (with an
// image), and the model's answer quotes it.
func TestToolRoundTripStreamed(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})

	evs := chatEvents(t, base, `{`+toolsJSON+`,"messages":[{"role":"user","content":"A-1234"}]}`)
	var id, name, pieces string
	var input any
	for _, e := range evs {
		switch e.Name {
		case "tool_use":
			id, name = e.Data["id"].(string), e.Data["name"].(string)
		case "tool_input":
			pieces += e.Data["partial_json"].(string)
		case "tool_use_end":
			input = e.Data["input"]
		}
	}
	in, _ := json.Marshal(input)
	if name != "lookup_order" || pieces != `{"order":"A-1234"}` || string(in) != pieces || evs[len(evs)-1].Data["stop_reason"] != "tool_use" {
		t.Fatalf("call %s %s %q %s; events %+v", id, name, pieces, in, evs)
	}

	png := base64.StdEncoding.EncodeToString(tinyPNG)
	follow := `{"messages":[{"role":"user","content":"A-1234"},
	  {"role":"assistant","content":[{"type":"tool_use","id":"` + id + `","name":"lookup_order","input":` + pieces + `}]},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"` + id + `","content":[{"type":"text","text":"{\"status\":\"shipped\"}"},
	    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + png + `"}}]}]}]}`
	text, events := chatSSE(t, base, follow)
	want := `Tool ` + id + ` returned {"status":"shipped"} [image png, 70 bytes].`
	if text != want || events[len(events)-1] != "done" {
		t.Errorf("answer %q events %v, want %q", text, events, want)
	}
	reqs := up.Requests()
	if len(reqs) != 2 || reqs[1].ToolConfig == nil || reqs[1].ToolConfig.Tools[0].ToolSpec.Name != "lookup_order" {
		t.Errorf("the follow-up did not declare the history's tool: %+v", reqs[len(reqs)-1].ToolConfig)
	}
}

// The same round trip with "stream": false, through Converse.
func TestToolRoundTripNotStreamed(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	post := func(body string) (out struct {
		StopReason string `json:"stop_reason"`
		Content    []json.RawMessage
	}) {
		t.Helper()
		resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	first := post(`{` + toolsJSON + `,"tool_choice":{"type":"tool","name":"lookup_order"},"stream":false,"messages":[{"role":"user","content":"B-7"}]}`)
	if first.StopReason != "tool_use" || len(first.Content) != 2 ||
		string(first.Content[1]) != `{"type":"tool_use","id":"tooluse_1_0","name":"lookup_order","input":{"order":"B-7"}}` {
		t.Fatalf("first answer %+v", first)
	}
	assistant, _ := json.Marshal(first.Content)
	second := post(`{` + toolsJSON + `,"stream":false,"messages":[{"role":"user","content":"B-7"},{"role":"assistant","content":` + string(assistant) + `},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"tooluse_1_0","content":"not found","is_error":true}]}]}`)
	if second.StopReason != "end_turn" || len(second.Content) != 1 || string(second.Content[0]) != `{"type":"text","text":"Tool tooluse_1_0 failed: not found."}` {
		t.Errorf("second answer %+v", second)
	}
	if r := up.Requests(); len(r) != 2 || r[0].Operation != "Converse" || r[0].ToolConfig.ToolChoice.Tool.Name != "lookup_order" {
		t.Errorf("upstream %+v", r)
	}
}
