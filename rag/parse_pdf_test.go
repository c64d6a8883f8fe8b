package rag

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"genai"
)

// pdfBuilder writes PDF syntax by hand, for files no PDF library would make: bombs,
// cycles, 50 MB files made in milliseconds.
type pdfBuilder struct {
	buf     bytes.Buffer
	offsets []int
}

func newPDFBuilder() *pdfBuilder {
	b := &pdfBuilder{}
	b.buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

// obj writes object number len(offsets)+1 and returns its number.
func (b *pdfBuilder) obj(body string) int {
	b.offsets = append(b.offsets, b.buf.Len())
	n := len(b.offsets)
	fmt.Fprintf(&b.buf, "%d 0 obj\n%s\nendobj\n", n, body)
	return n
}

// stream writes a stream object with the given extra dictionary entries.
func (b *pdfBuilder) stream(dict string, data []byte) int {
	b.offsets = append(b.offsets, b.buf.Len())
	n := len(b.offsets)
	fmt.Fprintf(&b.buf, "%d 0 obj\n<< /Length %d %s >>\nstream\n", n, len(data), dict)
	b.buf.Write(data)
	b.buf.WriteString("\nendstream\nendobj\n")
	return n
}

// reserve returns the number the next obj call will get.
func (b *pdfBuilder) reserve() int { return len(b.offsets) + 1 }

func (b *pdfBuilder) finish(root int, extraTrailer string) []byte {
	xref := b.buf.Len()
	fmt.Fprintf(&b.buf, "xref\n0 %d\n0000000000 65535 f \n", len(b.offsets)+1)
	for _, off := range b.offsets {
		fmt.Fprintf(&b.buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b.buf, "trailer\n<< /Size %d /Root %d 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(b.offsets)+1, root, extraTrailer, xref)
	return b.buf.Bytes()
}

// pdfWithPages makes a PDF whose pages have the given content streams (uncompressed),
// a Helvetica font, and an optional extra object referenced from page 1's resources.
func pdfWithPages(contents [][]byte, contentDict string, xobject []byte) []byte {
	b := newPDFBuilder()
	font := b.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	xo := ""
	if xobject != nil {
		n := b.stream("/Type /XObject /Subtype /Image /Width 1000 /Height 1000 /ColorSpace /DeviceGray /BitsPerComponent 8", xobject)
		xo = fmt.Sprintf("/XObject << /Im1 %d 0 R >>", n)
	}
	var streams []int
	for _, c := range contents {
		streams = append(streams, b.stream(contentDict, c))
	}
	pagesN := b.reserve() + len(contents)
	var kids []string
	for _, s := range streams {
		kids = append(kids, fmt.Sprintf("%d 0 R", b.obj(fmt.Sprintf(
			"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> %s >> /Contents %d 0 R >>",
			pagesN, font, xo, s))))
	}
	b.obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids)))
	info := b.obj("<< /Title (A Built Document) >>")
	root := b.obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesN))
	return b.finish(root, fmt.Sprintf("/Info %d 0 R", info))
}

func pdfTextContent(lines ...string) []byte {
	var sb strings.Builder
	sb.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&sb, "(%s) Tj T*\n", l)
	}
	sb.WriteString("ET\n")
	return []byte(sb.String())
}

