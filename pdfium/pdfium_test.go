package pdfium

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildPDF writes a PDF by hand: pages with the given (uncompressed) content
// streams in Helvetica, and an optional outline of one entry per page.
func buildPDF(contents []string, outline []string) []byte {
	var buf bytes.Buffer
	var offsets []int
	obj := func(body string) int {
		offsets = append(offsets, buf.Len())
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
		return len(offsets)
	}
	buf.WriteString("%PDF-1.7\n")
	font := obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	n := len(contents)
	first := len(offsets) + 1 // streams first..first+n-1, pages after, then the tree
	for _, c := range contents {
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(c), c))
	}
	pagesN := first + 2*n
	var kids []string
	for i := range n {
		kids = append(kids, fmt.Sprintf("%d 0 R", obj(fmt.Sprintf(
			"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>",
			pagesN, font, first+i))))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	catalog := "<< /Type /Catalog /Pages " + fmt.Sprint(pagesN) + " 0 R"
	if len(outline) > 0 {
		root := len(offsets) + 1
		obj(fmt.Sprintf("<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>", root+1, root+len(outline), len(outline)))
		for i, title := range outline {
			links := fmt.Sprintf("/Parent %d 0 R", root)
			if i > 0 {
				links += fmt.Sprintf(" /Prev %d 0 R", root+i)
			}
			if i < len(outline)-1 {
				links += fmt.Sprintf(" /Next %d 0 R", root+i+2)
			}
			obj(fmt.Sprintf("<< /Title (%s) %s /Dest [%d 0 R /XYZ 0 792 0] >>", title, links, first+n+i))
		}
		catalog += fmt.Sprintf(" /Outlines %d 0 R", root)
	}
	info := obj("<< /Title (Built by hand) >>")
	cat := obj(catalog + " >>")
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, cat, info, xref)
	return buf.Bytes()
}

func textContent(lines ...string) string {
	var sb strings.Builder
	sb.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&sb, "(%s) Tj T*\n", l)
	}
	sb.WriteString("ET")
	return sb.String()
}

func newEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	cfg.CacheDir = "" // the shared cache: compiling takes seconds
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestTextPagesOutlineTitle(t *testing.T) {
	e := newEngine(t, Config{})
	data := buildPDF([]string{
		textContent("Introduction", "Words set apart by the positions of their glyphs."),
		// Word gaps made by TJ offsets, not space characters, and a word broken
		// by a hyphen at the line end.
		"BT /F1 12 Tf 72 720 Td 14 TL [(Kerned)-400(words)-400(stay)-400(apart.)] TJ T* (A hyphen-) Tj T* (ated word.) Tj ET",
		textContent("Off the page: ") + "\nBT /F1 12 Tf 700 720 Td (invisible) Tj ET",
	}, []string{"Introduction", "Second part", "Third part"})
	doc, err := e.Text(context.Background(), data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Built by hand" || len(doc.Pages) != 3 {
		t.Fatalf("title %q, %d pages; want Built by hand, 3", doc.Title, len(doc.Pages))
	}
	want := []string{
		"Introduction\nWords set apart by the positions of their glyphs.",
		"Kerned words stay apart.\nA hyphenated word.",
		"Off the page:",
	}
	for i, p := range doc.Pages {
		if got := strings.TrimSpace(p.Text); got != want[i] || p.Number != i+1 {
			t.Errorf("page %d (number %d): %q, want %q", i+1, p.Number, got, want[i])
		}
	}
	wantOutline := []OutlineItem{{1, "Introduction", 1}, {1, "Second part", 2}, {1, "Third part", 3}}
	if fmt.Sprint(doc.Outline) != fmt.Sprint(wantOutline) {
		t.Errorf("outline %v, want %v", doc.Outline, wantOutline)
	}
}

func TestTextLimits(t *testing.T) {
	e := newEngine(t, Config{})
	data := buildPDF([]string{textContent("one"), textContent("two"), textContent("three")}, nil)
	if _, err := e.Text(context.Background(), data, Limits{MaxPages: 2}); !errors.Is(err, ErrTooManyPages) {
		t.Errorf("3 pages, limit 2: err = %v, want ErrTooManyPages", err)
	}
	if _, err := e.Text(context.Background(), data, Limits{MaxTextBytes: 5}); !errors.Is(err, ErrTooMuchText) {
		t.Errorf("text limit 5: err = %v, want ErrTooMuchText", err)
	}
	if _, err := e.Text(context.Background(), []byte("%PDF-1.4\nnot really"), Limits{}); !errors.Is(err, ErrUnreadable) {
		t.Errorf("junk: err = %v, want ErrUnreadable", err)
	}
}

