package rag

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestParsePDFWordsIntact reads PDFs made by Chromium, LibreOffice and groff from
// known sources and checks that every word of the source comes out whole and
// separate: none glued to its neighbour (a missing space), split (a broken ligature
// or a hyphen at a line end) or added.
func TestParsePDFWordsIntact(t *testing.T) {
	html, err := os.ReadFile("testdata/pdf/notes.html")
	if err != nil {
		t.Fatal(err)
	}
	htmlText := regexp.MustCompile(`(?s)<style>.*?</style>|<title>.*?</title>|<[^>]*>`).ReplaceAllString(string(html), " ")
	ms, err := os.ReadFile("testdata/pdf/groff.ms")
	if err != nil {
		t.Fatal(err)
	}
	msText := regexp.MustCompile(`(?m)^\.[A-Za-z]+.*$`).ReplaceAllString(string(ms), " ")

	for _, tt := range []struct {
		file, source string
		pages        int
	}{
		{"chrome-columns.pdf", htmlText, 1},
		{"libreoffice.pdf", htmlText, 1},
		{"groff.pdf", msText, 1},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/pdf/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(context.Background(), tt.file, data, ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for _, s := range p.Sections {
				text.WriteString(s.Text + "\n")
				if s.Page < 1 || s.Page > tt.pages {
					t.Errorf("section on page %d, want 1 to %d", s.Page, tt.pages)
				}
			}
			got, want := textWords(text.String()), textWords(tt.source)
			var missing, extra []string
			for w, n := range want {
				if got[w] < n {
					missing = append(missing, w)
				}
			}
			for w, n := range got {
				if want[w] < n {
					extra = append(extra, w)
				}
			}
			if len(missing) > 0 || len(extra) > 0 {
				t.Errorf("words missing %q, words not in the source %q; text:\n%s", missing, extra, text.String())
			}
		})
	}
}
