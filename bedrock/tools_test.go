package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

var weather = genai.Tool{
	Name:        "get_weather",
	Description: "The weather of a city",
	InputSchema: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}

func toolRequest(text string, tools ...genai.Tool) *genai.ChatRequest {
	req := userText(text)
	req.Tools = tools
	return req
}

// toolEvents runs a stream to its end and returns its text, its tool call events and
// its final event.
func toolEvents(t *testing.T, m *bedrock.ChatModel, req *genai.ChatRequest) (string, []genai.ToolUseEvent, genai.Event) {
	t.Helper()
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
		case ev.ToolUse != nil:
			calls = append(calls, *ev.ToolUse)
		default:
			text.WriteString(ev.Text)
		}
	}
	return text.String(), calls, final
}

// assembled joins the streamed input of each call by index, checks each call's events
// come in order (start, deltas, end) and returns the ends by index.
func assembled(t *testing.T, events []genai.ToolUseEvent) map[int]genai.ToolUseEvent {
	t.Helper()
	inputs := map[int]string{}
	started := map[int]bool{}
	ends := map[int]genai.ToolUseEvent{}
	for _, ev := range events {
		switch {
		case ev.Done:
			if !started[ev.Index] {
				t.Fatalf("end of call %d before its start", ev.Index)
			}
			if string(ev.Input) != inputs[ev.Index] {
				t.Errorf("call %d: end input %s, deltas joined %s", ev.Index, ev.Input, inputs[ev.Index])
			}
			ends[ev.Index] = ev
		case ev.ID != "":
			started[ev.Index] = true
		default:
			if !started[ev.Index] {
				t.Fatalf("input of call %d before its start", ev.Index)
			}
			inputs[ev.Index] += ev.InputDelta
		}
	}
	return ends
}

func TestStreamToolUse(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := toolRequest("Paris", weather)
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceAuto}
	text, events, final := toolEvents(t, m, req)
	if text != "Calling get_weather." {
		t.Errorf("text = %q", text)
	}
	if len(events) < 4 {
		t.Fatalf("want a start, several input pieces and an end; got %+v", events)
	}
	if start := events[0]; start.Index != 0 || start.ID != "tooluse_1_0" || start.Name != "get_weather" {
		t.Errorf("start = %+v", start)
	}
	ends := assembled(t, events)
	if end := ends[0]; !end.Done || end.ID != "tooluse_1_0" || end.Name != "get_weather" || string(end.Input) != `{"city":"Paris"}` {
		t.Errorf("end = %+v", end)
	}
	if final.StopReason != genai.StopToolUse {
		t.Errorf("stop reason = %q, want tool_use", final.StopReason)
	}
	cfg := srv.Requests()[0].ToolConfig
	if cfg == nil || len(cfg.Tools) != 1 || cfg.ToolChoice == nil || cfg.ToolChoice.Auto == nil {
		t.Fatalf("toolConfig = %+v", cfg)
	}
	spec := cfg.Tools[0].ToolSpec
	if spec.Name != "get_weather" || *spec.Description != weather.Description || !sameJSON(spec.InputSchema.JSON, weather.InputSchema) {
		t.Errorf("toolSpec = %+v %s", spec, spec.InputSchema.JSON)
	}
}

func TestChatToolUse(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := toolRequest("Paris", genai.Tool{Name: "other", InputSchema: json.RawMessage(`{"type":"object"}`)}, weather)
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceTool, Name: "get_weather"}
	resp, err := m.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []genai.ContentBlock{
		{Type: genai.BlockText, Text: "Calling get_weather."},
		{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "tooluse_1_0", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}},
	}
	if !reflect.DeepEqual(resp.Content, want) || resp.StopReason != "tool_use" || resp.Text != "Calling get_weather." {
		t.Errorf("response = %+v", resp)
	}
	if c := srv.Requests()[0].ToolConfig.ToolChoice; c == nil || c.Tool == nil || c.Tool.Name != "get_weather" {
		t.Errorf("toolChoice = %+v", c)
	}
}

func TestParallelToolCalls(t *testing.T) {
	calls := []bedrocktest.ToolCall{
		{ID: "tooluse_a", Name: "get_weather", Input: `{"city":"Paris","days":3}`},
		{ID: "tooluse_b", Name: "get_weather", Input: `{"city":"Zürich – Schweiz","days":1}`},
	}
	srv := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{ToolUses: calls}
	}})
	m := newModel(t, srv, bedrock.Options{})
	text, events, final := toolEvents(t, m, toolRequest("two cities", weather))
	ends := assembled(t, events)
	if text != "" || len(ends) != 2 || final.StopReason != "tool_use" {
		t.Fatalf("text %q, ends %+v, final %+v", text, ends, final)
	}
	for i, c := range calls {
		if e := ends[i]; e.ID != c.ID || e.Name != c.Name || string(e.Input) != c.Input {
			t.Errorf("call %d = %+v, want %+v", i, e, c)
		}
	}
	resp, err := m.Chat(context.Background(), toolRequest("two cities", weather))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Content) != 2 || resp.Content[1].ToolUse.ID != "tooluse_b" || string(resp.Content[1].ToolUse.Input) != calls[1].Input {
		t.Errorf("whole answer = %+v", resp.Content)
	}
}

