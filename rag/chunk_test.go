package rag

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestEstimateTokens(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"Hello, world.", 4},
		{"internationalization", 4},
		{"  \n\t ", 0},
		{"東京都", 3},
		{"x=1", 3},
	} {
		if got := EstimateTokens(tt.s); got != tt.want {
			t.Errorf("EstimateTokens(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
	// Near words × 1.3 on English prose.
	prose := "Retrieval-augmented generation grounds a model's answer in passages found for the question, and cites them so a reader can check."
	words := len(strings.Fields(prose))
	if got := EstimateTokens(prose); got < words || got > words*16/10 {
		t.Errorf("EstimateTokens(prose) = %d for %d words", got, words)
	}
}

// chunkTestDoc is a long document: sections of numbered sentences in paragraphs.
func chunkTestDoc() []Section {
	var sections []Section
	for s := range 3 {
		var paras []string
		for p := range 12 {
			var sents []string
			for n := range 7 {
				sents = append(sents, fmt.Sprintf("Section %d paragraph %d sentence %d talks about item%d.", s, p, n, s*100+p*10+n))
			}
			paras = append(paras, strings.Join(sents, " "))
		}
		sections = append(sections, Section{Headings: []string{"Doc", fmt.Sprintf("Part %d", s)}, Text: strings.Join(paras, "\n\n")})
	}
	return sections
}

func TestChunkerSizesAndOverlap(t *testing.T) {
	sections := chunkTestDoc()
	c := Chunker{Tokens: 120, Overlap: 30}
	chunks := c.Split(sections)
	if len(chunks) < 10 {
		t.Fatalf("%d chunks, want many", len(chunks))
	}
	for i, ch := range chunks {
		if ch.Index != i {
			t.Errorf("chunk %d has index %d", i, ch.Index)
		}
		if n := EstimateTokens(ch.Text); n > 120 {
			t.Errorf("chunk %d: %d tokens, over 120", i, n)
		}
		if n := EstimateTokens(ch.Text); n < 40 && i+1 < len(chunks) && reflect.DeepEqual(chunks[i+1].Headings, ch.Headings) {
			t.Errorf("chunk %d: only %d tokens mid-section", i, n)
		}
		if i > 0 && reflect.DeepEqual(chunks[i-1].Headings, ch.Headings) {
			// Overlap: this chunk starts with the words that ended the previous one.
			prev, cur := strings.Fields(chunks[i-1].Text), strings.Fields(ch.Text)
			k := min(len(prev), len(cur))
			for k > 0 && !reflect.DeepEqual(prev[len(prev)-k:], cur[:k]) {
				k--
			}
			overlap := EstimateTokens(strings.Join(cur[:k], " "))
			if overlap > 30 || overlap < 20 {
				t.Errorf("chunk %d overlaps chunk %d by %d tokens, want 20–30", i, i-1, overlap)
			}
		}
		if i > 0 && !reflect.DeepEqual(chunks[i-1].Headings, ch.Headings) && !strings.HasPrefix(ch.Text, "Section") {
			t.Errorf("chunk %d starts a section with %q", i, ch.Text[:20])
		}
	}
	// Every sentence is in some chunk, and each section's chunks carry its headings.
	all := ""
	for _, ch := range chunks {
		all += ch.Text + "\n"
		if len(ch.Headings) != 2 || ch.Headings[0] != "Doc" {
			t.Errorf("chunk %d headings %q", ch.Index, ch.Headings)
		}
	}
	for _, s := range sections {
		for _, sent := range chunkSentences(strings.ReplaceAll(s.Text, "\n\n", " ")) {
			if !strings.Contains(all, sent.text) {
				t.Errorf("sentence %q lost", sent.text)
			}
		}
	}
	// Paragraphs that fit are never split: a chunk boundary falls between paragraphs
	// (the overlap aside) when paragraphs are smaller than a chunk.
	for _, ch := range (Chunker{Tokens: 300, Overlap: -1}).Split(sections) {
		for _, para := range strings.Split(ch.Text, "\n\n") {
			if !strings.HasSuffix(para, ".") || !strings.HasPrefix(para, "Section") || strings.Count(para, "sentence") != 7 {
				t.Errorf("a paragraph was split: %q", para)
			}
		}
	}
}

func TestChunkerDeterministic(t *testing.T) {
	a := Chunker{}.Split(chunkTestDoc())
	b := Chunker{}.Split(chunkTestDoc())
	if !reflect.DeepEqual(a, b) || len(a) == 0 {
		t.Fatal("two splits of the same sections differ")
	}
}

func TestChunkerMonstrousSentencesAndWords(t *testing.T) {
	long := strings.Repeat("word ", 2000)                       // one sentence of 2000 words
	base64ish := strings.Repeat("QUJDREVGR0hJSktMTU5PUA", 2000) // one 44,000-char word
	chunks := Chunker{Tokens: 100, Overlap: 10}.Split([]Section{{Text: long + "\n\n" + base64ish}})
	words, chars := 0, 0
	for i, ch := range chunks {
		if n := EstimateTokens(ch.Text); n > 100 {
			t.Errorf("chunk %d: %d tokens", i, n)
		}
		words += strings.Count(ch.Text, "word")
		chars += len(strings.ReplaceAll(strings.ReplaceAll(ch.Text, "word", ""), " ", ""))
	}
	if words < 2000 || chars < len(base64ish) {
		t.Errorf("lost text: %d words, %d chars", words, chars)
	}
}

func TestChunkerEmpty(t *testing.T) {
	if got := (Chunker{}).Split([]Section{{Text: "  \n\n  "}, {Headings: []string{"H"}}}); len(got) != 0 {
		t.Errorf("got %d chunks of nothing", len(got))
	}
	got := Chunker{}.Split([]Section{{Text: "short"}})
	if len(got) != 1 || got[0].Text != "short" {
		t.Errorf("got %+v", got)
	}
}
