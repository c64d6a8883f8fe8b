package rag

import (
	"context"
	"os"
	"regexp"
	"slices"
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

// TestParsePDFSizeHeadings reads PDFs without an outline, made by LibreOffice and
// Chromium from the same page with three levels of headings: the lines set larger
// than the text become the sections' heading paths, a level per size, each heading
// starting its section; the text itself is as before (the heading lines stay in it).
func TestParsePDFSizeHeadings(t *testing.T) {
	want := []struct {
		headings []string
		starts   string
	}{
		{[]string{"Harbour maintenance handbook"}, "Harbour maintenance handbook\nThis handbook describes"},
		{[]string{"Harbour maintenance handbook", "Inspections"}, "Inspections\nEvery quay"},
		{[]string{"Harbour maintenance handbook", "Inspections", "Underwater surveys"}, "Underwater surveys\nDivers"},
		{[]string{"Harbour maintenance handbook", "Inspections", "Crane certificates"}, "Crane certificates\nEach crane"},
		{[]string{"Harbour maintenance handbook", "Repairs"}, "Repairs\nRepairs are"},
		{[]string{"Harbour maintenance handbook", "Repairs", "Concrete and steel"}, "Concrete and steel\nConcrete is"},
	}
	for _, file := range []string{"headings-libreoffice.pdf", "headings-chrome.pdf"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile("testdata/pdf/" + file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(context.Background(), file, data, ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Sections) != len(want) {
				t.Fatalf("%d sections, want %d: %+v", len(p.Sections), len(want), p.Sections)
			}
			for i, s := range p.Sections {
				if !slices.Equal(s.Headings, want[i].headings) || !strings.HasPrefix(s.Text, want[i].starts) || s.Page != 1 {
					t.Errorf("section %d: page %d, headings %q, text %.60q; want page 1, %q, starting %q", i, s.Page, s.Headings, s.Text, want[i].headings, want[i].starts)
				}
			}
		})
	}
	// groff's -ms sets its section headings bold at the text's size, and only the
	// title larger: that is the only heading.
	data, err := os.ReadFile("testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(context.Background(), "groff.pdf", data, ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sections) != 1 || !slices.Equal(p.Sections[0].Headings, []string{"Field notes on efficient office workflows"}) {
		t.Errorf("sections %+v, want one under the title", p.Sections)
	}
}
