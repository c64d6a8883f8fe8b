package rag

import (
	"context"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
)

// measurePeak runs f and returns how far the heap in use rose over what it was before
// (sampled every millisecond, after a GC), and how long f took.
func measurePeak(f func()) (peak uint64, elapsed time.Duration) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var mu sync.Mutex
	highest := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			highest = max(highest, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	start := time.Now()
	f()
	elapsed = time.Since(start)
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&ms)
	highest = max(highest, ms.HeapInuse)
	if highest < base {
		return 0, elapsed
	}
	return highest - base, elapsed
}

// checkFileError fails t unless err is a *genai.Error of code whose message starts
// with the file's name and contains want.
func checkFileError(t *testing.T, err error, file, code, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s error saying %q", code, want)
	}
	if genai.ErrorCode(err) != code || !strings.HasPrefix(genai.ErrorMessage(err), file+": ") || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want a %s error starting %q and saying %q", err, code, file+": ", want)
	}
}

func TestParseMarkdown(t *testing.T) {
	src := `---
title: "Front matter title"
tags: [a]
---
Intro before any heading.

# Guide

Welcome to **the guide**, see [the site](https://example.com).

## Install

Run it:

` + "```sh\n# not a heading\ngo install ./cmd/genai\n```" + `

- first item
- second item

Setext heading
--------------

> quoted text

| a | b |
|---|---|
| 1 | 2 |

### Deep

Deep text.

## Use

Use text.
`
	p, err := Parse(context.Background(), "guide.md", []byte(src), ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Front matter title" || p.Format != FormatMarkdown {
		t.Errorf("title %q format %q", p.Title, p.Format)
	}
	want := []Section{
		{Headings: nil, Text: "Intro before any heading."},
		{Headings: []string{"Guide"}, Text: "Welcome to the guide, see the site."},
		{Headings: []string{"Guide", "Install"}, Text: "Run it:\n\n# not a heading\ngo install ./cmd/genai\n\nfirst item\n\nsecond item"},
		{Headings: []string{"Guide", "Setext heading"}, Text: "quoted text\n\na | b\n1 | 2"},
		{Headings: []string{"Guide", "Setext heading", "Deep"}, Text: "Deep text."},
		{Headings: []string{"Guide", "Use"}, Text: "Use text."},
	}
	if !reflect.DeepEqual(p.Sections, want) {
		t.Errorf("sections:\n got %+v\nwant %+v", p.Sections, want)
	}

	// Without front matter, the first # heading is the title.
	p, err = Parse(context.Background(), "x.markdown", []byte("# Only Title\n\ntext"), ParseLimits{})
	if err != nil || p.Title != "Only Title" {
		t.Errorf("title %q, %v", p.Title, err)
	}
}

func TestParseMarkdownDeepNesting(t *testing.T) {
	src := strings.Repeat(">", 100_000) + " deep\n\n" + strings.Repeat("- ", 5_000) + "item\n"
	var p *Parsed
	var err error
	peak, elapsed := measurePeak(func() { p, err = Parse(context.Background(), "deep.md", []byte(src), ParseLimits{}) })
	t.Logf("100,000 nested quotes: peak heap in use %.1f MiB, %v", float64(peak)/(1<<20), elapsed.Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sections) != 1 || !strings.Contains(p.Sections[0].Text, "deep") || !strings.Contains(p.Sections[0].Text, "item") {
		t.Errorf("sections %+v", p.Sections)
	}
}

