package rag

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"genai"
)

// Default chunk sizes, in estimated tokens (see EstimateTokens).
const (
	DefaultChunkTokens   = 300
	DefaultOverlapTokens = 50
)

// EstimateTokens estimates how many tokens a subword tokenizer (BPE, WordPiece) makes of
// s, without one: each run of letters and digits counts one token per 6 characters
// begun, each CJK character and each other visible character (punctuation, symbols)
// one; white space counts nothing. On English prose this is within about 10% of the
// GPT and Titan tokenizers — near the usual words × 1.3 — and it needs no vocabulary.
func EstimateTokens(s string) int {
	n, run := 0, 0
	for _, r := range s {
		switch {
		case chunkIsCJK(r):
			n += (run + 5) / 6
			run = 0
			n++
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			run++
		default:
			n += (run + 5) / 6
			run = 0
			if !unicode.IsSpace(r) {
				n++
			}
		}
	}
	return n + (run+5)/6
}

func chunkIsCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// Chunker splits sections into chunks of about Tokens tokens, consecutive chunks of a
// section sharing up to Overlap tokens. Zero fields take DefaultChunkTokens and
// DefaultOverlapTokens; a negative Overlap means none; Overlap is at most Tokens/2.
//
// It respects structure: a chunk never spans two sections (so it has one heading path);
// within a section it packs whole paragraphs, splitting a paragraph only when it alone is
// over Tokens, then at sentence ends (and line ends), then, for a sentence over Tokens,
// between words. The overlap is the previous chunk's last sentences (or words) that fit
// in Overlap. The same input always gives the same chunks.
type Chunker struct {
	Tokens  int
	Overlap int
}

func (c Chunker) sizes() (target, overlap int) {
	target, overlap = c.Tokens, c.Overlap
	if target <= 0 {
		target = DefaultChunkTokens
	}
	switch {
	case overlap < 0:
		overlap = 0
	case overlap == 0:
		overlap = DefaultOverlapTokens
	}
	if overlap > target/2 {
		overlap = target / 2
	}
	return target, overlap
}

// chunkPiece is a unit of packing: a paragraph, a sentence or a run of words.
type chunkPiece struct {
	text   string
	sep    string // what goes before it in a chunk: "\n\n", "\n" or " "
	tokens int
}

// Split returns the chunks of sections in order, with Index (from 0), Headings and Text
// set; the caller sets ID and DocumentID. Sections without text make no chunks.
func (c Chunker) Split(sections []Section) []genai.Chunk {
	target, overlap := c.sizes()
	var chunks []genai.Chunk
	for _, s := range sections {
		var cur, prev []chunkPiece
		curTokens, fresh := 0, 0 // fresh: pieces not yet in an emitted chunk
		emit := func() {
			var sb strings.Builder
			for i, p := range cur {
				if i > 0 {
					sb.WriteString(p.sep)
				}
				sb.WriteString(p.text)
			}
			chunks = append(chunks, genai.Chunk{Index: len(chunks), Headings: s.Headings, Page: s.Page, Text: sb.String()})
			prev, cur, curTokens, fresh = cur, nil, 0, 0
		}
		for _, p := range chunkPieces(s.Text, target) {
			if curTokens+p.tokens > target && fresh > 0 {
				emit()
			}
			if fresh == 0 {
				// A new chunk starts with the end of the previous one, as much as fits.
				cur = chunkTail(prev, min(overlap, target-p.tokens))
				for _, q := range cur {
					curTokens += q.tokens
				}
			}
			cur = append(cur, p)
			curTokens += p.tokens
			fresh++
		}
		if fresh > 0 {
			emit()
		}
	}
	return chunks
}

// chunkTail returns the last pieces of a chunk that fit in overlap tokens, as the start
// of the next; when even the last piece is too long, its last words.
func chunkTail(pieces []chunkPiece, overlap int) []chunkPiece {
	if overlap <= 0 || len(pieces) == 0 {
		return nil
	}
	tokens, i := 0, len(pieces)
	for i > 0 && tokens+pieces[i-1].tokens <= overlap {
		i--
		tokens += pieces[i].tokens
	}
	if i < len(pieces) {
		return append([]chunkPiece(nil), pieces[i:]...)
	}
	words := strings.Fields(pieces[len(pieces)-1].text)
	tokens, j := 0, len(words)
	for j > 0 && tokens+EstimateTokens(words[j-1]) <= overlap {
		j--
		tokens += EstimateTokens(words[j])
	}
	if j == len(words) {
		return nil
	}
	return []chunkPiece{{text: strings.Join(words[j:], " "), sep: " ", tokens: tokens}}
}

