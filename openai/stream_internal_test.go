package openai

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

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

// decodeChunkBefore is decodeChunk as it was before chunks carried tool calls: the
// baseline of BenchmarkDecodeTextChunk.
func decodeChunkBefore(data []byte) (*streamChunk, error) {
	if !gjson.ValidBytes(data) {
		return nil, fmt.Errorf("decode a chunk of the stream: not valid JSON: %s", clip(string(data)))
	}
	obj := gjson.ParseBytes(data)
	if !obj.IsObject() {
		return nil, fmt.Errorf("decode a chunk of the stream: not a JSON object: %s", clip(string(data)))
	}
	c := new(streamChunk)
	obj.ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "choices":
			value.ForEach(func(_, choice gjson.Result) bool {
				c.choices = append(c.choices, streamChoice{
					index:        choice.Get("index").Int(),
					content:      choice.Get("delta.content").String(),
					finishReason: choice.Get("finish_reason").String(),
				})
				return true
			})
		case "usage":
			if value.IsObject() {
				c.usage = &genai.Usage{InputTokens: int(value.Get("prompt_tokens").Int()), OutputTokens: int(value.Get("completion_tokens").Int())}
			}
		case "error":
			c.failed = true
		}
		return true
	})
	return c, nil
}

// BenchmarkDecodeTextChunk measures the decoding of a text chunk, nearly every chunk of
// a stream, against decodeChunkBefore, interleaved so that the load of other processes
// falls on both alike; it prints decodeChunk's time over the baseline's.
func BenchmarkDecodeTextChunk(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733000000,"model":"test-model","choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}`)
	var beforeTime, nowTime time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range 100 {
			if _, err := decodeChunkBefore(data); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range 100 {
			if _, err := decodeChunk(data); err != nil {
				b.Fatal(err)
			}
		}
		beforeTime, nowTime = beforeTime+t1.Sub(t0), nowTime+time.Since(t1)
	}
	b.ReportMetric(float64(nowTime)/float64(beforeTime), "now/before")
}

// A chunk is read in place from the reader's buffer, which the next read overwrites:
// what decodeChunk returns must not change with it.
func TestDecodeChunkOwnsItsStrings(t *testing.T) {
	data := []byte(`{"choices":[{"index":0,"delta":{"content":"plain text","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":1}"}}]},"finish_reason":"tool_calls"},{"index":1,"delta":{"content":42}}]}`)
	c, err := decodeChunk(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'x'
	}
	want := []streamChoice{
		{content: "plain text", finishReason: "tool_calls", toolCalls: []toolCallPiece{{id: "call_1", name: "lookup", arguments: `{"q":1}`}}},
		{index: 1, content: "42"},
	}
	if !reflect.DeepEqual(c.choices, want) {
		t.Errorf("after the buffer was reused:\n got %+v\nwant %+v", c.choices, want)
	}
}
