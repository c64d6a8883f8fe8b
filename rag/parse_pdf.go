package rag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/ledongthuc/pdf"

	"genai"
	"genai/ocr"
	"genai/pdfium"
)

// Bounds of the PDF structure walked before text is extracted; PDFs past them are
// refused rather than trusted.
const (
	pdfMaxPages         = 100_000
	pdfMaxTreeDepth     = 64
	pdfMaxContentsParts = 10_000
)

// parsePDF extracts the text layer of a PDF with PDFium (package pdfium), run as
// WebAssembly, page by page: each page is one or more sections with its page number,
// and the PDF's outline, where it has one, gives the sections their heading paths.
//
// Before PDFium sees the file, it is checked here: every stream is first decoded
// through its filter chain into a counter (pdfCheckStreams: each at most
// MaxStreamBytes, all together within a work budget), the page tree is walked with github.com/ledongthuc/pdf with bounds
// on depth and pages, and the content each page holds is counted against
// MaxInflatedBytes. PDFium's own memory is capped (pdfium.Config.MaxMemoryBytes),
// which bounds what any other filter can inflate to, and the engine stops when ctx
// ends.
func parsePDF(ctx context.Context, name string, data []byte, limits ParseLimits) (*Parsed, error) {
	if err := pdfCheck(ctx, name, data, limits); err != nil {
		return nil, err
	}
	engine, err := pdfium.Default()
	if err != nil {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "%s: the PDF engine did not start: %v", name, err)
	}
	doc, err := engine.Text(ctx, data, pdfium.Limits{MaxPages: pdfMaxPages, MaxTextBytes: limits.MaxTextBytes})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, genai.Errorf(genai.ETIMEOUT, "%s: gave up reading the PDF: %v", name, ctx.Err())
	case errors.Is(err, pdfium.ErrTooMuchText):
		return nil, parseTooMuchText(name, limits)
	case errors.Is(err, pdfium.ErrTooManyPages):
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: over %d pages", name, pdfMaxPages)
	case errors.Is(err, pdfium.ErrMemory):
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: reading it needs over %d bytes of memory; refused as a likely decompression bomb", name, int64(pdfium.DefaultMaxMemoryBytes))
	default:
		return nil, genai.Errorf(genai.EINVALID, "%s: %v", name, err)
	}
	if err := pdfOCR(ctx, name, data, engine, doc); err != nil {
		return nil, err
	}
	return &Parsed{Title: doc.Title, Sections: pdfSections(doc)}, nil
}

// pdfOCR reads the pages without a text layer that show an image (scans) by OCR,
// rendered by PDFium, when tesseract is installed; blank pages are left blank. Without
// it, a PDF with no text at all is refused with the reason, and one with some text
// keeps what it has.
func pdfOCR(ctx context.Context, name string, data []byte, engine *pdfium.Engine, doc *pdfium.Document) error {
	var empty []int
	for _, p := range doc.Pages {
		if p.Scanned {
			empty = append(empty, p.Number)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	if !ocr.Available() {
		if len(empty) == len(doc.Pages) {
			return genai.Errorf(genai.EINVALID, "%s: no text layer (a scanned document?): reading it needs OCR, and tesseract is not installed on this server", name)
		}
		return nil
	}
	images, err := engine.RenderPages(ctx, data, empty, ocrDPI)
	if err != nil {
		if ctx.Err() != nil {
			return genai.Errorf(genai.ETIMEOUT, "%s: gave up reading the PDF: %v", name, ctx.Err())
		}
		return genai.Errorf(genai.EINVALID, "%s: %v", name, err)
	}
	for i, img := range images {
		text, err := ocrText(ctx, fmt.Sprintf("%s: page %d", name, empty[i]), img)
		if err != nil {
			return err
		}
		doc.Pages[empty[i]-1].Text = text
	}
	return nil
}

// pdfCheck refuses what PDFium should not be given: files that are not PDFs,
// encrypted ones, decompression bombs and page trees that are cyclic, too deep or too
// large.
func pdfCheck(ctx context.Context, name string, data []byte, limits ParseLimits) (err error) {
	head := data[:min(len(data), 1024)]
	if !bytes.Contains(head, []byte("%PDF-")) {
		why := "no %PDF- header"
		if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
			why = "it is a ZIP archive"
		}
		return genai.Errorf(genai.EINVALID, "%s: not a PDF file: %s", name, why)
	}
	if pdfEncrypt.Match(data) {
		// Encrypted streams cannot be checked for bombs before the engine inflates them.
		return genai.Errorf(genai.EINVALID, "%s: encrypted PDFs are not supported; save an unencrypted copy", name)
	}
	if err := pdfCheckStreams(ctx, name, data, limits); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = genai.Errorf(genai.EINVALID, "%s: unreadable PDF: %v", name, r)
			if ctx.Err() != nil {
				err = genai.Errorf(genai.ETIMEOUT, "%s: gave up reading the PDF: %v", name, ctx.Err())
			}
		}
	}()
	r, err := pdf.NewReader(pdfFile{ctx, bytes.NewReader(data)}, int64(len(data)))
	if err != nil {
		return genai.Errorf(genai.EINVALID, "%s: unreadable PDF: %v", name, err)
	}
	pages, err := pdfPages(name, r.Trailer().Key("Root").Key("Pages"))
	if err != nil {
		return err
	}
	budget := limits.MaxInflatedBytes
	for i, page := range pages {
		if err := ctx.Err(); err != nil {
			return genai.Errorf(genai.ETIMEOUT, "%s: gave up at page %d of %d: %v", name, i+1, len(pages), err)
		}
		if err := pdfCheckPage(name, i+1, page, &budget, limits.MaxInflatedBytes); err != nil {
			return err
		}
	}
	return nil
}

