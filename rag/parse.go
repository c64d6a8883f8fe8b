package rag

import (
	"bytes"
	"context"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"genai"
)

// The formats Parse reads, as stored in genai.Document.Format.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
	FormatPDF      = "pdf"
	FormatDOCX     = "docx"
	FormatPPTX     = "pptx"
	FormatXLSX     = "xlsx"
	FormatODT      = "odt"
	FormatCSV      = "csv"
	FormatEPUB     = "epub"
	FormatImage    = "image" // PNG or JPEG, read by OCR
)

// supportedFormats names the extensions Parse takes, for error messages.
const supportedFormats = "plain text (.txt), Markdown (.md, .markdown), HTML (.html, .htm), PDF (.pdf), " +
	"Word (.docx), PowerPoint (.pptx), Excel (.xlsx), OpenDocument text (.odt), CSV (.csv), EPUB (.epub) " +
	"and, with OCR, images (.png, .jpg, .jpeg)"

// Default limits of parsing; see ParseLimits.
const (
	DefaultMaxTextBytes     = 16 << 20
	DefaultMaxStreamBytes   = 64 << 20
	DefaultMaxInflatedBytes = 256 << 20
)

// Section is a run of a document's text under one heading path.
type Section struct {
	Headings []string // the heading path, outermost first; empty before the first heading
	Text     string   // paragraphs separated by blank lines
	Page     int      // the page it is on (from 1), for formats with pages; else 0
}

// Parsed is the text extracted from a file.
type Parsed struct {
	Title    string // from the file itself (<title>, front matter, first # heading, PDF Info); may be ""
	Format   string // FormatText, FormatMarkdown, FormatHTML or FormatPDF
	Sections []Section
}

// TextBytes returns the number of bytes of text in p's sections.
func (p *Parsed) TextBytes() int {
	n := 0
	for _, s := range p.Sections {
		n += len(s.Text)
	}
	return n
}

// ParseLimits bound the work of Parse. A zero field takes its default.
type ParseLimits struct {
	// MaxTextBytes bounds the extracted text (and the size of a text or Markdown
	// source); over it, Parse fails with ETOOLARGE. Default DefaultMaxTextBytes.
	MaxTextBytes int
	// MaxStreamBytes bounds what one compressed PDF stream may inflate to.
	// Default DefaultMaxStreamBytes.
	MaxStreamBytes int64
	// MaxInflatedBytes bounds what all of a PDF's compressed streams other than images
	// may inflate to together. Default DefaultMaxInflatedBytes.
	MaxInflatedBytes int64
}

func (l ParseLimits) withDefaults() ParseLimits {
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = DefaultMaxTextBytes
	}
	if l.MaxStreamBytes <= 0 {
		l.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if l.MaxInflatedBytes <= 0 {
		l.MaxInflatedBytes = DefaultMaxInflatedBytes
	}
	return l
}

// Parse extracts the title and the text, section by section, of the file called name
// (a path or an upload's name) with contents data. The format comes from the name's
// extension (.txt, .md, .markdown, .html, .htm, .pdf, .docx, .pptx, .xlsx, .odt, .csv,
// .epub, .png, .jpg), or from the contents when the name has no extension. It checks
// ctx inside its loops (PDF pages, HTML tokens, Markdown lines, blocks and nodes) and
// stops with ETIMEOUT soon after ctx ends.
//
// Errors are *genai.Error values whose message starts with name: EMEDIATYPE for an
// unsupported format, EINVALID for a file that is not what its name says or is corrupt,
// ETOOLARGE for one over a limit. A file with no text is not an error here: its
// Sections are empty.
func Parse(ctx context.Context, name string, data []byte, limits ParseLimits) (*Parsed, error) {
	limits = limits.withDefaults()
	format, err := DetectFormat(name, data)
	if err != nil {
		return nil, err
	}
	var p *Parsed
	switch format {
	case FormatText:
		p, err = parseText(ctx, name, data, limits)
	case FormatMarkdown:
		p, err = parseMarkdown(ctx, name, data, limits)
	case FormatHTML:
		p, err = parseHTML(ctx, name, data, limits)
	case FormatPDF:
		p, err = parsePDF(ctx, name, data, limits)
	case FormatDOCX:
		p, err = parseDOCX(name, data, limits)
	case FormatPPTX:
		p, err = parsePPTX(name, data, limits)
	case FormatXLSX:
		p, err = parseXLSX(name, data, limits)
	case FormatODT:
		p, err = parseODT(name, data, limits)
	case FormatCSV:
		p, err = parseCSV(name, data, limits)
	case FormatEPUB:
		p, err = parseEPUB(ctx, name, data, limits)
	case FormatImage:
		p, err = parseImage(ctx, name, data)
	}
	if err != nil {
		return nil, err
	}
	p.Format = format
	p.Title = strings.TrimSpace(collapseSpace(p.Title))
	if n := p.TextBytes(); n > limits.MaxTextBytes {
		return nil, parseTooMuchText(name, limits)
	}
	return p, nil
}

