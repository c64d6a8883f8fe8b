package openai_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"genai"
	"genai/openai"
	"genai/openai/openaitest"
)

var weatherSchema = json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","maximum":9007199254740993}},"required":["city"]}`)

func weatherTools() []genai.Tool {
	return []genai.Tool{
		{Name: "get_weather", Description: "The weather in a city.", InputSchema: weatherSchema},
		{Name: "current_time", InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)},
	}
}

func toolRequest(text string) *genai.ChatRequest {
	req := userText(text)
	req.Tools = weatherTools()
	return req
}

// streamed is a stream read to its end: its text, its tool call events, its final
// event and its error.
type streamed struct {
	text   string
	events []genai.Event // text and tool events, in order
	calls  []genai.ToolUseEvent
	done   genai.Event
	err    error
}

func readStream(m *openai.ChatModel, t *testing.T, req *genai.ChatRequest) streamed {
	t.Helper()
	var s streamed
	for ev, err := range m.Stream(t.Context(), req) {
		if err != nil {
			s.err = err
			break
		}
		switch {
		case ev.Done:
			s.done = ev
		case ev.ToolUse != nil:
			s.calls = append(s.calls, *ev.ToolUse)
		default:
			s.text += ev.Text
		}
		s.events = append(s.events, ev)
	}
	return s
}

// checkCalls checks the tool events of a stream: for each call, its start with its
// id and name, then pieces of its input, and its end with the whole input, which the
// pieces join to. It returns the calls' inputs by index, and how many pieces each had.
func checkCalls(t *testing.T, events []genai.ToolUseEvent, want []genai.ToolUse) []int {
	t.Helper()
	started := map[int]genai.ToolUseEvent{}
	inputs := map[int]string{}
	pieces := make([]int, len(want))
	ended := 0
	for _, ev := range events {
		switch {
		case ev.Done:
			if ev.Index != ended {
				t.Fatalf("end of call %d, want call %d next", ev.Index, ended)
			}
			w := want[ev.Index]
			if ev.ID != w.ID || ev.Name != w.Name || string(ev.Input) != string(w.Input) {
				t.Errorf("end of call %d = %s %s %s, want %s %s %s", ev.Index, ev.ID, ev.Name, ev.Input, w.ID, w.Name, w.Input)
			}
			if inputs[ev.Index] != string(ev.Input) && !(inputs[ev.Index] == "" && string(ev.Input) == "{}") {
				t.Errorf("pieces of call %d join to %q, the end has %s", ev.Index, inputs[ev.Index], ev.Input)
			}
			ended++
		case ev.ID != "":
			if ev.Index != len(started) || ev.Index >= len(want) {
				t.Fatalf("start of call %d after %d calls, want %d in all", ev.Index, len(started), len(want))
			}
			if ev.Name != want[ev.Index].Name || ev.ID != want[ev.Index].ID {
				t.Errorf("start of call %d = %s %s, want %s %s", ev.Index, ev.ID, ev.Name, want[ev.Index].ID, want[ev.Index].Name)
			}
			started[ev.Index] = ev
		default:
			if _, ok := started[ev.Index]; !ok {
				t.Fatalf("input of call %d before its start", ev.Index)
			}
			inputs[ev.Index] += ev.InputDelta
			pieces[ev.Index]++
		}
	}
	if ended != len(want) {
		t.Errorf("%d calls ended, want %d", ended, len(want))
	}
	return pieces
}

