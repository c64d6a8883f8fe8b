package rag

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"genai"
)

// Office and e-book files are ZIP archives of XML. No maintained pure-Go library reads
// the text of all of DOCX, PPTX, XLSX, ODT and EPUB with their structure (the ones that
// exist each cover one format, and most build the whole document model), so this
// reads the few XML parts that hold the text with archive/zip and the streaming
// encoding/xml decoder: headings give the heading path, list items a "- ", a table
// row is one paragraph of cells separated by " | " (so a row stays in one chunk),
// and a slide is a page.

// Bounds of an archive: members, and what they may inflate to (MaxInflatedBytes).
const zipMaxFiles = 10_000

// officeArchive is an opened ZIP with a budget of inflated bytes.
type officeArchive struct {
	name   string
	files  map[string]*zip.File
	budget int64
	limit  int64
}

func openOfficeArchive(name, kind string, data []byte, limits ParseLimits) (*officeArchive, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a valid %s file: %v", name, kind, err)
	}
	if len(zr.File) > zipMaxFiles {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: over %d files in the archive", name, zipMaxFiles)
	}
	a := &officeArchive{name: name, files: map[string]*zip.File{}, budget: limits.MaxInflatedBytes, limit: limits.MaxInflatedBytes}
	for _, f := range zr.File {
		a.files[f.Name] = f
	}
	return a, nil
}

// read inflates member name, counting it against the budget: the sizes in the
// archive's directory are not trusted.
func (a *officeArchive) read(member string) ([]byte, error) {
	f := a.files[member]
	if f == nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: corrupt file: no %s in the archive", a.name, member)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: corrupt file: %s: %v", a.name, member, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, a.budget+1))
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: corrupt file: %s: %v", a.name, member, err)
	}
	if a.budget -= int64(len(data)); a.budget < 0 {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: its parts inflate to over %d bytes; refused as a likely decompression bomb", a.name, a.limit)
	}
	return data, nil
}

// xmlWalk calls fn for each token of an XML part. Element names are matched by local
// name: the namespaces of these formats are fixed.
func xmlWalk(name, member string, data []byte, fn func(xml.Token) bool) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return genai.Errorf(genai.EINVALID, "%s: corrupt file: %s: %v", name, member, err)
		}
		if !fn(tok) {
			return nil
		}
	}
}

func xmlAttr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// officeText gathers a document's paragraphs: the text of the current paragraph, the
// cells of the current table row, and the section builder.
type officeText struct {
	b     *sectionBuilder
	para  strings.Builder
	cells []string
	inRow int
	over  bool
}

func (o *officeText) endParagraph(prefix string) {
	p := strings.TrimSpace(o.para.String())
	o.para.Reset()
	if p == "" {
		return
	}
	if o.inRow > 0 {
		if len(o.cells) == 0 {
			o.cells = append(o.cells, p)
		} else {
			o.cells[len(o.cells)-1] = strings.TrimSpace(o.cells[len(o.cells)-1] + " " + p)
		}
		return
	}
	if !o.b.paragraph(prefix + p) {
		o.over = true
	}
}

func (o *officeText) endRow() {
	var cells []string
	for _, c := range o.cells {
		cells = append(cells, collapseSpace(c))
	}
	o.cells = o.cells[:0]
	if row := strings.Join(cells, " | "); strings.Trim(row, " |") != "" && !o.b.paragraph(row) {
		o.over = true
	}
}

// parseDOCX reads word/document.xml: w:p paragraphs, Heading1–6 and Title styles as
// headings, numbered paragraphs as list items, w:tbl rows as rows.
func parseDOCX(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "DOCX", data, limits)
	if err != nil {
		return nil, err
	}
	doc, err := a.read("word/document.xml")
	if err != nil {
		return nil, err
	}
	o := &officeText{b: &sectionBuilder{max: limits.MaxTextBytes}}
	p := &Parsed{}
	if core, err := a.read("docProps/core.xml"); err == nil {
		p.Title = xmlElementText(core, "title")
	}
	heading, list := 0, false
	err = xmlWalk(name, "word/document.xml", doc, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p":
				heading, list = 0, false
			case "pStyle":
				heading = docxHeadingLevel(xmlAttr(t, "val"))
			case "numPr":
				list = true
			case "tab":
				o.para.WriteByte('\t')
			case "br", "cr":
				o.para.WriteByte('\n')
			case "tr":
				o.inRow++
				o.cells = o.cells[:0]
			case "tc":
				o.cells = append(o.cells, "")
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "p":
				switch {
				case heading > 0 && o.inRow == 0:
					o.b.heading(heading, o.para.String())
					o.para.Reset()
				case list:
					o.endParagraph("- ")
				default:
					o.endParagraph("")
				}
			case "tr":
				o.inRow--
				o.endRow()
			}
		case xml.CharData:
			o.para.Write(t)
		}
		return !o.over
	})
	if err != nil {
		return nil, err
	}
	if o.over {
		return nil, parseTooMuchText(name, limits)
	}
	p.Sections = o.b.result()
	return p, nil
}