func TestParsePDFFromFpdf(t *testing.T) {
	f := fpdf.New("P", "mm", "A4", "")
	f.SetTitle("Quarterly report", true)
	f.SetFont("Helvetica", "", 12)
	for i := 1; i <= 3; i++ {
		f.AddPage()
		f.MultiCell(0, 6, fmt.Sprintf("Page %d says the reactor output rose. The coolant held steady.", i), "", "", false)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		t.Fatal(err)
	}
	p, err := Parse(context.Background(), "report.pdf", buf.Bytes(), ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != FormatPDF || p.Title != "Quarterly report" || len(p.Sections) != 3 {
		t.Fatalf("format %q title %q sections %d, want pdf, Quarterly report, 3", p.Format, p.Title, len(p.Sections))
	}
	if !strings.Contains(p.Sections[1].Text, "Page 2 says the reactor output rose.") {
		t.Errorf("page 2 text = %q", p.Sections[1].Text)
	}
}

func TestParsePDFHandBuilt(t *testing.T) {
	data := pdfWithPages([][]byte{pdfTextContent("Hello PDF world.", "Second line here."), pdfTextContent("Page two.")}, "", nil)
	p, err := Parse(context.Background(), "built.pdf", data, ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "A Built Document" || len(p.Sections) != 2 || !strings.Contains(p.Sections[0].Text, "Hello PDF world.") {
		t.Fatalf("got title %q, sections %+v", p.Title, p.Sections)
	}
}

// zipBomb is 1 GiB of zeros compressed with zlib (about 1 MB).
var zipBomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 1 << 10 { // 1 GiB
		zw.Write(zeros)
	}
	zw.Close()
	return buf.Bytes()
})

func TestParsePDFBombs(t *testing.T) {
	bomb := zipBomb()
	t.Logf("a %d-byte stream that inflates to 1 GiB", len(bomb))
	var zipFile bytes.Buffer
	zw := zip.NewWriter(&zipFile)
	w, _ := zw.Create("zeros.bin")
	w.Write(make([]byte, 10<<20))
	zw.Close()

	// Many 40 MiB streams: each under the per-stream limit, together over the total.
	var many [][]byte
	{
		var buf bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
		zw.Write(bytes.Repeat([]byte("(A) Tj "), 40<<20/7))
		zw.Close()
		for range 8 {
			many = append(many, buf.Bytes())
		}
	}

	tests := []struct {
		name, file string
		data       []byte
		code, want string
	}{
		{"content stream bomb", "bomb.pdf", pdfWithPages([][]byte{bomb}, "/Filter /FlateDecode", nil), genai.ETOOLARGE, "decompression bomb"},
		{"image bomb", "image.pdf", pdfWithPages([][]byte{pdfTextContent("hi")}, "", bomb), genai.ETOOLARGE, "decompression bomb"},
		{"bomb without a filter name", "sly.pdf", pdfWithPages([][]byte{bomb}, "", nil), genai.ETOOLARGE, "decompression bomb"},
		{"streams that add up", "many.pdf", pdfWithPages(many, "/Filter /FlateDecode", nil), genai.ETOOLARGE, "together"},
		{"raw zip bomb renamed", "bomb.pdf", bomb, genai.EINVALID, "not a PDF file"},
		{"real zip renamed", "archive.pdf", zipFile.Bytes(), genai.EINVALID, "ZIP archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			peak, elapsed := measurePeak(func() {
				_, err = Parse(context.Background(), tt.file, tt.data, ParseLimits{})
			})
			t.Logf("%s: peak heap in use %.1f MiB over the input, %v", tt.name, float64(peak)/(1<<20), elapsed.Round(time.Millisecond))
			checkFileError(t, err, tt.file, tt.code, tt.want)
			if peak > 64<<20 {
				t.Errorf("peak heap in use grew by %d MiB, want under 64 MiB", peak>>20)
			}
		})
	}
}