// TestTextMemoryCap gives PDFium a page whose content stream is larger than the
// memory cap: it cannot hold it, the file is refused, and the engine goes on. (With
// the default cap the same file is read.)
func TestTextMemoryCap(t *testing.T) {
	e := newEngine(t, Config{MaxMemoryBytes: 64 << 20})
	big := buildPDF([]string{textContent(strings.Repeat("x", 96<<20))}, nil)
	_, err := e.Text(context.Background(), big, Limits{})
	if !errors.Is(err, ErrMemory) && !(errors.Is(err, ErrUnreadable) && strings.Contains(err.Error(), "needs over 64 MiB of memory")) {
		t.Fatalf("err = %v, want ErrMemory or ErrUnreadable naming the 64 MiB cap", err)
	}
	t.Log(err)
	doc, err := e.Text(context.Background(), buildPDF([]string{textContent("after")}, nil), Limits{})
	if err != nil || strings.TrimSpace(doc.Pages[0].Text) != "after" {
		t.Fatalf("the next document: %v, %+v", err, doc)
	}
}

// TestTextCancel ends the context while PDFium lays out one heavy page (seconds of
// work): the call returns the context's error instead of the text, so the instance
// was stopped mid-page, and the engine still works.
func TestTextCancel(t *testing.T) {
	e := newEngine(t, Config{})
	var lines []string
	for range 4000 {
		lines = append(lines, strings.Repeat("many glyphs on one line ", 40))
	}
	heavy := buildPDF([]string{textContent(lines...)}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := e.Text(ctx, heavy, Limits{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	doc, err := e.Text(context.Background(), buildPDF([]string{textContent("after")}, nil), Limits{})
	if err != nil || strings.TrimSpace(doc.Pages[0].Text) != "after" {
		t.Fatalf("the next document: %v, %+v", err, doc)
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"line one\r\nline two":    "line one\nline two",
		"De\x02\r\nscription":     "Description",
		"hyphen-\r\nated":         "hyphenated",
		"well-known":              "well-known",
		"range 1-\r\n2":           "range 1-\n2",
		"e\uFB03cient \uFB01nd":   "efficient find",
		"tab\tand\x01control\x00": "tab\tand control ",
		"bad \xff byte":           "bad \uFFFD byte",
	} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTextParallelPages reads a long document with two CPUs: a second instance
// opens it and the two share its pages, which come back in order with their own
// text; a limit or a deadline reached in either stops both and frees their slots,
// so the next long document gets two instances again.
func TestTextParallelPages(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	e := newEngine(t, Config{MaxInstances: 2})
	var contents []string
	for i := range 5 * pagesPerInstance {
		contents = append(contents, textContent(fmt.Sprintf("Page %d of the long document.", i+1)))
	}
	long := buildPDF(contents, nil)
	read := func() {
		t.Helper()
		before := e.opened.Load()
		doc, err := e.Text(context.Background(), long, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.opened.Load() - before; n != 2 {
			t.Errorf("read by %d instances, want 2", n)
		}
		for i, p := range doc.Pages {
			if want := fmt.Sprintf("Page %d of the long document.", i+1); strings.TrimSpace(p.Text) != want || p.Number != i+1 {
				t.Errorf("page %d (number %d): %q, want %q", i+1, p.Number, p.Text, want)
			}
		}
	}
	read()
	if _, err := e.Text(context.Background(), long, Limits{MaxTextBytes: 300}); !errors.Is(err, ErrTooMuchText) {
		t.Errorf("text limit 300: err = %v, want ErrTooMuchText", err)
	}
	read()
	var lines []string
	for range 1000 {
		lines = append(lines, strings.Repeat("many glyphs on one line ", 40))
	}
	heavy := make([]string, 2*pagesPerInstance)
	for i := range heavy {
		heavy[i] = textContent(lines...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := e.Text(ctx, buildPDF(heavy, nil), Limits{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	read()
}
