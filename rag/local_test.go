package rag

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"genai"
)

func TestSplitAnswerSentences(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"One sentence. Another one! A third? Yes.", []string{"One sentence.", "Another one!", "A third?", "Yes."}},
		{"Use e.g. a map. Dr. Smith agreed. J. R. R. Tolkien wrote it.", []string{"Use e.g. a map.", "Dr. Smith agreed.", "J. R. R. Tolkien wrote it."}},
		{"A line wrapped\nin a PDF text layer. Next.", []string{"A line wrapped in a PDF text layer.", "Next."}},
		{"# Heading\n\nBody text here.\n- item one\n- item two", []string{"Body text here.", "item one", "item two"}},
		{"Version 1.2 is out. It said \"Stop.\" Then left.", []string{"Version 1.2 is out.", "It said \"Stop.\"", "Then left."}},
		{"lower case after stop. stays joined", []string{"lower case after stop. stays joined"}},
		{"", nil},
	} {
		if got := splitAnswerSentences(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("split(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	long := strings.Repeat("word ", 200) + "end."
	got := splitAnswerSentences(long)
	if len(got) != 1 || len([]rune(got[0])) > extractiveMaxRunes+1 || !strings.HasSuffix(got[0], "…") {
		t.Errorf("a long sentence is not clipped: %d runes", len([]rune(got[0])))
	}
}

func TestTermsRewrite(t *testing.T) {
	history := []genai.Message{
		genai.TextMessage(genai.RoleUser, "What is metformin used for?"),
		genai.TextMessage(genai.RoleAssistant, "Diabetes [1]."),
	}
	if got := termsRewrite(history, "What are its side effects?"); got != "metformin used What are its side effects?" {
		t.Errorf("rewrite = %q", got)
	}
	if got := termsRewrite(history, "Is metformin used for weight loss?"); got != "Is metformin used for weight loss?" {
		t.Errorf("a follow-up with all the terms already = %q", got)
	}
}

func TestSourcesPrompt(t *testing.T) {
	hits := []genai.ChunkHit{
		{Chunk: genai.Chunk{ID: "c1", Text: "  Alpha text.  ", Headings: []string{"Intro", "Part"}}, Title: "Doc A"},
		{Chunk: genai.Chunk{ID: "c2", Text: strings.Repeat("x", maxSourceBytes+10)}, URI: "b.txt"},
	}
	m := sourcesPrompt("Why?", hits, false)
	p := m.Content[0].Text
	if !strings.HasPrefix(p, "Sources:\n\n[1] Doc A › Intro › Part — Alpha text.\n\n[2] b.txt — xxx") || m.Content[1].Text != "Question: Why?" || m.Content[0].Cache != nil {
		t.Errorf("prompt:\n%.300s", p)
	}
	if len(p) > 2*maxSourceBytes {
		t.Errorf("a huge source was not clipped: %d bytes", len(p))
	}
	// With CacheContext, the sources end a cacheable prefix; the question is after it.
	if m := sourcesPrompt("Why?", hits, true); m.Content[0].Cache == nil || m.Content[1].Cache != nil {
		t.Errorf("cache point: %+v", m.Content)
	}
}

// FuzzExtractiveAnswer feeds document text of any shape through the sentence splitter
// and the extractive answer: no panic, no empty sentence, no broken UTF-8, and every
// citation mark names a citation.
func FuzzExtractiveAnswer(f *testing.F) {
	f.Add("Use e.g. a map. Dr. Smith agreed.\n\n# H\n- item\n1) x", "map smith")
	f.Add("A.B.C. ...!!! ?? \"Q.\" (R.) 'S.'", "a b")
	f.Add("é. É. 1. 2.", "é")
	f.Fuzz(func(t *testing.T, text, query string) {
		for _, s := range splitAnswerSentences(text) {
			if strings.TrimSpace(s) == "" {
				t.Fatalf("empty sentence from %q", text)
			}
			if utf8.ValidString(text) && !utf8.ValidString(s) {
				t.Fatalf("sentence %q of valid text is not valid UTF-8", s)
			}
		}
		hits := []genai.ChunkHit{{Chunk: genai.Chunk{ID: "c", Text: text}}, {Chunk: genai.Chunk{ID: "d", Text: query + ". " + text}}}
		answer, cited := extractiveAnswer(query, hits)
		if (answer == "") != (cited == nil) {
			t.Fatalf("answer %q with citations %v", answer, cited)
		}
		for i, c := range cited {
			if c.N != i+1 || !strings.Contains(answer, fmt.Sprintf("[%d]", c.N)) {
				t.Fatalf("citation %+v not used in %q", c, answer)
			}
		}
	})
}
