package bedrock_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// The model of the tests that take Bedrock's structured outputs.
const haiku45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"

var citySchema = &genai.ResponseFormat{
	Type: genai.FormatJSONSchema, Name: "city", Description: "A city and its population",
	Schema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"},"population":{"type":"integer"},"tags":{"type":"array","items":{"type":"object","properties":{"t":{"type":"string"}}}}},"required":["name","population"]}`),
	Strict: true,
}

func formatRequest(model, text string, f *genai.ResponseFormat) *genai.ChatRequest {
	req := userText(text)
	req.Model, req.ResponseFormat = model, f
	return req
}

// A model with structured outputs gets the schema in outputConfig.textFormat, every
// object closed as Bedrock requires, and its text is the answer, whole and streamed.
func TestResponseFormatNative(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	resp, err := m.Chat(context.Background(), formatRequest(haiku45, "Lyon", citySchema))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"Lyon","population":42,"tags":[]}`
	if resp.Text != want || resp.StopReason != "end_turn" {
		t.Errorf("answer %q (%s), want %s", resp.Text, resp.StopReason, want)
	}
	got := srv.Requests()[0]
	js := got.OutputConfig.TextFormat.Structure.JSONSchema
	if got.OutputConfig.TextFormat.Type != "json_schema" || *js.Name != "city" || *js.Description != citySchema.Description {
		t.Errorf("outputConfig %+v", got.OutputConfig.TextFormat)
	}
	if !strings.Contains(js.Schema, `"additionalProperties":false`) || strings.Count(js.Schema, `"additionalProperties":false`) != 2 {
		t.Errorf("every object must be closed: %s", js.Schema)
	}
	if got.ToolConfig != nil {
		t.Errorf("no tool is needed: %+v", got.ToolConfig)
	}
	text, calls, final := toolEvents(t, m, formatRequest(haiku45, "Lyon", citySchema))
	if text != want || len(calls) != 0 || final.StopReason != "end_turn" {
		t.Errorf("streamed %q, calls %+v, stop %q", text, calls, final.StopReason)
	}
}

// A model without structured outputs, and json_object on any model, answer through a
// forced tool whose input schema is the schema; the call's input is the answer's text,
// with stop reason end_turn, whole and streamed, and no text of the model around it.
func TestResponseFormatByForcedTool(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	for _, tc := range []struct {
		name, model string
		format      *genai.ResponseFormat
		tool, want  string
	}{
		{"schema on an older model", bedrock.DefaultModel, citySchema, "city", `{"name":"Lyon"}`},
		{"json_object", haiku45, &genai.ResponseFormat{Type: genai.FormatJSONObject}, "json_answer", `{"input":"Lyon"}`},
	} {
		resp, err := m.Chat(context.Background(), formatRequest(tc.model, "Lyon", tc.format))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.Text != tc.want || resp.StopReason != "end_turn" || len(resp.Content) != 1 {
			t.Errorf("%s: answer %+v", tc.name, resp)
		}
		reqs := srv.Requests()
		cfg := reqs[len(reqs)-1].ToolConfig
		if cfg == nil || len(cfg.Tools) != 1 || cfg.Tools[0].ToolSpec.Name != tc.tool || cfg.ToolChoice.Tool == nil || cfg.ToolChoice.Tool.Name != tc.tool {
			t.Fatalf("%s: toolConfig %+v", tc.name, cfg)
		}
		if reqs[len(reqs)-1].OutputConfig != nil {
			t.Errorf("%s: outputConfig sent to a forced tool", tc.name)
		}
		text, calls, final := toolEvents(t, m, formatRequest(tc.model, "Lyon", tc.format))
		if text != tc.want || len(calls) != 0 || final.StopReason != "end_turn" {
			t.Errorf("%s: streamed %q, calls %+v, stop %q", tc.name, text, calls, final.StopReason)
		}
	}
}

// A forced tool leaves no room for the client's tools: refused, naming the way out. A
// model that ignores the forced tool breaks the format: EBADANSWER, whole and streamed.
func TestResponseFormatRefusalsAndBrokenAnswers(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := formatRequest(bedrock.DefaultModel, "Lyon", citySchema)
	req.Tools = []genai.Tool{weather}
	if _, err := m.Chat(context.Background(), req); genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "response_format: model") {
		t.Errorf("format and tools on a forced-tool model: %v", err)
	}
	req = toolRequest("Paris", weather)
	req.ToolChoice = &genai.ToolChoice{Type: genai.ToolChoiceAuto, DisableParallel: true}
	if _, err := m.Chat(context.Background(), req); genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "parallel") {
		t.Errorf("disable parallel: %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d refused requests reached Bedrock", n)
	}

	plain := newServer(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: []string{"Lyon has half a million people."}}
	}})
	m = newModel(t, plain, bedrock.Options{})
	if _, err := m.Chat(context.Background(), formatRequest(bedrock.DefaultModel, "Lyon", citySchema)); genai.ErrorCode(err) != genai.EBADANSWER {
		t.Errorf("whole answer without the tool: %v", err)
	}
	var streamErr error
	for _, err := range m.Stream(context.Background(), formatRequest(bedrock.DefaultModel, "Lyon", citySchema)) {
		streamErr = err
	}
	if genai.ErrorCode(streamErr) != genai.EBADANSWER {
		t.Errorf("streamed answer without the tool: %v", streamErr)
	}
}

// A strict tool is sent strict to a model that takes it; to an older model it is sent
// plain (genai's own check holds the call to its schema then).
func TestStrictTools(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	strict := weather
	strict.Strict = true
	for _, tc := range []struct {
		model string
		want  bool
	}{{haiku45, true}, {bedrock.DefaultModel, false}} {
		req := toolRequest("Paris", strict)
		req.Model = tc.model
		if _, err := m.Chat(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		s := reqs[len(reqs)-1].ToolConfig.Tools[0].ToolSpec.Strict
		if (s != nil && *s) != tc.want {
			t.Errorf("%s: strict sent %v, want %v", tc.model, s, tc.want)
		}
	}
}