// docxHeadingLevel returns the level of a paragraph style ("Heading2" → 2, "Title" → 1)
// or 0.
func docxHeadingLevel(style string) int {
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	if s == "title" {
		return 1
	}
	if n, ok := strings.CutPrefix(s, "heading"); ok {
		if level, err := strconv.Atoi(n); err == nil && level >= 1 && level <= 6 {
			return level
		}
	}
	return 0
}

// xmlElementText returns the text of the first element of local name in data, or "".
func xmlElementText(data []byte, local string) string {
	var sb strings.Builder
	in := false
	xmlWalk("", "", data, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			in = t.Name.Local == local
		case xml.EndElement:
			if in {
				return false
			}
		case xml.CharData:
			if in {
				sb.Write(t)
			}
		}
		return true
	})
	return strings.TrimSpace(sb.String())
}

// parseODT reads content.xml of an OpenDocument text: text:h headings at their
// outline level, text:p paragraphs, list items, table rows.
func parseODT(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "ODT", data, limits)
	if err != nil {
		return nil, err
	}
	content, err := a.read("content.xml")
	if err != nil {
		return nil, err
	}
	p := &Parsed{}
	if meta, err := a.read("meta.xml"); err == nil {
		p.Title = xmlElementText(meta, "title")
	}
	o := &officeText{b: &sectionBuilder{max: limits.MaxTextBytes}}
	heading, depth, listItem := 0, 0, 0
	err = xmlWalk(name, "content.xml", content, func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "h":
				heading, _ = strconv.Atoi(xmlAttr(t, "outline-level"))
				heading = min(max(heading, 1), 6)
			case "p":
				depth++
			case "list-item":
				listItem++
			case "s":
				n, _ := strconv.Atoi(xmlAttr(t, "c"))
				o.para.WriteString(strings.Repeat(" ", min(max(n, 1), 100)))
			case "tab":
				o.para.WriteByte('\t')
			case "line-break":
				o.para.WriteByte('\n')
			case "table-row":
				o.inRow++
				o.cells = o.cells[:0]
			case "table-cell":
				o.cells = append(o.cells, "")
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "h":
				if o.inRow == 0 {
					o.b.heading(heading, o.para.String())
					o.para.Reset()
				} else {
					o.endParagraph("")
				}
				heading = 0
			case "p":
				depth--
				if depth == 0 {
					prefix := ""
					if listItem > 0 {
						prefix = "- "
					}
					o.endParagraph(prefix)
				}
			case "list-item":
				listItem--
			case "table-row":
				o.inRow--
				o.endRow()
			}
		case xml.CharData:
			if heading > 0 || depth > 0 {
				o.para.Write(t)
			}
		}
		return !o.over
	})
	if err != nil {
		return nil, err
	}
	if o.over {
		return nil, parseTooMuchText(name, limits)
	}
	p.Sections = o.b.result()
	return p, nil
}