func TestToolCallStreamed(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	s := readStream(newModel(t, srv, openai.Options{}), t, toolRequest("Paris"))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.text != "Calling get_weather." {
		t.Errorf("text = %q", s.text)
	}
	if s.events[0].Text == "" {
		t.Errorf("first event %+v, want the text before the call", s.events[0])
	}
	pieces := checkCalls(t, s.calls, []genai.ToolUse{{ID: "call_1_0", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}})
	if pieces[0] < 2 {
		t.Errorf("the input came in %d pieces; the server splits it, so the stream must join them", pieces[0])
	}
	if s.done.StopReason != genai.StopToolUse {
		t.Errorf("stop reason = %q, want %q", s.done.StopReason, genai.StopToolUse)
	}

	got := srv.Requests()[0]
	if len(got.Tools) != 2 || got.ToolChoice != nil || got.ParallelToolCalls != nil {
		t.Fatalf("tools = %+v, tool_choice = %+v, parallel_tool_calls = %v", got.Tools, got.ToolChoice, got.ParallelToolCalls)
	}
	f := got.Tools[0]
	if f.Type != "function" || f.Function.Name != "get_weather" || f.Function.Description == nil || *f.Function.Description != "The weather in a city." {
		t.Errorf("tools[0] = %+v", f)
	}
	var sent, want any
	json.Unmarshal(f.Function.Parameters, &sent)
	json.Unmarshal(weatherSchema, &want)
	if !reflect.DeepEqual(sent, want) || !bytes.Contains(f.Function.Parameters, []byte("9007199254740993")) {
		t.Errorf("parameters = %s, want %s with its big integer intact", f.Function.Parameters, weatherSchema)
	}
	if got.Tools[1].Function.Description != nil {
		t.Errorf("an empty description was sent: %q", *got.Tools[1].Function.Description)
	}
}

func TestToolCallWhole(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	res, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), toolRequest("Paris"))
	if err != nil {
		t.Fatal(err)
	}
	want := []genai.ContentBlock{
		{Type: genai.BlockText, Text: "Calling get_weather."},
		{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "call_1_0", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}},
	}
	if !reflect.DeepEqual(res.Content, want) || res.Text != "Calling get_weather." || res.StopReason != genai.StopToolUse {
		t.Errorf("answer = %+v %q %q, want %+v", res.Content, res.Text, res.StopReason, want)
	}
}

// twoCalls answers two calls after some text, as a model calling tools in parallel.
func twoCalls(*openaitest.ChatRequest) openaitest.Answer {
	return openaitest.Answer{
		Tokens: []string{"Let me ", "check."},
		ToolCalls: []openaitest.ToolCall{
			openaitest.Call("call_a", "get_weather", `{"city":"Zürich","days":3}`),
			openaitest.Call("call_b", "current_time", ""),
		},
	}
}

var twoCallsWant = []genai.ToolUse{
	{ID: "call_a", Name: "get_weather", Input: json.RawMessage(`{"city":"Zürich","days":3}`)},
	{ID: "call_b", Name: "current_time", Input: json.RawMessage(`{}`)},
}

func TestParallelToolCalls(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Answer: twoCalls})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})

	s := readStream(m, t, toolRequest("weather and time"))
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.text != "Let me check." || s.events[0].ToolUse != nil {
		t.Errorf("text = %q, first event %+v; want the text first", s.text, s.events[0])
	}
	checkCalls(t, s.calls, twoCallsWant)
	if s.done.StopReason != genai.StopToolUse {
		t.Errorf("stop reason = %q", s.done.StopReason)
	}

	res, err := m.Chat(t.Context(), toolRequest("weather and time"))
	if err != nil {
		t.Fatal(err)
	}
	var uses []genai.ToolUse
	for _, b := range res.Content {
		if b.Type == genai.BlockToolUse {
			uses = append(uses, *b.ToolUse)
		}
	}
	if !reflect.DeepEqual(uses, twoCallsWant) || res.Content[0].Text != "Let me check." {
		t.Errorf("whole answer = %+v", res.Content)
	}
}

