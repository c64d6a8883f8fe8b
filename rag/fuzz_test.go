package rag

import (
	"context"
	"errors"
	"testing"
	"time"

	"genai"
)

// FuzzParse feeds arbitrary bytes, under each supported name, to the parsers and the
// chunker: no input may panic or hang them, every rejection is a client error that
// names the file, and every accepted document chunks into valid UTF-8 text.
func FuzzParse(f *testing.F) {
	f.Add("a.md", []byte("# Title\n\nSome *text*.\n\n## Part\n\n- item\n\n```go\ncode\n```\n"))
	f.Add("a.html", []byte("<html><head><title>T</title><script>x()</script></head><body><h1>H</h1><p>Hello <b>world</b></p></body></html>"))
	f.Add("a.txt", []byte("Plain text. Two sentences.\n\nA paragraph."))
	f.Add("a.pdf", []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"))
	f.Add("a.md", []byte(">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>> deep"))
	f.Add("a.html", []byte("<div><div><div><div><p>unclosed"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		for _, n := range []string{name, "f.md", "f.html", "f.txt", "f.pdf"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			p, err := Parse(ctx, n, data, ParseLimits{MaxTextBytes: 1 << 20, MaxStreamBytes: 1 << 20, MaxInflatedBytes: 4 << 20})
			cancel()
			if err != nil {
				var e *genai.Error
				if !errors.As(err, &e) || e.Code == genai.EINTERNAL || e.Message == "" {
					t.Fatalf("%s: rejection is not a client error: %#v", n, err)
				}
				continue
			}
			for _, c := range (Chunker{Tokens: 50, Overlap: 10}).Split(p.Sections) {
				if c.Text == "" {
					t.Fatalf("%s: empty chunk %+v", n, c)
				}
			}
		}
	})
}
