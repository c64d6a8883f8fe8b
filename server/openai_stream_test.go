package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTextChunkPartsMatchMarshal checks that a text chunk assembled from its parts is
// byte for byte the chunk json.Marshal makes, as clients parsed it before, for texts
// and model names that encoding/json escapes (HTML characters, U+2028, invalid UTF-8,
// quotes, control characters).
func TestTextChunkPartsMatchMarshal(t *testing.T) {
	models := []string{"test-model", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", `odd "<model>" &`, "\xffm"}
	for _, model := range models {
		base := oaiCompletion{ID: newID("chatcmpl-"), Object: "chat.completion.chunk", Created: 1733000000, Model: model}
		head, tail := textChunkParts(base)
		for _, text := range eventTexts {
			c := base
			c.Choices = []oaiChoice{{Delta: map[string]any{"content": text}}}
			want, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := writeTextEvent(t, head, text, tail); !bytes.Equal(got, append(append([]byte("data: "), want...), "\n\n"...)) {
				t.Errorf("model %q, text %q:\n got %s\nwant %s", model, text, got, want)
			}
		}
	}
}

// TestDeltaEventMatchesMarshal checks that /api/chat's delta event, written from its
// parts, is byte for byte the event of deltaEvent marshalled.
func TestDeltaEventMatchesMarshal(t *testing.T) {
	for _, text := range eventTexts {
		want, err := json.Marshal(deltaEvent{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := writeTextEvent(t, deltaHead, text, deltaTail), "event: delta\ndata: "+string(want)+"\n\n"; string(got) != want {
			t.Errorf("text %q:\n got %q\nwant %q", text, got, want)
		}
	}
}

// A text event, written once per token, costs no allocation: at a thousand streams of
// fifty tokens, each one is fifty thousand.
func TestTextEventAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without -race")
	}
	sse := (&Server{}).newSSEWriter(discardWriter{}, httptest.NewRequest(http.MethodPost, "/api/chat", nil))
	text := strings.Repeat("token ", 20)
	if n := testing.AllocsPerRun(100, func() { sse.textEvent(deltaHead, text, deltaTail) }); n != 0 {
		t.Errorf("%v allocations per text event, want none", n)
	}
}

// eventTexts are texts that encoding/json escapes: HTML characters, U+2028, invalid
// UTF-8, quotes, control characters.
var eventTexts = []string{"", "Hello", `a "quoted" \ back`, "<b>&amp;</b>", "line\nbreak\ttab\x01\b\f\x1f\x7f", "\u2028\u2029", "bad \xff\xfe utf-8", "日本語 🙂"}

// writeTextEvent returns what sseWriter.textEvent writes for head, text and tail.
func writeTextEvent(t *testing.T, head []byte, text string, tail []byte) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	sse := (&Server{}).newSSEWriter(rec, httptest.NewRequest(http.MethodPost, "/api/chat", nil))
	rec.Body.Reset()
	if err := sse.textEvent(head, text, tail); err != nil {
		t.Fatal(err)
	}
	return rec.Body.Bytes()
}

// discardWriter is a flushable http.ResponseWriter that keeps nothing.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
func (discardWriter) Flush()                      {}
