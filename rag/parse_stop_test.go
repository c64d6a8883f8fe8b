package rag

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"genai"
)

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// slowInputs are files of each format that take seconds to parse whole.
func slowInputs() []struct{ name, file string } {
	var md strings.Builder
	for md.Len() < 15<<20 {
		md.WriteString("## Heading\n\nSome *emphasis* and `code` and a [link](http://x.y) in a paragraph of words.\n- item one\n- item two\n\n")
	}
	html := "<html><body>" + strings.Repeat("<div><p>A paragraph of <b>bold</b> and <i>italic</i> words.</p></div>\n", 48<<20/70) + "</body></html>"
	var pages [][]byte
	for i := range 4000 {
		var lines []string
		for j := range 60 {
			lines = append(lines, fmt.Sprintf("Page %d line %d: the quick brown fox jumps over the lazy dog.", i+1, j+1))
		}
		pages = append(pages, pdfTextContent(lines...))
	}
	var lines []string
	for i := range 400_000 {
		lines = append(lines, fmt.Sprintf("Line %d of one very long page.", i))
	}
	return []struct{ name, file string }{
		{"doc.md", md.String()},
		{"doc.html", html},
		{"pages.pdf", string(pdfWithPages(pages, "", nil))},
		{"one-page.pdf", string(pdfWithPages([][]byte{pdfTextContent(lines...)}, "", nil))},
	}
}

// TestParseStopsAtItsDeadline checks that a parse whose deadline passes stops its
// work, not only its wait: once it has returned ETIMEOUT, the process uses no more CPU
// than noise and its goroutines are back to those before it.
func TestParseStopsAtItsDeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("parses large files")
	}
	for _, f := range slowInputs() {
		t.Run(f.name, func(t *testing.T) {
			in := &Ingester{ParseTimeout: 200 * time.Millisecond, MaxTextBytes: 64 << 20}
			data := []byte(f.file)
			runtime.GC()
			goroutines := runtime.NumGoroutine()
			start := time.Now()
			_, err := in.parse(context.Background(), f.name, data)
			returned := time.Since(start)
			if genai.ErrorCode(err) != genai.ETIMEOUT {
				t.Fatalf("err = %v after %v, want a timeout", err, returned)
			}
			time.Sleep(100 * time.Millisecond)
			runtime.GC()
			before := cpuTime(t)
			time.Sleep(time.Second)
			used := cpuTime(t) - before
			t.Logf("%.1f MB: returned %v after the start; then used %v of CPU in 1 s", float64(len(data))/1e6, returned.Round(time.Millisecond), used.Round(time.Millisecond))
			if used > 100*time.Millisecond {
				t.Errorf("the process used %v of CPU in the second after the parse timed out, want the parse stopped", used)
			}
			if n := runtime.NumGoroutine(); n > goroutines {
				t.Errorf("%d goroutines after the parse, %d before", n, goroutines)
			}
		})
	}
}
