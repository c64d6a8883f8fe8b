package server

import (
	"encoding/json"
	"errors"
	"testing"

	"genai"
)

// FuzzParseResponseRequest checks that no body panics the /v1/responses decoder, that
// every rejection is a client error naming what was wrong, and that what it accepts
// makes a conversation whose function calls are JSON objects and whose validation, if it
// fails, fails as a client error too.
func FuzzParseResponseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","input":"hi","instructions":"be brief","max_output_tokens":16,"stream":true,"store":false,"metadata":{"a":"b"}}`))
	f.Add([]byte(`{"input":[{"role":"developer","content":"d"},{"role":"user","content":[{"type":"input_text","text":"x"},{"type":"input_image","image_url":"data:image/gif;base64,R0lGODlhAQABAAAAACw=","detail":"auto"}]}]}`))
	f.Add([]byte(`{"input":[{"role":"user","content":"Paris"},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Calling.","annotations":[],"logprobs":[]}]},` +
		`{"type":"function_call","id":"fc_1","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},{"type":"function_call_output","call_id":"c1","output":"18 C"}],` +
		`"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"},"strict":true}],"tool_choice":{"type":"function","name":"get_weather"},"parallel_tool_calls":false}`))
	f.Add([]byte(`{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"t"}]}],"tool_choice":"required","previous_response_id":"resp_1","server_tools":["notes"]}`))
	f.Add([]byte(`{"input":[{"type":"item_reference","id":"x"}],"reasoning":{}}`))
	known := map[string]bool{genai.EINVALID: true, genai.ETOOLARGE: true, genai.EMEDIATYPE: true}
	clientError := func(t *testing.T, what string, err error) {
		var e *genai.Error
		if !errors.As(err, &e) || !known[e.Code] || e.Message == "" {
			t.Fatalf("%s is not a client error: %#v", what, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseResponseRequest(data)
		if err != nil {
			clientError(t, "rejection", err)
			return
		}
		req := p.req
		for _, m := range p.input {
			req.Messages = appendTurn(req.Messages, m)
			for _, b := range m.Content {
				if b.Type == genai.BlockToolUse && !json.Valid(b.ToolUse.Input) {
					t.Fatalf("function call arguments %q are not JSON", b.ToolUse.Input)
				}
			}
		}
		req.System = p.system
		if err := req.Validate(); err != nil {
			clientError(t, "validation", err)
		}
	})
}