// history is a conversation where the model called get_weather and the result is sent.
func history(result ...genai.ContentBlock) []genai.Message {
	return []genai.Message{
		genai.TextMessage(genai.RoleUser, "Weather in Paris?"),
		{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{
			ID: "toolu_1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris","id":12345678901234567}`)}}}},
		{Role: genai.RoleUser, Content: result},
	}
}

func toolResult(id string, isError bool, content ...genai.ContentBlock) genai.ContentBlock {
	return genai.ContentBlock{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: id, IsError: isError, Content: content}}
}

func TestToolResultWithJSONAndImage(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	png := testImage("png")
	req := &genai.ChatRequest{Tools: []genai.Tool{weather}, Messages: history(toolResult("toolu_1", false,
		genai.ContentBlock{Type: genai.BlockText, Text: `{"temp":21,"sky":"clear"}`},
		genai.ContentBlock{Type: genai.BlockText, Text: "plain words"},
		genai.ContentBlock{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: png}},
	))}
	text, events, final := toolEvents(t, m, req)
	want := `Tool toolu_1 returned {"sky":"clear","temp":21} plain words [image png, ` + itoa(len(png)) + ` bytes].`
	if text != want || len(events) != 0 || final.StopReason != "end_turn" {
		t.Errorf("answer %q (events %+v, stop %q), want %q", text, events, final.StopReason, want)
	}
	got := srv.Requests()[0].Messages
	if u := got[1].Content[0].ToolUse; u == nil || !sameJSON(u.Input, json.RawMessage(`{"city":"Paris","id":12345678901234567}`)) ||
		!strings.Contains(string(u.Input), "12345678901234567") {
		t.Errorf("toolUse sent = %+v", u)
	}
	r := got[2].Content[0].ToolResult
	if r == nil || r.ToolUseID != "toolu_1" || r.Status != "" || len(r.Content) != 3 ||
		!sameJSON(r.Content[0].JSON, json.RawMessage(`{"temp":21,"sky":"clear"}`)) ||
		r.Content[1].Text == nil || *r.Content[1].Text != "plain words" ||
		r.Content[2].Image == nil || !bytes.Equal(r.Content[2].Image.Source.Bytes, png) {
		t.Fatalf("toolResult sent = %+v", r)
	}

	req.Messages = history(toolResult("toolu_1", true, genai.ContentBlock{Type: genai.BlockText, Text: "no such city"}))
	resp, err := m.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "Tool toolu_1 failed: no such city." || srv.Requests()[1].Messages[2].Content[0].ToolResult.Status != "error" {
		t.Errorf("error result: answer %q, sent %+v", resp.Text, srv.Requests()[1].Messages[2].Content[0].ToolResult)
	}
}

// Trap: Bedrock refuses a history with tool blocks unless toolConfig is sent, even when
// the client sends no tools (Anthropic's and OpenAI's APIs take that).
func TestHistoryWithToolsNeedsToolConfig(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	result := toolResult("toolu_1", false, genai.ContentBlock{Type: genai.BlockText, Text: "21 degrees"})
	req := &genai.ChatRequest{Messages: history(result)}
	text, _, _ := toolEvents(t, m, req)
	if text != "Tool toolu_1 returned 21 degrees." {
		t.Errorf("answer %q", text)
	}
	cfg := srv.Requests()[0].ToolConfig
	if cfg == nil || len(cfg.Tools) != 1 || cfg.Tools[0].ToolSpec.Name != "get_weather" || cfg.ToolChoice != nil ||
		!sameJSON(cfg.Tools[0].ToolSpec.InputSchema.JSON, json.RawMessage(`{"type":"object","properties":{}}`)) {
		t.Errorf("toolConfig = %+v", cfg)
	}

	// Tool choice "none": Converse has no such choice, so no toolChoice and only the
	// tools the history needs are sent, with the client's definition.
	other := genai.Tool{Name: "other", InputSchema: json.RawMessage(`{"type":"object"}`)}
	req = &genai.ChatRequest{Messages: history(result), Tools: []genai.Tool{other, weather}, ToolChoice: &genai.ToolChoice{Type: genai.ToolChoiceNone}}
	if _, err := m.Chat(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	cfg = srv.Requests()[1].ToolConfig
	if cfg == nil || len(cfg.Tools) != 1 || cfg.ToolChoice != nil || !sameJSON(cfg.Tools[0].ToolSpec.InputSchema.JSON, weather.InputSchema) {
		t.Errorf("toolConfig with choice none = %+v", cfg)
	}
	// Without tool history, "none" sends no tools at all, so the model answers text.
	req = toolRequest("hi", weather)
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceNone}
	resp, err := m.Chat(context.Background(), req)
	if err != nil || resp.Text != "You said: hi" || srv.Requests()[2].ToolConfig != nil {
		t.Errorf("choice none: %+v %v, toolConfig %+v", resp, err, srv.Requests()[2].ToolConfig)
	}
}

// Trap: a schema with empty properties must arrive as an object, not null or dropped.
func TestEmptyPropertiesSchemaArrivesAsObject(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	now := genai.Tool{Name: "current_time", InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)}
	resp, err := m.Chat(context.Background(), toolRequest("what time is it", now))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].ToolConfig.Tools[0].ToolSpec.InputSchema.JSON; string(got) != `{"properties":{},"type":"object"}` {
		t.Errorf("schema sent = %s", got)
	}
	if resp.StopReason != "tool_use" || string(resp.Content[1].ToolUse.Input) != `{"input":"what time is it"}` {
		t.Errorf("response = %+v", resp)
	}
}

// Trap: every toolUse needs exactly one toolResult in the next user message; Bedrock
// refuses anything else, so it is refused here first, naming the field.
func TestToolTurnRulesRefusedBeforeSending(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	two := []genai.Message{
		genai.TextMessage(genai.RoleUser, "two cities"),
		{Role: genai.RoleAssistant, Content: []genai.ContentBlock{
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "a", Name: "get_weather", Input: json.RawMessage(`{}`)}},
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "b", Name: "get_weather", Input: json.RawMessage(`{}`)}},
		}},
	}
	text := genai.ContentBlock{Type: genai.BlockText, Text: "21"}
	for _, tc := range []struct {
		name string
		msgs []genai.Message
		want string
	}{
		{"a call unanswered", append(two, genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{toolResult("a", false, text)}}),
			"messages[2].content: on Bedrock each tool_use of messages[1] needs a tool_result here; missing for b"},
		{"answered twice", append(two, genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{toolResult("a", false, text), toolResult("b", false, text), toolResult("a", false, text)}}),
			`messages[2].content[2].tool_use_id: "a" is answered twice`},
		{"id Bedrock refuses", []genai.Message{two[0], {Role: genai.RoleAssistant, Content: []genai.ContentBlock{
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "call:1", Name: "get_weather", Input: json.RawMessage(`{}`)}}}},
			{Role: genai.RoleUser, Content: []genai.ContentBlock{toolResult("call:1", false, text)}}},
			`messages[1].content[0].id: "call:1" on Bedrock must match`},
		{"no next message", two, "messages[1]: on Bedrock each tool_use needs a tool_result in the next user message; none follows (tool_use ids a, b)"},
		{"empty result", append(two, genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{toolResult("a", false, text), toolResult("b", false)}}),
			"messages[2].content[1].content: on Bedrock a tool result must hold at least one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &genai.ChatRequest{Tools: []genai.Tool{weather}, Messages: tc.msgs}
			_, err := m.Chat(context.Background(), req)
			if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), tc.want) {
				t.Errorf("Chat: %v, want EINVALID %q", err, tc.want)
			}
			_, _, err = collect(t, m.Stream(context.Background(), req))
			if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), tc.want) {
				t.Errorf("Stream: %v, want EINVALID %q", err, tc.want)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached Bedrock", n)
	}
}

// Trap: models that do not take tool choice "any" or a named tool are refused by
// Bedrock; the error names tool_choice and the way out.
func TestToolChoiceRefusedByModel(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := toolRequest("Paris", weather)
	req.Model = "meta.llama3-1-70b-instruct-v1:0"
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceAny}
	want := `tool_choice: model meta.llama3-1-70b-instruct-v1:0 on Bedrock does not support tool_choice "any"; use "auto" or leave tool_choice out`
	_, err := m.Chat(context.Background(), req)
	if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), want) {
		t.Errorf("Chat: %v", err)
	}
	_, _, err = collect(t, m.Stream(context.Background(), req))
	if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), want) {
		t.Errorf("Stream: %v", err)
	}
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceAuto}
	if _, err := m.Chat(context.Background(), req); err != nil {
		t.Errorf("auto on the same model: %v", err)
	}
}

// A model's call whose streamed input is not a JSON object is an upstream error, not a
// call handed on.
func TestStreamedToolInputMustBeAnObject(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{ToolUses: []bedrocktest.ToolCall{{ID: "t", Name: "get_weather", Input: `{"city":`}}}
	}})
	m := newModel(t, srv, bedrock.Options{})
	var err error
	for _, e := range m.Stream(context.Background(), toolRequest("x", weather)) {
		if e != nil {
			err = e
		}
	}
	if genai.ErrorCode(err) != genai.EUPSTREAM || !strings.Contains(genai.ErrorMessage(err), "tool call t streamed an input that is not a JSON object") {
		t.Errorf("got %v", err)
	}
}

func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A call of a tool without parameters may stream no input; its end says {}.
func TestStreamedToolCallWithoutInput(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{ToolUses: []bedrocktest.ToolCall{{ID: "t", Name: "current_time", Input: ""}}}
	}})
	m := newModel(t, srv, bedrock.Options{})
	now := genai.Tool{Name: "current_time", InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)}
	_, events, final := toolEvents(t, m, toolRequest("time?", now))
	end := events[len(events)-1]
	if !end.Done || end.ID != "t" || string(end.Input) != "{}" || final.StopReason != "tool_use" {
		t.Errorf("events %+v, final %+v", events, final)
	}
}
