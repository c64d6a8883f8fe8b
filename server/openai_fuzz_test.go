package server

import (
	"errors"
	"testing"

	"genai"
)

// FuzzParseOpenAIChat checks that no body panics the /v1/chat/completions decoder, that
// every rejection is a client error, and that every accepted request validates.
func FuzzParseOpenAIChat(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"data:image/gif;base64,R0lGODlhAQABAAAAACw="}}]}],"stop":["a","b"],"max_tokens":5}`))
	f.Add([]byte(`{"messages":[{"role":"developer","content":"d"},{"role":"user","content":"u"},{"role":"assistant","content":"a"},{"role":"user","content":"u"}],"temperature":0.2,"stop":"x"}`))
	f.Add([]byte(`{"messages":[{"role":"tool","content":"t"}],"max_completion_tokens":0}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"w"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"user","content":"u"}],"tools":[{"type":"function","function":{"name":"w","parameters":{"type":"object","properties":{}},"strict":true}}],"tool_choice":{"type":"function","function":{"name":"w"}},"parallel_tool_calls":false}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"j"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"},"strict":true}},"server_tools":["knowledge_base"]}`))
	known := map[string]bool{genai.EINVALID: true, genai.ETOOLARGE: true, genai.EMEDIATYPE: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, _, err := parseOpenAIChat(data)
		if err != nil {
			var e *genai.Error
			if !errors.As(err, &e) || !known[e.Code] || e.Message == "" {
				t.Fatalf("rejection is not a client error: %#v", err)
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("accepted request does not validate: %v", err)
		}
	})
}