// A full round trip: the model calls a tool, the caller sends its result back, and the
// model answers from it.
func TestToolRoundTrip(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})
	req := toolRequest("Paris")
	s := readStream(m, t, req)
	if s.err != nil || len(s.calls) == 0 {
		t.Fatalf("first turn: %v, %+v", s.err, s.calls)
	}
	end := s.calls[len(s.calls)-1]
	req.Messages = append(req.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: []genai.ContentBlock{
			{Type: genai.BlockText, Text: s.text},
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: end.ID, Name: end.Name, Input: end.Input}},
		}},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{
			{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: end.ID, Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "18°C"}}}},
		}},
	)
	for _, stream := range []bool{true, false} {
		var text, stop string
		if stream {
			s := readStream(m, t, req)
			if s.err != nil {
				t.Fatal(s.err)
			}
			text, stop = s.text, s.done.StopReason
		} else {
			res, err := m.Chat(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			text, stop = res.Text, res.StopReason
		}
		if text != "Tool call_1_0 returned 18°C." || stop != "end_turn" {
			t.Errorf("stream %v: answer %q, stop reason %q", stream, text, stop)
		}
	}

	msgs := srv.Requests()[1].Messages
	if len(msgs) != 3 {
		t.Fatalf("messages = %+v, want user, assistant, tool", msgs)
	}
	a, tool := msgs[1], msgs[2]
	wantCall := []openaitest.ToolCall{openaitest.Call("call_1_0", "get_weather", `{"city":"Paris"}`)}
	if a.Role != "assistant" || a.Text() != "Calling get_weather." || !reflect.DeepEqual(a.ToolCalls, wantCall) {
		t.Errorf("assistant message = %+v, want its text and tool_calls %+v", a, wantCall)
	}
	if tool.Role != "tool" || tool.ToolCallID != "call_1_0" || !tool.ContentIsString || tool.Text() != "18°C" {
		t.Errorf("tool message = %+v", tool)
	}
}

// An assistant message of calls only has content null, as OpenAI's own; a user message
// of a result and text sends the tool message first, then the text.
func TestToolHistoryShapes(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := toolRequest("time?")
	req.Messages = append(req.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: []genai.ContentBlock{
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "t1", Name: "current_time", Input: json.RawMessage(`{}`)}},
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "t2", Name: "get_weather", Input: json.RawMessage(`{"city":"Oslo"}`)}},
		}},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{
			{Type: genai.BlockText, Text: "Both done."},
			{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: "t2", Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "rain"}, {Type: genai.BlockText, Text: "5°C"}}}},
			{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: "t1", Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "noon"}}}},
		}},
	)
	res, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Tool t2 returned rain\n5°C. Tool t1 returned noon." {
		t.Errorf("answer = %q", res.Text)
	}
	msgs := srv.Requests()[0].Messages
	var roles []string
	for _, m := range msgs {
		roles = append(roles, m.Role)
	}
	if !slices.Equal(roles, []string{"user", "assistant", "tool", "tool", "user"}) {
		t.Fatalf("roles = %q", roles)
	}
	if !msgs[1].ContentIsNull || len(msgs[1].ToolCalls) != 2 {
		t.Errorf("assistant message = %+v, want content null and two tool_calls", msgs[1])
	}
	if msgs[4].Text() != "Both done." {
		t.Errorf("last user message = %+v", msgs[4])
	}
}

func TestToolChoiceEachKind(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})
	for _, tc := range []struct {
		choice   *genai.ToolChoice
		want     *openaitest.ToolChoice
		wantCall string // the tool called, "" for none
	}{
		{nil, nil, "get_weather"},
		{&genai.ToolChoice{Type: genai.ToolChoiceAuto}, &openaitest.ToolChoice{Mode: "auto"}, "get_weather"},
		{&genai.ToolChoice{Type: genai.ToolChoiceAny}, &openaitest.ToolChoice{Mode: "required"}, "get_weather"},
		{&genai.ToolChoice{Type: genai.ToolChoiceTool, Name: "current_time"}, &openaitest.ToolChoice{Mode: "function", Name: "current_time"}, "current_time"},
		{&genai.ToolChoice{Type: genai.ToolChoiceNone}, &openaitest.ToolChoice{Mode: "none"}, ""},
	} {
		req := toolRequest("Rome")
		req.ToolChoice = tc.choice
		s := readStream(m, t, req)
		if s.err != nil {
			t.Fatalf("%+v: %v", tc.choice, s.err)
		}
		reqs := srv.Requests()
		if got := reqs[len(reqs)-1].ToolChoice; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: tool_choice sent = %+v, want %+v", tc.choice, got, tc.want)
		}
		var called string
		if len(s.calls) > 0 {
			called = s.calls[0].Name
		}
		if called != tc.wantCall {
			t.Errorf("%+v: called %q, want %q", tc.choice, called, tc.wantCall)
		}
	}
}

