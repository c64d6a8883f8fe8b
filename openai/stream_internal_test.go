package openai

import (
	"reflect"
	"strings"
	"testing"

	"genai"
)

// TestDecodeChunk reads the chunks that OpenAI, vLLM, Ollama and llama.cpp's server send
// (nulls, logprobs, usage, several choices, escapes), and rejects what is not a chunk.
func TestDecodeChunk(t *testing.T) {
	for _, tc := range []struct {
		data string
		want *streamChunk
	}{
		{`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
			&streamChunk{choices: []streamChoice{{}}}},
		{`{"choices":[{"index":0,"delta":{"content":"caf\u00e9 \"q\"\n<b>"},"finish_reason":null}]}`,
			&streamChunk{choices: []streamChoice{{content: "café \"q\"\n<b>"}}}},
		{`{"choices":[{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{},"finish_reason":"length"}]}`,
			&streamChunk{choices: []streamChoice{{index: 1, content: "b"}, {finishReason: "length"}}}},
		{`{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}`,
			&streamChunk{usage: &genai.Usage{InputTokens: 9, OutputTokens: 12}}},
		{`{"error":{"message":"overloaded","type":"server_error"}}`, &streamChunk{failed: true}},
		{`{"error":null}`, &streamChunk{failed: true}},
	} {
		got, err := decodeChunk([]byte(tc.data))
		if err != nil {
			t.Errorf("%s: %v", tc.data, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.data, got, tc.want)
		}
	}
	for _, bad := range []string{`{"choices":[{"delta":{"content":"cut`, `[1,2]`, `"text"`, ``} {
		if _, err := decodeChunk([]byte(bad)); err == nil || !strings.Contains(err.Error(), "decode a chunk") {
			t.Errorf("%q: err = %v, want a decoding error", bad, err)
		}
	}
}
