package structured_test

import (
	"context"
	"encoding/json"
	"iter"
	"strings"
	"testing"

	"genai"
	"genai/structured"
)

// canned answers every request with text, or with a tool call, and stop reason stop.
type canned struct {
	text  string
	call  *genai.ToolUse
	stop  string
	calls int
}

func (c *canned) Chat(_ context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	c.calls++
	resp := &genai.ChatResponse{Text: c.text, StopReason: c.stop, Content: []genai.ContentBlock{{Type: genai.BlockText, Text: c.text}}}
	if c.call != nil {
		resp.Content = append(resp.Content, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: c.call})
	}
	return resp, nil
}

func (c *canned) Stream(_ context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	c.calls++
	return func(yield func(genai.Event, error) bool) {
		for _, piece := range strings.SplitAfter(c.text, ",") {
			if !yield(genai.Event{Text: piece}, nil) {
				return
			}
		}
		if u := c.call; u != nil {
			if !yield(genai.Event{ToolUse: &genai.ToolUseEvent{ID: u.ID, Name: u.Name}}, nil) ||
				!yield(genai.Event{ToolUse: &genai.ToolUseEvent{InputDelta: string(u.Input)}}, nil) ||
				!yield(genai.Event{ToolUse: &genai.ToolUseEvent{ID: u.ID, Name: u.Name, Done: true, Input: u.Input}}, nil) {
				return
			}
		}
		yield(genai.Event{Done: true, StopReason: c.stop}, nil)
	}
}

// both runs req whole and streamed and returns the two errors.
func both(m genai.ChatModel, req *genai.ChatRequest) (whole, streamed error) {
	_, whole = m.Chat(context.Background(), req)
	for _, err := range m.Stream(context.Background(), req) {
		if err != nil {
			streamed = err
		}
	}
	return whole, streamed
}

var person = &genai.ResponseFormat{Type: genai.FormatJSONSchema, Name: "person",
	Schema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}`)}

func request(f *genai.ResponseFormat, tools ...genai.Tool) *genai.ChatRequest {
	return &genai.ChatRequest{ResponseFormat: f, Tools: tools, Messages: []genai.Message{genai.TextMessage(genai.RoleUser, "who?")}}
}

func TestAnswersHeldToTheirFormat(t *testing.T) {
	for _, tc := range []struct {
		name, text, stop string
		format           *genai.ResponseFormat
		want             string // error code, "" for none
		msg              string
	}{
		{"valid", `{"name":"Ada","age":36}`, "end_turn", person, "", ""},
		{"not JSON", `Ada, 36`, "end_turn", person, genai.EBADANSWER, "not JSON"},
		{"missing property", `{"name":"Ada"}`, "end_turn", person, genai.EBADANSWER, `does not match the schema "person"`},
		{"extra property", `{"name":"Ada","age":36,"x":1}`, "end_turn", person, genai.EBADANSWER, "does not match"},
		{"wrong type", `{"name":"Ada","age":"36"}`, "end_turn", person, genai.EBADANSWER, "does not match"},
		{"cut by max tokens", `{"name":"Ad`, "max_tokens", person, "", ""},
		{"json_object", `{"any":"thing"}`, "end_turn", &genai.ResponseFormat{Type: genai.FormatJSONObject}, "", ""},
		{"json_object, an array", `[1,2]`, "end_turn", &genai.ResponseFormat{Type: genai.FormatJSONObject}, genai.EBADANSWER, "not an object"},
	} {
		m := structured.Check(&canned{text: tc.text, stop: tc.stop})
		whole, streamed := both(m, request(tc.format))
		for kind, err := range map[string]error{"whole": whole, "streamed": streamed} {
			if genai.ErrorCode(err) != tc.want && !(tc.want == "" && err == nil) || err != nil && !strings.Contains(genai.ErrorMessage(err), tc.msg) {
				t.Errorf("%s, %s: %v, want %q naming %q", tc.name, kind, err, tc.want, tc.msg)
			}
		}
	}
}

// The streamed text reaches the consumer as it comes; a broken answer ends with the
// error in place of Done.
func TestStreamEndsWithTheErrorInPlaceOfDone(t *testing.T) {
	m := structured.Check(&canned{text: `{"name":"Ada",`, stop: "end_turn"})
	var text strings.Builder
	var last error
	done := false
	for ev, err := range m.Stream(context.Background(), request(person)) {
		text.WriteString(ev.Text)
		done = done || ev.Done
		last = err
	}
	if text.String() != `{"name":"Ada",` || done || genai.ErrorCode(last) != genai.EBADANSWER {
		t.Errorf("text %q, done %v, err %v", text.String(), done, last)
	}
}

func TestStrictToolCalls(t *testing.T) {
	tool := genai.Tool{Name: "add", Strict: true, InputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"number"}},"required":["a"]}`)}
	good := &canned{call: &genai.ToolUse{ID: "c", Name: "add", Input: json.RawMessage(`{"a":1}`)}, stop: genai.StopToolUse}
	if w, s := both(structured.Check(good), request(nil, tool)); w != nil || s != nil {
		t.Errorf("a valid call: %v, %v", w, s)
	}
	bad := &canned{call: &genai.ToolUse{ID: "c", Name: "add", Input: json.RawMessage(`{"b":1}`)}, stop: genai.StopToolUse}
	w, s := both(structured.Check(bad), request(nil, tool))
	for _, err := range []error{w, s} {
		if genai.ErrorCode(err) != genai.EBADANSWER || !strings.Contains(genai.ErrorMessage(err), `strict tool "add"`) {
			t.Errorf("an invalid call: %v", err)
		}
	}
	tool.Strict = false
	if w, s := both(structured.Check(bad), request(nil, tool)); w != nil || s != nil {
		t.Errorf("a tool that is not strict is not checked: %v, %v", w, s)
	}
}

// An invalid schema is the client's error, found before any call.
func TestInvalidSchemaRefusedBeforeTheCall(t *testing.T) {
	c := &canned{text: "{}", stop: "end_turn"}
	f := &genai.ResponseFormat{Type: genai.FormatJSONSchema, Name: "x", Schema: json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}}`)}
	w, s := both(structured.Check(c), request(f))
	for _, err := range []error{w, s} {
		if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "response_format.json_schema.schema") {
			t.Errorf("invalid schema: %v", err)
		}
	}
	if c.calls != 0 {
		t.Errorf("the model was called %d times", c.calls)
	}
}