// Without tools, OpenAI refuses tool_choice and parallel_tool_calls; "auto" and "none"
// then mean what no tools mean, so neither is sent, and a history of tool calls goes
// without tools.
func TestToolChoiceWithoutToolsIsLeftOut(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := userText("weather?")
	req.Messages = append(req.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "t1", Name: "get_weather", Input: json.RawMessage(`{}`)}}}},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: "t1", Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "sun"}}}}}},
	)
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceNone, DisableParallel: true}
	if s := readStream(newModel(t, srv, openai.Options{}), t, req); s.err != nil || s.text != "Tool t1 returned sun." {
		t.Fatalf("answer %q, %v", s.text, s.err)
	}
	got := srv.Requests()[0]
	if got.Tools != nil || got.ToolChoice != nil || got.ParallelToolCalls != nil {
		t.Errorf("sent tools %+v, tool_choice %+v, parallel_tool_calls %v; want none", got.Tools, got.ToolChoice, got.ParallelToolCalls)
	}
}

func TestDisableParallelSent(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Answer: twoCalls})
	defer srv.Close()
	req := toolRequest("weather and time")
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceAuto, DisableParallel: true}
	s := readStream(newModel(t, srv, openai.Options{}), t, req)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if p := srv.Requests()[0].ParallelToolCalls; p == nil || *p {
		t.Fatalf("parallel_tool_calls = %v, want false", p)
	}
	checkCalls(t, s.calls, twoCallsWant[:1])
}

func TestToolResultError(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := toolRequest("Paris")
	req.Messages = append(req.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "c1", Name: "get_weather", Input: json.RawMessage(`{"city":"Paris"}`)}}}},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{
			ToolUseID: "c1", IsError: true, Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "the weather service is down"}},
		}}}},
	)
	res, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "Tool c1 returned Error: the weather service is down." {
		t.Errorf("answer = %q, want the error to reach the model as such", res.Text)
	}
}

// A "tool" message takes text only: the images of a result go in a user message right
// after the tool messages, introduced by the call's id, and the tool message says so.
func TestToolResultWithImage(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1, 2, 3}, 100)...)
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := toolRequest("chart")
	req.Messages = append(req.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "c1", Name: "get_weather", Input: json.RawMessage(`{"city":"Oslo"}`)}}}},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{
			{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: "c1", Content: []genai.ContentBlock{
				{Type: genai.BlockText, Text: "a chart"},
				{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: png}},
			}}},
			{Type: genai.BlockText, Text: "What does it show?"},
		}},
	)
	s := readStream(newModel(t, srv, openai.Options{}), t, req)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if want := "Tool c1 returned a chart\n(1 image, in the user message that follows). [image image/png, 308 bytes]"; s.text != want {
		t.Errorf("answer = %q, want %q", s.text, want)
	}
	msgs := srv.Requests()[0].Messages
	if len(msgs) != 4 || msgs[2].Role != "tool" || msgs[3].Role != "user" {
		t.Fatalf("messages = %+v, want user, assistant, tool, user", msgs)
	}
	parts := msgs[3].Content
	if len(parts) != 3 || parts[0].Text != "Images returned by tool call c1:" || parts[1].Type != "image_url" || parts[2].Text != "What does it show?" {
		t.Fatalf("user message after the tool message = %+v", parts)
	}
	if mt, data, err := openaitest.DecodeDataURL(parts[1].ImageURL.URL); err != nil || mt != "image/png" || !bytes.Equal(data, png) {
		t.Errorf("image = %s, %d bytes, %v; want the PNG byte-exact", mt, len(data), err)
	}
}