// DetectFormat returns the format Parse would read name as, or the EMEDIATYPE error
// naming the supported formats.
func DetectFormat(name string, data []byte) (string, error) {
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, "\\", "/"))) {
	case ".txt", ".text":
		return FormatText, nil
	case ".md", ".markdown":
		return FormatMarkdown, nil
	case ".html", ".htm", ".xhtml":
		return FormatHTML, nil
	case ".pdf":
		return FormatPDF, nil
	case ".docx":
		return FormatDOCX, nil
	case ".pptx":
		return FormatPPTX, nil
	case ".xlsx":
		return FormatXLSX, nil
	case ".odt":
		return FormatODT, nil
	case ".csv":
		return FormatCSV, nil
	case ".epub":
		return FormatEPUB, nil
	case ".png", ".jpg", ".jpeg":
		return FormatImage, nil
	case "":
		head := data[:min(len(data), 1024)]
		lower := bytes.ToLower(bytes.TrimLeft(head, " \t\r\n\ufeff"))
		switch {
		case bytes.Contains(head, []byte("%PDF-")):
			return FormatPDF, nil
		case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
			return FormatImage, nil
		case bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html")):
			return FormatHTML, nil
		case checkText(head) == "":
			return FormatText, nil
		}
		if utf16, err := decodeUTF16(name, head); err == nil && len(utf16) != len(head) && checkText(utf16) == "" {
			return FormatText, nil
		}
	}
	return "", genai.Errorf(genai.EMEDIATYPE, "%s: unsupported format; supported are %s", name, supportedFormats)
}

// parseText reads plain text: paragraphs as they are, no headings. Its work is a few
// linear passes over at most MaxTextBytes (about 0.1 s for 16 MiB), so ctx is checked
// between them.
func parseText(ctx context.Context, name string, data []byte, limits ParseLimits) (*Parsed, error) {
	data, err := decodeUTF16(name, data)
	if err != nil {
		return nil, err
	}
	if len(data) > limits.MaxTextBytes {
		return nil, parseTooMuchText(name, limits)
	}
	if why := checkText(data); why != "" {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a text file: %s", name, why)
	}
	if ctx.Err() != nil {
		return nil, parseStopped(ctx, name)
	}
	text := normalizeNewlines(string(bytes.TrimPrefix(data, []byte("\ufeff"))))
	p := &Parsed{}
	if strings.TrimSpace(text) != "" {
		p.Sections = []Section{{Text: text}}
	}
	return p, nil
}

// checkText says why data is not text ("" when it is): binary files are refused
// rather than indexed as noise. Text is valid UTF-8 with no NUL bytes and almost no
// control characters other than tab, newline, carriage return and form feed.
func checkText(data []byte) string {
	if bytes.IndexByte(data, 0) >= 0 {
		return "it contains NUL bytes (binary data)"
	}
	if !utf8.Valid(data) {
		// A cut at the end of a 1 KiB sniff is not the file's fault.
		if len(data) == 1024 && utf8.Valid(data[:len(data)-utf8.UTFMax]) {
			return ""
		}
		return "it is not valid UTF-8"
	}
	control := 0
	for _, r := range string(data) {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' && r != '\f' {
			control++
		}
	}
	if control > 0 && control*100 > utf8.RuneCount(data) {
		return "over 1% of its characters are control characters (binary data)"
	}
	return ""
}

// parseStopped is the error of a parse stopped because ctx ended.
func parseStopped(ctx context.Context, name string) error {
	return genai.Errorf(genai.ETIMEOUT, "%s: gave up parsing: %v", name, ctx.Err())
}

// stopCheck tells a parser's inner loop when ctx has ended, looking at it only every
// stopCheckEvery calls, so that the check costs nothing next to the loop's work.
type stopCheck struct {
	ctx context.Context
	n   int
}

const stopCheckEvery = 256

func (c *stopCheck) stopped() bool {
	if c.n++; c.n%stopCheckEvery != 0 {
		return false
	}
	return c.ctx.Err() != nil
}

func parseTooMuchText(name string, limits ParseLimits) error {
	return genai.Errorf(genai.ETOOLARGE, "%s: over %d bytes of text, the limit per document", name, limits.MaxTextBytes)
}

func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// collapseSpace replaces each run of white space in s with one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// sectionBuilder gathers paragraphs into sections as a parser meets headings, and
// counts the text so that a parser can stop at the limit.
type sectionBuilder struct {
	sections []Section
	headings []string // the current path
	levels   []int    // the level of each heading in the path
	text     strings.Builder
	total    int
	max      int
}

// heading closes the current section and starts one under a heading of level 1–6.
func (b *sectionBuilder) heading(level int, title string) {
	b.flush()
	title = collapseSpace(title)
	if title == "" {
		return
	}
	for len(b.levels) > 0 && b.levels[len(b.levels)-1] >= level {
		b.levels = b.levels[:len(b.levels)-1]
		b.headings = b.headings[:len(b.headings)-1]
	}
	// A fresh slice: sections keep theirs.
	b.headings = append(b.headings[:len(b.headings):len(b.headings)], title)
	b.levels = append(b.levels, level)
}

// paragraph adds a paragraph to the current section. It reports false when the text
// is over the limit.
func (b *sectionBuilder) paragraph(p string) bool {
	p = strings.TrimSpace(p)
	if p == "" {
		return b.total <= b.max
	}
	if b.text.Len() > 0 {
		b.text.WriteString("\n\n")
	}
	b.text.WriteString(p)
	b.total += len(p) + 2
	return b.total <= b.max
}

func (b *sectionBuilder) flush() {
	if b.text.Len() > 0 {
		b.sections = append(b.sections, Section{Headings: b.headings, Text: b.text.String()})
		b.text.Reset()
	}
}

func (b *sectionBuilder) result() []Section {
	b.flush()
	return b.sections
}
