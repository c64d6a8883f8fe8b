package mcp

import (
	"strings"
	"testing"

	"genai/rag"
)

// A document read as a resource is its text as ingested, not its chunks end to end:
// the sentences consecutive chunks share appear once.
func TestDocumentTextJoinsOverlappingChunks(t *testing.T) {
	var paras []string
	for p := range 6 {
		var sentences []string
		for s := range 9 {
			sentences = append(sentences, strings.Repeat("word ", 3+s%4)+"sentence "+string(rune('a'+p))+string(rune('a'+s))+".")
		}
		paras = append(paras, strings.Join(sentences, " "))
	}
	body := strings.Join(paras, "\n\n")
	sections := []rag.Section{{Text: "Intro line."}, {Headings: []string{"Guide", "Setup"}, Text: body}}
	chunks := rag.Chunker{Tokens: 60, Overlap: 20}.Split(sections)
	if len(chunks) < 5 {
		t.Fatalf("want a body split into several overlapping chunks, got %d", len(chunks))
	}
	got := DocumentText(chunks)
	want := "Intro line.\n\nGuide\n\nSetup\n\n" + body
	if got != want {
		t.Errorf("DocumentText:\n%q\nwant\n%q", got, want)
	}
}
