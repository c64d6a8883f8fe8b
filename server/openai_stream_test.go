package server

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestTextChunkPartsMatchMarshal checks that a text chunk assembled from its parts is
// byte for byte the chunk json.Marshal makes, as clients parsed it before, for texts
// and model names that encoding/json escapes (HTML characters, U+2028, invalid UTF-8,
// quotes, control characters).
func TestTextChunkPartsMatchMarshal(t *testing.T) {
	texts := []string{"", "Hello", `a "quoted" \ back`, "<b>&amp;</b>", "line\nbreak\ttab\x01", "\u2028\u2029", "bad \xff\xfe utf-8", "日本語 🙂"}
	models := []string{"test-model", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", `odd "<model>" &`, "\xffm"}
	for _, model := range models {
		base := oaiCompletion{ID: newID("chatcmpl-"), Object: "chat.completion.chunk", Created: 1733000000, Model: model}
		head, tail := textChunkParts(base)
		for _, text := range texts {
			c := base
			c.Choices = []oaiChoice{{Delta: map[string]any{"content": text}}}
			want, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			q, _ := json.Marshal(text)
			if got := bytes.Join([][]byte{head, q, tail}, nil); !bytes.Equal(got, want) {
				t.Errorf("model %q, text %q:\n got %s\nwant %s", model, text, got, want)
			}
		}
	}
}