// pdfSections makes a document's pages into sections: one per page, split where a
// heading starts a line of the page, so each section has its page number and the
// heading path of the headings above it. The headings are the outline's entries
// where the PDF has an outline, else the lines set clearly larger than the body text
// (pdfSizeHeadings). A heading's line stays in the text of the section it starts.
func pdfSections(doc *pdfium.Document) []Section {
	marks := map[int][]pdfHeading{}
	for _, item := range doc.Outline {
		if item.Page > 0 && item.Title != "" {
			marks[item.Page] = append(marks[item.Page], pdfHeading{-1, item.Level, item.Title})
		}
	}
	if len(doc.Outline) == 0 {
		marks = pdfSizeHeadings(doc)
	}
	var sections []Section
	var b sectionBuilder // for its heading path only
	add := func(page int, text string) {
		if text = strings.TrimSpace(text); text != "" {
			sections = append(sections, Section{Headings: b.headings, Text: text, Page: page})
		}
	}
	for _, page := range doc.Pages {
		text, done := page.Text, 0
		for _, h := range marks[page.Number] {
			at := h.at
			if at < 0 { // an outline entry: its title is looked for after the last one's
				if at = pdfTitleAt(text[done:], h.title); at < 0 {
					at = 0 // not found as printed: the heading starts where the last did
				}
				at += done
			}
			add(page.Number, text[done:at])
			done = at
			b.heading(h.level, h.title)
		}
		add(page.Number, text[done:])
	}
	return sections
}

// pdfHeading is a heading found on a page: where in its text (-1: where its title
// is found), its level and title.
type pdfHeading struct {
	at, level int
	title     string
}

// Bounds of a heading told by its font size: how much larger than the body text it
// is set, how long it may be, and how much of the text headings may be (past it,
// the sizes are not telling headings from text, as in slides set large throughout).
const (
	pdfHeadingScale    = 1.15
	pdfHeadingMaxBytes = 150
	pdfHeadingMaxWords = 16
	pdfHeadingMaxLines = 3
	pdfHeadingMaxShare = 0.2
	pdfMaxHeadingLevel = 6
)

// pdfSizeHeadings finds the headings of a PDF without an outline by their font
// size: the body size is the one most of the text is set in, and short lines set
// clearly larger are headings, a level per size from the largest, consecutive
// lines of one size (a title broken over lines) one heading. It returns them by page
// number, in page order.
func pdfSizeHeadings(doc *pdfium.Document) map[int][]pdfHeading {
	// A size to half a point: sizes computed through text matrices differ in their
	// last digits.
	round := func(size float64) float64 { return math.Round(size*2) / 2 }
	weight := map[float64]int{}
	total := 0
	for _, page := range doc.Pages {
		for i, line := range strings.Split(page.Text, "\n") {
			if i < len(page.LineSizes) && page.LineSizes[i] > 0 {
				n := len(strings.TrimSpace(line))
				weight[round(page.LineSizes[i])] += n
				total += n
			}
		}
	}
	body, most := 0.0, 0
	for size, n := range weight {
		if n > most || (n == most && size < body) {
			body, most = size, n
		}
	}
	if body == 0 {
		return nil
	}
	type line struct {
		page, at, n int
		size        float64
		text        string
	}
	var found []line
	headingBytes := 0
	for _, page := range doc.Pages {
		at := 0
		for i, text := range strings.Split(page.Text, "\n") {
			start := at
			at += len(text) + 1
			if i >= len(page.LineSizes) {
				continue
			}
			size, t := round(page.LineSizes[i]), collapseSpace(text)
			if size < body*pdfHeadingScale || len(t) > pdfHeadingMaxBytes || len(strings.Fields(t)) > pdfHeadingMaxWords || !strings.ContainsFunc(t, unicode.IsLetter) {
				continue
			}
			headingBytes += len(t)
			if last := len(found) - 1; last >= 0 && found[last].page == page.Number && found[last].n == i-1 && found[last].size == size &&
				strings.Count(found[last].text, "\n") < pdfHeadingMaxLines-1 {
				found[last].text += "\n" + t
				found[last].n = i
				continue
			}
			found = append(found, line{page.Number, start, i, size, t})
		}
	}
	if len(found) == 0 || float64(headingBytes) > pdfHeadingMaxShare*float64(total) {
		return nil
	}
	var sizes []float64
	for _, l := range found {
		if !slices.Contains(sizes, l.size) {
			sizes = append(sizes, l.size)
		}
	}
	slices.Sort(sizes)
	slices.Reverse(sizes)
	marks := map[int][]pdfHeading{}
	for _, l := range found {
		level := min(slices.Index(sizes, l.size)+1, pdfMaxHeadingLevel)
		marks[l.page] = append(marks[l.page], pdfHeading{l.at, level, collapseSpace(l.text)})
	}
	return marks
}

// pdfTitleAt returns where title starts a line of text (white space may differ), or
// -1.
func pdfTitleAt(text, title string) int {
	words := strings.Fields(title)
	if len(words) == 0 {
		return -1
	}
	for i := range words {
		words[i] = regexp.QuoteMeta(words[i])
	}
	re, err := regexp.Compile(`(?m)^[ \t]*(?:[0-9A-Z]+(?:\.[0-9]+)*\.?[ \t]+)?` + strings.Join(words, `\s+`))
	if err != nil {
		return -1
	}
	loc := re.FindStringIndex(text)
	if loc == nil {
		return -1
	}
	return loc[0]
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

// pdfFile is the file as the checking library reads it: a read fails once ctx has
// ended, which makes the library stop (by panicking) inside the work of a page, too.
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