// chunkPieces cuts text into pieces of at most target tokens: paragraphs, or the
// sentences and lines of a long paragraph, or the word runs of a long sentence.
func chunkPieces(text string, target int) []chunkPiece {
	var out []chunkPiece
	for _, para := range chunkParagraphs(text) {
		if t := EstimateTokens(para); t <= target {
			out = append(out, chunkPiece{text: para, sep: "\n\n", tokens: t})
			continue
		}
		first := true
		for _, sent := range chunkSentences(para) {
			sep := " "
			if sent.lineStart {
				sep = "\n"
			}
			if first {
				sep, first = "\n\n", false
			}
			if t := EstimateTokens(sent.text); t <= target {
				out = append(out, chunkPiece{text: sent.text, sep: sep, tokens: t})
				continue
			}
			for _, w := range chunkWords(sent.text, target) {
				out = append(out, chunkPiece{text: w, sep: sep, tokens: EstimateTokens(w)})
				sep = " "
			}
		}
	}
	return out
}

// chunkParagraphs splits text at blank lines, trimming each paragraph.
func chunkParagraphs(text string) []string {
	var out []string
	var para []string
	flush := func() {
		if p := strings.TrimSpace(strings.Join(para, "\n")); p != "" {
			out = append(out, p)
		}
		para = para[:0]
	}
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		para = append(para, strings.TrimRight(line, "\r\n"))
	}
	flush()
	return out
}

type chunkSentence struct {
	text      string
	lineStart bool // it starts a line of the paragraph
}

// chunkSentences splits a paragraph after sentence-ending punctuation followed by
// white space (or after CJK full stops) and at line ends. Abbreviations split too;
// that only makes pieces smaller, which packing undoes.
func chunkSentences(para string) []chunkSentence {
	var out []chunkSentence
	for _, line := range strings.Split(para, "\n") {
		lineStart := true
		start := 0
		for i, r := range line {
			end := -1
			switch r {
			case '.', '!', '?', ';':
				j := i + 1
				for j < len(line) && strings.IndexByte(`"')]”’`, line[j]) >= 0 {
					j++
				}
				if j < len(line) && (line[j] == ' ' || line[j] == '\t') {
					end = j
				}
			case '。', '！', '？':
				end = i + utf8.RuneLen(r)
			}
			if end > start {
				if s := strings.TrimSpace(line[start:end]); s != "" {
					out = append(out, chunkSentence{s, lineStart})
					lineStart = false
				}
				start = end
			}
		}
		if s := strings.TrimSpace(line[start:]); s != "" {
			out = append(out, chunkSentence{s, lineStart})
		}
	}
	return out
}

// chunkWords cuts a long sentence into runs of words of at most target tokens; a
// single word over target (a long URL, base64) is cut between characters.
func chunkWords(sentence string, target int) []string {
	var out []string
	var run []string
	tokens := 0
	for _, w := range strings.Fields(sentence) {
		t := EstimateTokens(w)
		if t > target {
			if len(run) > 0 {
				out = append(out, strings.Join(run, " "))
				run, tokens = run[:0], 0
			}
			for w != "" {
				cut := chunkPrefix(w, target)
				out = append(out, w[:cut])
				w = w[cut:]
			}
			continue
		}
		if tokens+t > target && len(run) > 0 {
			out = append(out, strings.Join(run, " "))
			run, tokens = run[:0], 0
		}
		run = append(run, w)
		tokens += t
	}
	if len(run) > 0 {
		out = append(out, strings.Join(run, " "))
	}
	return out
}

// chunkPrefix returns the length of the longest prefix of w (at least one rune) that
// EstimateTokens counts as at most target tokens, counting as EstimateTokens does.
func chunkPrefix(w string, target int) int {
	n, run := 0, 0
	for i, r := range w {
		switch {
		case chunkIsCJK(r):
			n += (run+5)/6 + 1
			run = 0
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			run++
		default:
			n += (run + 5) / 6
			run = 0
			if !unicode.IsSpace(r) {
				n++
			}
		}
		if n+(run+5)/6 > target && i > 0 {
			return i
		}
	}
	return len(w)
}
