package rag

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// textWords counts the words of 4 letters or more in text, lower-cased: the measure by
// which extracted text is compared with a reference tool's (Poppler's pdftotext,
// LibreOffice's text export). A word glued to its neighbour or split in two does not
// match.
func textWords(text string) map[string]int {
	words := map[string]int{}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len([]rune(w)) >= 4 {
			words[strings.ToLower(w)]++
		}
	}
	return words
}

// textWordMatch returns how many words (with multiplicity) ours and ref share, and
// their totals.
func textWordMatch(ours, ref map[string]int) (match, nOurs, nRef int) {
	for w, n := range ref {
		nRef += n
		match += min(n, ours[w])
	}
	for _, n := range ours {
		nOurs += n
	}
	return match, nOurs, nRef
}

// parsedText is the text of p's sections, what chunks are cut from (before their
// overlap), for comparing with a reference.
func parsedText(p *Parsed) string {
	var text strings.Builder
	for _, s := range p.Sections {
		text.WriteString(s.Text)
		text.WriteString("\n")
	}
	return text.String()
}

// parsedTextHeadings is parsedText with each heading where its section starts: an
// Office file's headings are kept in the heading paths, not in the text (a PDF's
// heading lines stay in its pages' text, so parsedText is its measure).
func parsedTextHeadings(p *Parsed) string {
	var text strings.Builder
	var prev []string
	for _, s := range p.Sections {
		same := 0
		for same < min(len(prev), len(s.Headings)) && prev[same] == s.Headings[same] {
			same++
		}
		for _, h := range s.Headings[same:] {
			text.WriteString(h + "\n")
		}
		prev = s.Headings
		text.WriteString(s.Text)
		text.WriteString("\n")
	}
	return text.String()
}

// wordScore adds up the word match of the files of a benchmark run.
type wordScore struct{ match, ours, ref int }

// add scores one file's text against the reference's, prints its line (label, then
// words, recall and precision) and returns its recall and precision.
func (s *wordScore) add(label, ours, ref string) (recall, precision float64) {
	m, o, r := textWordMatch(textWords(ours), textWords(ref))
	s.match, s.ours, s.ref = s.match+m, s.ours+o, s.ref+r
	recall, precision = ratio(m, r), ratio(m, o)
	fmt.Printf("%s  words %6d  recall %.3f  precision %.3f\n", label, r, recall, precision)
	return recall, precision
}

// total returns the recall and precision over all files added.
func (s *wordScore) total() (recall, precision float64) {
	return ratio(s.match, s.ref), ratio(s.match, s.ours)
}

func ratio(n, of int) float64 { return float64(n) / float64(max(of, 1)) }

func TestTextWords(t *testing.T) {
	got := textWords("The ﬁeld-work of Zoë, the fieldwork; FIELD field. a1b2 word's")
	// "Zoë" is short; "ﬁeld" keeps its ligature (CleanText spells them out before).
	want := map[string]int{"field": 2, "ﬁeld": 1, "work": 1, "fieldwork": 1, "word": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("textWords = %v, want %v", got, want)
	}
	m, o, r := textWordMatch(map[string]int{"field": 3, "work": 1}, map[string]int{"field": 2, "other": 2})
	if m != 2 || o != 4 || r != 4 {
		t.Errorf("textWordMatch = %d, %d, %d; want 2, 4, 4", m, o, r)
	}
}