func TestParsePDFMalformed(t *testing.T) {
	// A page tree whose Kids hold itself: the library's own Page(n) would loop forever.
	b := newPDFBuilder()
	pages := b.obj("<< /Type /Pages /Kids [1 0 R] /Count 5 >>")
	root := b.obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	cyclic := b.finish(root, "")

	// A page that is its own Parent, without Resources: findInherited would loop forever.
	b = newPDFBuilder()
	content := b.stream("", pdfTextContent("x"))
	page := b.reserve()
	b.obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /Contents %d 0 R >>", page, content))
	pages = b.obj(fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	root = b.obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	ownParent := b.finish(root, "")

	tests := []struct {
		name, want string
		data       []byte
	}{
		{"cyclic page tree", "page tree", cyclic},
		{"page its own parent", "cyclic", ownParent},
		{"unknown filter makes the library panic", "unreadable PDF", pdfWithPages([][]byte{[]byte("junk")}, "/Filter /JBIG2Decode", nil)},
		{"truncated", "unreadable PDF", pdfWithPages([][]byte{pdfTextContent("hello")}, "", nil)[:300]},
		{"header only", "unreadable PDF", []byte("%PDF-1.4\n")},
		{"encrypted", "encrypted", []byte(strings.Replace(string(pdfWithPages([][]byte{pdfTextContent("x")}, "", nil)), "/Info", "/Encrypt << /Filter /Standard /V 1 /R 2 /O (x) /U (x) /P -4 >> /Info", 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			in := &Ingester{ParseTimeout: 10 * time.Second}
			_, err := in.parse(ctx, "bad.pdf", tt.data)
			if err == nil || !strings.HasPrefix(genai.ErrorMessage(err), "bad.pdf: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a genai.Error for bad.pdf saying %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

// TestParsePDF50MB parses two 50 MB PDFs: one of text pages with a 40 MB image (it
// succeeds), one of 50 MB of text (over the text limit, refused).
func TestParsePDF50MB(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB PDFs")
	}
	image := bytes.Repeat([]byte{0x80, 0x81, 0x7f, 0x90}, 10<<20) // 40 MiB, uncompressed
	var pages [][]byte
	for i := range 200 {
		var lines []string
		for j := range 40 {
			lines = append(lines, fmt.Sprintf("Page %d line %d: the quick brown fox jumps over the lazy dog.", i+1, j+1))
		}
		pages = append(pages, pdfTextContent(lines...))
	}
	// 50 MB in total: pad with a comment-like unreferenced stream.
	big := pdfWithPages(pages, "", image)
	pad := 50<<20 - len(big)
	withImage := pdfWithPages(append(pages, pdfTextContent("last page")), "", append(image, make([]byte, max(0, pad))...))

	// Pages of 1-point type, 700 lines each that fit on the page (text off the page is
	// not read), then a padding stream to 50 MB: the text is over a 1 MiB limit by
	// page 25, and reading stops there.
	var textPages [][]byte
	var sb strings.Builder
	sb.WriteString("BT /F1 1 Tf 10 760 Td 1 TL\n")
	for range 700 {
		sb.WriteString("(Words of a very long document fill this line to the margin.) Tj T*\n")
	}
	sb.WriteString("ET\n")
	for range 40 {
		textPages = append(textPages, []byte(sb.String()))
	}
	allText := pdfWithPages(textPages, "", make([]byte, 50<<20))

	for _, tt := range []struct {
		name   string
		data   []byte
		limits ParseLimits
		code   string
	}{
		{"text and image", withImage, ParseLimits{}, ""},
		{"all text", allText, ParseLimits{MaxTextBytes: 1 << 20}, genai.ETOOLARGE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p *Parsed
			var err error
			peak, elapsed := measurePeak(func() {
				p, err = Parse(context.Background(), "big.pdf", tt.data, tt.limits)
			})
			t.Logf("%.1f MB PDF: %v; peak heap in use %.1f MiB over the input, %v", float64(len(tt.data))/1e6, err, float64(peak)/(1<<20), elapsed.Round(time.Millisecond))
			if tt.code != "" {
				checkFileError(t, err, "big.pdf", tt.code, "limit")
			} else if err != nil {
				t.Fatal(err)
			} else if len(p.Sections) != 201 {
				t.Errorf("%d sections, want 201", len(p.Sections))
			}
			// The input stays live, so the GC lets garbage grow to about its size.
			if peak > 192<<20 {
				t.Errorf("peak heap in use grew by %d MiB, want under 192 MiB", peak>>20)
			}
		})
	}
}
