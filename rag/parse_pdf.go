package rag

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/ledongthuc/pdf"

	"genai"
)

// Bounds of the PDF structure walked before text is extracted; PDFs past them are
// refused rather than trusted.
const (
	pdfMaxPages         = 100_000
	pdfMaxTreeDepth     = 64
	pdfMaxContentsParts = 10_000
)

// parsePDF extracts the text layer of a PDF with github.com/ledongthuc/pdf, a small
// pure-Go reader that decodes fonts' encodings and ToUnicode maps (pdfcpu, the other
// maintained pure-Go library, extracts content streams but not text).
//
// The library decompresses streams on demand without limits, trusts the page tree and
// panics on some malformed input, so this guards it: every stream is first decoded
// through its filters into a counter (pdfCheckStreams), the page tree is walked here
// with bounds on depth and pages, the content each page makes the library read is
// counted against MaxInflatedBytes, a panic becomes an error for the file, and ctx is
// checked between pages and by every read the library makes of the file. Each page is a
// section (PDFs carry no reliable headings); its text is the page's text objects, one
// per line, as the library gives them.
func parsePDF(ctx context.Context, name string, data []byte, limits ParseLimits) (p *Parsed, err error) {
	head := data[:min(len(data), 1024)]
	if !bytes.Contains(head, []byte("%PDF-")) {
		why := "no %PDF- header"
		if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
			why = "it is a ZIP archive"
		}
		return nil, genai.Errorf(genai.EINVALID, "%s: not a PDF file: %s", name, why)
	}
	if pdfEncrypt.Match(data) {
		// Encrypted streams cannot be checked for bombs before the library inflates them.
		return nil, genai.Errorf(genai.EINVALID, "%s: encrypted PDFs are not supported; save an unencrypted copy", name)
	}
	if err := pdfCheckStreams(ctx, name, data, limits); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, genai.Errorf(genai.EINVALID, "%s: unreadable PDF: %v", name, r)
			if ctx.Err() != nil {
				p, err = nil, genai.Errorf(genai.ETIMEOUT, "%s: gave up reading the PDF: %v", name, ctx.Err())
			}
		}
	}()
	r, err := pdf.NewReader(pdfFile{ctx, bytes.NewReader(data)}, int64(len(data)))
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: unreadable PDF: %v", name, err)
	}
	trailer := r.Trailer()
	pages, err := pdfPages(name, trailer.Key("Root").Key("Pages"))
	if err != nil {
		return nil, err
	}
	p = &Parsed{Title: trailer.Key("Info").Key("Title").Text()}
	budget := limits.MaxInflatedBytes
	total := 0
	for i, page := range pages {
		if err := ctx.Err(); err != nil {
			return nil, genai.Errorf(genai.ETIMEOUT, "%s: gave up at page %d of %d: %v", name, i+1, len(pages), err)
		}
		if err := pdfCheckPage(name, i+1, page, &budget, limits.MaxInflatedBytes); err != nil {
			return nil, err
		}
		text, err := page.GetPlainText(nil)
		if err != nil {
			return nil, genai.Errorf(genai.EINVALID, "%s: unreadable PDF: page %d: %v", name, i+1, err)
		}
		text = strings.TrimSpace(strings.ToValidUTF8(normalizeNewlines(text), "\uFFFD"))
		if text == "" {
			continue
		}
		if total += len(text); total > limits.MaxTextBytes {
			return nil, parseTooMuchText(name, limits)
		}
		p.Sections = append(p.Sections, Section{Text: text})
	}
	return p, nil
}

// pdfPages walks the page tree breadth-first, refusing trees that are too deep (or
// cyclic, which looks the same) or have too many pages.
func pdfPages(name string, root pdf.Value) ([]pdf.Page, error) {
	type node struct {
		v     pdf.Value
		depth int
	}
	var pages []pdf.Page
	stack := []node{{root, 0}}
	visited := 0
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited++; visited > 2*pdfMaxPages {
			return nil, genai.Errorf(genai.ETOOLARGE, "%s: the page tree has over %d nodes", name, 2*pdfMaxPages)
		}
		if n.v.Key("Type").Name() == "Page" || (n.v.Key("Kids").Kind() == pdf.Null && n.v.Key("Contents").Kind() != pdf.Null) {
			if len(pages) == pdfMaxPages {
				return nil, genai.Errorf(genai.ETOOLARGE, "%s: over %d pages", name, pdfMaxPages)
			}
			pages = append(pages, pdf.Page{V: n.v})
			continue
		}
		kids := n.v.Key("Kids")
		if kids.Len() == 0 {
			continue
		}
		if n.depth == pdfMaxTreeDepth {
			return nil, genai.Errorf(genai.EINVALID, "%s: corrupt PDF: the page tree is over %d levels deep or cyclic", name, pdfMaxTreeDepth)
		}
		for i := kids.Len() - 1; i >= 0; i-- { // reversed, so pages pop in order
			stack = append(stack, node{kids.Index(i), n.depth + 1})
		}
	}
	return pages, nil
}

// pdfCheckPage checks what the library will do for page n: follow its Parent chain
// (which must end) and inflate its content streams (which must fit in the budget).
func pdfCheckPage(name string, n int, page pdf.Page, budget *int64, limit int64) error {
	v := page.V
	for depth := 0; !v.IsNull(); depth++ {
		if depth > pdfMaxTreeDepth {
			return genai.Errorf(genai.EINVALID, "%s: corrupt PDF: page %d: its parents are over %d levels deep or cyclic", name, n, pdfMaxTreeDepth)
		}
		v = v.Key("Parent")
	}
	contents := page.V.Key("Contents")
	parts := []pdf.Value{contents}
	if contents.Kind() == pdf.Array {
		if contents.Len() > pdfMaxContentsParts {
			return genai.Errorf(genai.ETOOLARGE, "%s: page %d: over %d content streams", name, n, pdfMaxContentsParts)
		}
		parts = parts[:0]
		for i := 0; i < contents.Len(); i++ {
			parts = append(parts, contents.Index(i))
		}
	}
	for _, part := range parts {
		if part.Kind() != pdf.Stream {
			continue
		}
		rc := part.Reader()
		read, _ := io.CopyN(io.Discard, rc, *budget+1)
		rc.Close()
		if *budget -= read; *budget < 0 {
			return genai.Errorf(genai.ETOOLARGE, "%s: page %d: the pages' content inflates to over the limit of %d bytes; refused as a likely decompression bomb", name, n, limit)
		}
	}
	return nil
}

var pdfEncrypt = regexp.MustCompile(`/Encrypt\s*(?:<<|\d+\s+\d+\s+R)`)

// pdfFile is the file as the library reads it: a read fails once ctx has ended, which
// makes the library stop (by panicking) inside the work of a page, too.
type pdfFile struct {
	ctx context.Context
	r   *bytes.Reader
}

func (f pdfFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	return f.r.ReadAt(p, off)
}
