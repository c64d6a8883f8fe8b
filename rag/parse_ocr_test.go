package rag

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/go-pdf/fpdf"

	"genai/ocr"
	"genai/pdfium"
)

// TestParseScannedPage makes a scan: page 1 of testdata/pdf/groff.pdf rendered to a
// 300 dpi PNG, alone on the page of a new PDF (no text layer), and reads it, and the
// PNG itself, by OCR: at least 90% of the source's words come back.
func TestParseScannedPage(t *testing.T) {
	if !ocr.Available() {
		t.Skip("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")
	}
	src, err := os.ReadFile("testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := pdfium.Default()
	if err != nil {
		t.Fatal(err)
	}
	images, err := engine.RenderPages(context.Background(), src, []int{1}, 300)
	if err != nil {
		t.Fatal(err)
	}
	f := fpdf.New("P", "pt", "Letter", "")
	f.AddPage()
	f.RegisterImageOptionsReader("scan", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(images[0]))
	f.ImageOptions("scan", 0, 0, 612, 792, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	var scan bytes.Buffer
	if err := f.Output(&scan); err != nil {
		t.Fatal(err)
	}
	ms, _ := os.ReadFile("testdata/pdf/groff.ms")
	want := textWords(regexp.MustCompile(`(?m)^\.[A-Za-z]+.*$`).ReplaceAllString(string(ms), " "))

	for _, tt := range []struct {
		name string
		data []byte
	}{{"scan.pdf", scan.Bytes()}, {"scan.png", images[0]}} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(context.Background(), tt.name, tt.data, ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			var text string
			for _, s := range p.Sections {
				text += s.Text + "\n"
				if s.Page != 1 {
					t.Errorf("section on page %d, want 1", s.Page)
				}
			}
			match, _, total := textWordMatch(textWords(text), want)
			recall := float64(match) / float64(total)
			t.Logf("%s: word recall %.3f (%d of %d)", tt.name, recall, match, total)
			if recall < 0.9 {
				t.Errorf("word recall %.3f, want at least 0.9; text:\n%s", recall, text)
			}
		})
	}
}