// parsePPTX reads each slide (ppt/slides/slideN.xml, in number order) as a page: its
// title placeholder as its heading, its other text paragraphs, table rows as rows.
func parsePPTX(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "PPTX", data, limits)
	if err != nil {
		return nil, err
	}
	var slides []int
	for member := range a.files {
		if n, ok := strings.CutPrefix(member, "ppt/slides/slide"); ok && strings.HasSuffix(n, ".xml") && !strings.Contains(n, "/") {
			if i, err := strconv.Atoi(strings.TrimSuffix(n, ".xml")); err == nil {
				slides = append(slides, i)
			}
		}
	}
	if len(slides) == 0 {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a valid PPTX file: it has no slides", name)
	}
	slices.Sort(slices.Compact(slides))
	p := &Parsed{}
	if core, err := a.read("docProps/core.xml"); err == nil {
		p.Title = xmlElementText(core, "title")
	}
	total := 0
	for n, num := range slides {
		member := fmt.Sprintf("ppt/slides/slide%d.xml", num)
		xmlData, err := a.read(member)
		if err != nil {
			return nil, err
		}
		o := &officeText{b: &sectionBuilder{max: limits.MaxTextBytes - total}}
		var title strings.Builder
		inTitle, shapeDepth := false, 0
		err = xmlWalk(name, member, xmlData, func(tok xml.Token) bool {
			switch t := tok.(type) {
			case xml.StartElement:
				switch t.Name.Local {
				case "sp":
					shapeDepth++
				case "ph":
					if ty := xmlAttr(t, "type"); shapeDepth > 0 && (ty == "title" || ty == "ctrTitle") {
						inTitle = true
					}
				case "br":
					o.para.WriteByte('\n')
				case "tr":
					o.inRow++
					o.cells = o.cells[:0]
				case "tc":
					o.cells = append(o.cells, "")
				}
			case xml.EndElement:
				switch t.Name.Local {
				case "sp":
					shapeDepth--
					inTitle = false
				case "p":
					if inTitle {
						title.WriteString(o.para.String() + " ")
						o.para.Reset()
					} else {
						o.endParagraph("")
					}
				case "tr":
					o.inRow--
					o.endRow()
				}
			case xml.CharData:
				o.para.Write(t)
			}
			return !o.over
		})
		if err != nil {
			return nil, err
		}
		if o.over {
			return nil, parseTooMuchText(name, limits)
		}
		heading := collapseSpace(title.String())
		if heading == "" {
			heading = fmt.Sprintf("Slide %d", n+1)
		}
		for _, s := range o.b.result() {
			s.Headings, s.Page = []string{heading}, n+1
			total += len(s.Text)
			p.Sections = append(p.Sections, s)
		}
	}
	return p, nil
}

// parseXLSX reads each worksheet as a section under its sheet's name, each row a
// paragraph of its cells' values.
func parseXLSX(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "XLSX", data, limits)
	if err != nil {
		return nil, err
	}
	var shared []string
	if ss, err := a.read("xl/sharedStrings.xml"); err == nil {
		var cur strings.Builder
		in := 0
		err := xmlWalk(name, "xl/sharedStrings.xml", ss, func(tok xml.Token) bool {
			switch t := tok.(type) {
			case xml.StartElement:
				switch t.Name.Local {
				case "si":
					cur.Reset()
				case "t":
					in++
				case "rPh":
					in -= 1000 // phonetic hints are not the cell's text
				}
			case xml.EndElement:
				switch t.Name.Local {
				case "si":
					shared = append(shared, cur.String())
				case "t":
					in--
				case "rPh":
					in += 1000
				}
			case xml.CharData:
				if in > 0 {
					cur.Write(t)
				}
			}
			return len(shared) < 10_000_000
		})
		if err != nil {
			return nil, err
		}
	}
	sheets, err := xlsxSheets(a)
	if err != nil {
		return nil, err
	}
	b := &sectionBuilder{max: limits.MaxTextBytes}
	for _, sh := range sheets {
		xmlData, err := a.read(sh.member)
		if err != nil {
			return nil, err
		}
		b.heading(1, sh.name)
		var row []string
		var val strings.Builder
		cellType, inValue, over := "", false, false
		err = xmlWalk(name, sh.member, xmlData, func(tok xml.Token) bool {
			switch t := tok.(type) {
			case xml.StartElement:
				switch t.Name.Local {
				case "row":
					row = row[:0]
				case "c":
					cellType = xmlAttr(t, "t")
					val.Reset()
				case "v", "t":
					inValue = true
				}
			case xml.EndElement:
				switch t.Name.Local {
				case "v", "t":
					inValue = false
				case "c":
					v := val.String()
					if cellType == "s" {
						if i, err := strconv.Atoi(v); err == nil && i >= 0 && i < len(shared) {
							v = shared[i]
						}
					}
					row = append(row, collapseSpace(v))
				case "row":
					if r := strings.Join(row, " | "); strings.Trim(r, " |") != "" && !b.paragraph(r) {
						over = true
					}
				}
			case xml.CharData:
				if inValue {
					val.Write(t)
				}
			}
			return !over
		})
		if err != nil {
			return nil, err
		}
		if over {
			return nil, parseTooMuchText(name, limits)
		}
	}
	p := &Parsed{Sections: b.result()}
	if core, err := a.read("docProps/core.xml"); err == nil {
		p.Title = xmlElementText(core, "title")
	}
	return p, nil
}