func TestUnansweredToolCallIsInvalid(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := toolRequest("Paris")
	req.Messages = append(req.Messages,
		genai.Message{Role: genai.RoleAssistant, Content: []genai.ContentBlock{
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "c1", Name: "get_weather", Input: json.RawMessage(`{}`)}},
			{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "c2", Name: "get_weather", Input: json.RawMessage(`{}`)}},
		}},
		genai.Message{Role: genai.RoleUser, Content: []genai.ContentBlock{{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: "c1"}}}},
	)
	_, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), req)
	if e := wantCode(t, err, genai.EINVALID); !strings.Contains(e.Message, "messages[1]") || !strings.Contains(e.Message, "c2") {
		t.Errorf("message = %q, want it to name messages[1] and c2", e.Message)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// A model's call whose arguments are not a JSON object is the endpoint's fault, said so;
// a call with no arguments at all has the input {}.
func TestBadToolArgumentsAreUpstream(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Answer: func(*openaitest.ChatRequest) openaitest.Answer {
		return openaitest.Answer{ToolCalls: []openaitest.ToolCall{openaitest.Call("c1", "get_weather", `{"city":`)}}
	}})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})
	s := readStream(m, t, toolRequest("Paris"))
	if e := wantCode(t, s.err, genai.EUPSTREAM); !strings.Contains(e.Message, "not a JSON object") || !strings.Contains(e.Message, "c1") {
		t.Errorf("streamed: %q", e.Message)
	}
	for _, ev := range s.calls {
		if ev.Done {
			t.Errorf("a call with broken arguments ended: %+v", ev)
		}
	}
	_, err := m.Chat(t.Context(), toolRequest("Paris"))
	if e := wantCode(t, err, genai.EUPSTREAM); !strings.Contains(e.Message, "not a JSON object") {
		t.Errorf("whole: %q", e.Message)
	}
}

func TestResponseFormat(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})

	req := userText("Answer in JSON: two apples")
	req.ResponseFormat = &genai.ResponseFormat{Type: genai.FormatJSONObject}
	s := readStream(m, t, req)
	if s.err != nil || s.text != `{"answer":"Answer in JSON: two apples"}` {
		t.Errorf("json_object: %q, %v", s.text, s.err)
	}
	if f := srv.Requests()[0].ResponseFormat; f == nil || f.Type != "json_object" || f.JSONSchema != nil {
		t.Errorf("response_format = %+v", f)
	}

	schema := json.RawMessage(`{"type":"object","properties":{"fruit":{"type":"string"},"count":{"type":"integer"}},"required":["fruit","count"],"additionalProperties":false}`)
	req = userText("two apples")
	req.ResponseFormat = &genai.ResponseFormat{Type: genai.FormatJSONSchema, Name: "fruit_count", Description: "What was counted.", Schema: schema, Strict: true}
	res, err := m.Chat(t.Context(), req)
	if err != nil || res.Text != `{"count":2,"fruit":"two apples"}` {
		t.Errorf("json_schema: %q, %v", res.Text, err)
	}
	f := srv.Requests()[1].ResponseFormat
	if f == nil || f.Type != "json_schema" || f.JSONSchema == nil {
		t.Fatalf("response_format = %+v", f)
	}
	js := f.JSONSchema
	if js.Name != "fruit_count" || js.Description == nil || *js.Description != "What was counted." || js.Strict == nil || !*js.Strict || string(js.Schema) != string(schema) {
		t.Errorf("json_schema = %+v %s", js, js.Schema)
	}
}

// OpenAI's refusals of tool requests come back as EINVALID with its message.
func TestOpenAIToolRefusalIsInvalid(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	req := userText("no mention of the format")
	req.ResponseFormat = &genai.ResponseFormat{Type: genai.FormatJSONObject}
	_, err := newModel(t, srv, openai.Options{}).Chat(t.Context(), req)
	if e := wantCode(t, err, genai.EINVALID); !strings.Contains(e.Message, "must contain the word 'json'") {
		t.Errorf("message = %q", e.Message)
	}
}

// A call cut short by the token limit is said to be so, not only "not a JSON object".
func TestToolCallCutByMaxTokens(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	m := newModel(t, srv, openai.Options{})
	req := toolRequest("a city with a very long name indeed")
	req.MaxTokens = 4 // two text tokens, the call's start, one piece of its arguments
	s := readStream(m, t, req)
	if e := wantCode(t, s.err, genai.EUPSTREAM); !strings.Contains(e.Message, "token limit in the middle of the arguments of tool get_weather") {
		t.Errorf("streamed: %q", e.Message)
	}
	_, err := m.Chat(t.Context(), req)
	if e := wantCode(t, err, genai.EUPSTREAM); !strings.Contains(e.Message, "raise max_tokens") {
		t.Errorf("whole: %q", e.Message)
	}
}