func TestParseHTML(t *testing.T) {
	src := `<!doctype html><html><head><title>The  Page</title>
<style>body { color: red }</style><script>var secret = "do not index";</script></head>
<body><nav>Home</nav>
<h1>Main <em>title</em></h1><p>First   paragraph
 with <b>bold</b> text.</p>
<noscript>enable JavaScript</noscript><template><p>hidden template</p></template>
<h2>Part A</h2><p>A text.</p><div>Block one<br>line two</div>
<h3>Sub</h3><ul><li>one</li><li>two</li></ul>
<h2>Part B</h2><pre>  code
   kept</pre><table><tr><td>c1</td><td>c2</td></tr></table>
<svg><text>svg text</text></svg>
</body></html>`
	p, err := Parse(context.Background(), "page.html", []byte(src), ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "The Page" || p.Format != FormatHTML {
		t.Errorf("title %q format %q", p.Title, p.Format)
	}
	want := []Section{
		{Headings: nil, Text: "Home"},
		{Headings: []string{"Main title"}, Text: "First paragraph with bold text."},
		{Headings: []string{"Main title", "Part A"}, Text: "A text.\n\nBlock one\nline two"},
		{Headings: []string{"Main title", "Part A", "Sub"}, Text: "one\n\ntwo"},
		{Headings: []string{"Main title", "Part B"}, Text: "code\n   kept\n\nc1 c2"},
	}
	if !reflect.DeepEqual(p.Sections, want) {
		t.Errorf("sections:\n got %+v\nwant %+v", p.Sections, want)
	}
}

func TestParseHTMLDeeplyNested(t *testing.T) {
	const depth = 100_000
	var sb strings.Builder
	sb.WriteString("<html><body>")
	for range depth {
		sb.WriteString("<div><span>")
	}
	sb.WriteString("<h2>Bottom</h2>deep text")
	for range depth {
		sb.WriteString("</span></div>")
	}
	sb.WriteString("</body></html>")
	src := []byte(sb.String())
	var p *Parsed
	var err error
	peak, elapsed := measurePeak(func() { p, err = Parse(context.Background(), "deep.html", src, ParseLimits{}) })
	t.Logf("%d nested elements (%.1f MB): peak heap in use %.1f MiB, %v", 2*depth, float64(len(src))/1e6, float64(peak)/(1<<20), elapsed.Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Section{{Headings: []string{"Bottom"}, Text: "deep text"}}; !reflect.DeepEqual(p.Sections, want) {
		t.Errorf("sections %+v, want %+v", p.Sections, want)
	}
	if peak > 32<<20 {
		t.Errorf("peak heap in use grew by %d MiB, want under 32 MiB", peak>>20)
	}
}

func TestParseRefusesBinaryAndUnknown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	controls := []byte(strings.Repeat("text\x01\x02\x03\x1b", 100))
	latin1 := []byte("caf\xe9 cr\xe8me")
	tests := []struct {
		file string
		data []byte
		code string
		want string
	}{
		{"junk.txt", junk, genai.EINVALID, "not a text file"},
		{"nul.txt", []byte("hello\x00world"), genai.EINVALID, "NUL"},
		{"controls.txt", controls, genai.EINVALID, "control characters"},
		{"latin1.txt", latin1, genai.EINVALID, "UTF-8"},
		{"junk.md", junk, genai.EINVALID, "not a Markdown file"},
		{"junk.html", junk, genai.EINVALID, "NUL"},
		{"image.gif", junk, genai.EMEDIATYPE, ".pdf"},
		{"image.png", junk, genai.EINVALID, "not a PNG or JPEG image"},
		{"noext", junk, genai.EMEDIATYPE, "supported are"},
		{"big.txt", []byte(strings.Repeat("a", 2000)), genai.ETOOLARGE, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			limits := ParseLimits{}
			if tt.file == "big.txt" {
				limits.MaxTextBytes = 1000
			}
			_, err := Parse(context.Background(), tt.file, tt.data, limits)
			checkFileError(t, err, tt.file, tt.code, tt.want)
		})
	}
}

func TestParseTextAndSniffing(t *testing.T) {
	for _, tt := range []struct{ file, data, format string }{
		{"notes.txt", "\ufeffline one\r\nline two\r\n\r\nnext paragraph", FormatText},
		{"README", "plain words here", FormatText},
		{"page", "<!DOCTYPE html><title>x</title><p>hi</p>", FormatHTML},
		{"C:\\docs\\Guide.MD", "# Up\n\ntext", FormatMarkdown},
	} {
		p, err := Parse(context.Background(), tt.file, []byte(tt.data), ParseLimits{})
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if p.Format != tt.format {
			t.Errorf("%s: format %q, want %q", tt.file, p.Format, tt.format)
		}
	}
	p, _ := Parse(context.Background(), "notes.txt", []byte("\ufeffline one\r\nline two\r\n\r\nnext"), ParseLimits{})
	if want := []Section{{Text: "line one\nline two\n\nnext"}}; !reflect.DeepEqual(p.Sections, want) {
		t.Errorf("sections %+v, want %+v", p.Sections, want)
	}
	p, err := Parse(context.Background(), "empty.txt", []byte(" \n\n "), ParseLimits{})
	if err != nil || len(p.Sections) != 0 {
		t.Errorf("empty: %v, %+v", err, p.Sections)
	}
}