type xlsxSheet struct{ name, member string }

// xlsxSheets returns the worksheets in workbook order, through the workbook's
// relationships.
func xlsxSheets(a *officeArchive) ([]xlsxSheet, error) {
	wb, err := a.read("xl/workbook.xml")
	if err != nil {
		return nil, err
	}
	targets := map[string]string{}
	if rels, err := a.read("xl/_rels/workbook.xml.rels"); err == nil {
		xmlWalk(a.name, "xl/_rels/workbook.xml.rels", rels, func(tok xml.Token) bool {
			if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "Relationship" {
				target := xmlAttr(t, "Target")
				if strings.HasPrefix(target, "/") {
					target = strings.TrimPrefix(target, "/")
				} else {
					target = path.Join("xl", target)
				}
				targets[xmlAttr(t, "Id")] = target
			}
			return true
		})
	}
	var sheets []xlsxSheet
	err = xmlWalk(a.name, "xl/workbook.xml", wb, func(tok xml.Token) bool {
		if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "sheet" {
			member := targets[xmlAttr(t, "id")]
			if member == "" {
				member = fmt.Sprintf("xl/worksheets/sheet%d.xml", len(sheets)+1)
			}
			if a.files[member] != nil {
				sheets = append(sheets, xlsxSheet{xmlAttr(t, "name"), member})
			}
		}
		return true
	})
	return sheets, err
}

// parseCSV reads a table: with a header row, each row is a paragraph of
// "column: value" pairs, so a row found alone still says what its values are.
func parseCSV(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	data, err := decodeUTF16(name, data)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a CSV file: it is not valid UTF-8", name)
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	if bytes.Count(data[:min(len(data), 4096)], []byte(";")) > bytes.Count(data[:min(len(data), 4096)], []byte(",")) {
		r.Comma = ';'
	}
	b := &sectionBuilder{max: limits.MaxTextBytes}
	var header []string
	for n := 0; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, genai.Errorf(genai.EINVALID, "%s: not a CSV file: %v", name, err)
		}
		if n == 0 {
			header = rec
			continue
		}
		var cells []string
		for i, v := range rec {
			if v = collapseSpace(v); v == "" {
				continue
			}
			if i < len(header) && strings.TrimSpace(header[i]) != "" {
				v = collapseSpace(header[i]) + ": " + v
			}
			cells = append(cells, v)
		}
		if !b.paragraph(strings.Join(cells, " | ")) {
			return nil, parseTooMuchText(name, limits)
		}
	}
	return &Parsed{Sections: b.result()}, nil
}

// parseEPUB reads the book's XHTML documents in spine order (META-INF/container.xml
// names the package, whose spine orders its manifest), each with the HTML reader.
func parseEPUB(ctx context.Context, name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "EPUB", data, limits)
	if err != nil {
		return nil, err
	}
	container, err := a.read("META-INF/container.xml")
	if err != nil {
		return nil, err
	}
	opfPath := ""
	xmlWalk(name, "META-INF/container.xml", container, func(tok xml.Token) bool {
		if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "rootfile" {
			opfPath = xmlAttr(t, "full-path")
			return false
		}
		return true
	})
	opf, err := a.read(opfPath)
	if err != nil {
		return nil, err
	}
	manifest := map[string]string{}
	var spine []string
	err = xmlWalk(name, opfPath, opf, func(tok xml.Token) bool {
		if t, ok := tok.(xml.StartElement); ok {
			switch t.Name.Local {
			case "item":
				manifest[xmlAttr(t, "id")] = path.Join(path.Dir(opfPath), xmlAttr(t, "href"))
			case "itemref":
				spine = append(spine, xmlAttr(t, "idref"))
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	p := &Parsed{Title: xmlElementText(opf, "title")}
	total := 0
	for _, id := range spine {
		member := manifest[id]
		if a.files[member] == nil {
			continue
		}
		page, err := a.read(member)
		if err != nil {
			return nil, err
		}
		chapter, err := parseHTML(ctx, name, page, ParseLimits{MaxTextBytes: limits.MaxTextBytes - total})
		if err != nil {
			return nil, err
		}
		if total += chapter.TextBytes(); total > limits.MaxTextBytes {
			return nil, parseTooMuchText(name, limits)
		}
		p.Sections = append(p.Sections, chapter.Sections...)
	}
	return p, nil
}
