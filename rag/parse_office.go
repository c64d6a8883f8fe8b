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

// walk reads member and calls fn for each of its XML tokens until fn returns false.
func (a *officeArchive) walk(member string, fn func(xml.Token) bool) error {
	data, err := a.read(member)
	if err != nil {
		return err
	}
	return xmlWalk(a.name, member, data, fn)
}

// title returns the text of the title element of the metadata part member
// (docProps/core.xml, meta.xml), or "" when there is none.
func (a *officeArchive) title(member string) string {
	if a.files[member] == nil {
		return ""
	}
	data, err := a.read(member)
	if err != nil {
		return ""
	}
	return xmlElementText(data, "title")
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
// table rows open around it, and the section builder.
type officeText struct {
	b    *sectionBuilder
	para strings.Builder
	rows []*officeRow
	over bool
}

// officeRow is an open table row: its cells so far, or, once it has been found to
// lay out a page rather than hold data (a table or a heading in one of its cells),
// none: its cells' paragraphs are then the document's own.
type officeRow struct {
	cells  []string
	layout bool
}

// inCell reports whether the current paragraph is in a cell of a data row.
func (o *officeText) inCell() bool { return len(o.rows) > 0 && !o.rows[len(o.rows)-1].layout }

// startRow opens a table row. One inside another row's cell makes the outer rows
// layout: they are ended as rows so far, and what follows in their cells is read as
// paragraphs, so a page laid out in one big cell is not one huge "row".
func (o *officeText) startRow() {
	o.layout()
	o.rows = append(o.rows, &officeRow{})
}

// layout makes the open rows layout rows (see officeRow).
func (o *officeText) layout() {
	for _, r := range o.rows {
		if !r.layout {
			o.row(r.cells)
			r.cells, r.layout = nil, true
		}
	}
}

func (o *officeText) startCell() {
	if o.inCell() {
		r := o.rows[len(o.rows)-1]
		r.cells = append(r.cells, "")
	}
}

func (o *officeText) endRow() {
	if len(o.rows) == 0 {
		return
	}
	r := o.rows[len(o.rows)-1]
	o.rows = o.rows[:len(o.rows)-1]
	if !r.layout {
		o.row(r.cells)
	}
}

// row adds a table row as one paragraph of its cells, separated by " | ", so that
// a row stays in one chunk.
func (o *officeText) row(cells []string) {
	var out []string
	for _, c := range cells {
		out = append(out, collapseSpace(c))
	}
	if row := strings.Join(out, " | "); strings.Trim(row, " |") != "" && !o.b.paragraph(row) {
		o.over = true
	}
}

// endParagraph ends the current paragraph: into the current cell, or as a paragraph
// (with prefix, "- " for a list item).
func (o *officeText) endParagraph(prefix string) {
	p := strings.TrimSpace(o.para.String())
	o.para.Reset()
	if p == "" {
		return
	}
	if o.inCell() {
		r := o.rows[len(o.rows)-1]
		if len(r.cells) == 0 {
			r.cells = append(r.cells, "")
		}
		r.cells[len(r.cells)-1] = strings.TrimSpace(r.cells[len(r.cells)-1] + " " + p)
		return
	}
	if !o.b.paragraph(prefix + p) {
		o.over = true
	}
}

// endHeading ends the current paragraph as a heading of level; in a table's cell,
// it makes the table a layout one.
func (o *officeText) endHeading(level int) {
	o.layout()
	o.b.heading(level, o.para.String())
	o.para.Reset()
}

// result returns the sections, or the error of too much text.
func (o *officeText) result(name string, limits ParseLimits) ([]Section, error) {
	if o.over {
		return nil, parseTooMuchText(name, limits)
	}
	return o.b.result(), nil
}

// parseDOCX reads word/document.xml: w:p paragraphs, Heading1–6 and Title styles as
// headings, numbered paragraphs as list items, w:tbl rows as rows. Only w:t runs are
// text: field codes (w:instrText) and deleted text (w:delText) are not.
func parseDOCX(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "DOCX", data, limits)
	if err != nil {
		return nil, err
	}
	o := &officeText{b: &sectionBuilder{max: limits.MaxTextBytes}}
	heading, list, inText := 0, false, false
	err = a.walk("word/document.xml", func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p":
				heading, list = 0, false
			case "pStyle":
				heading = docxHeadingLevel(xmlAttr(t, "val"))
			case "numPr":
				list = true
			case "t":
				inText = true
			case "tab":
				o.para.WriteByte('\t')
			case "br", "cr":
				o.para.WriteByte('\n')
			case "tr":
				o.startRow()
			case "tc":
				o.startCell()
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				switch {
				case heading > 0:
					o.endHeading(heading)
				case list:
					o.endParagraph("- ")
				default:
					o.endParagraph("")
				}
			case "tr":
				o.endRow()
			}
		case xml.CharData:
			if inText {
				o.para.Write(t)
			}
		}
		return !o.over
	})
	if err != nil {
		return nil, err
	}
	p := &Parsed{Title: a.title("docProps/core.xml")}
	if p.Sections, err = o.result(name, limits); err != nil {
		return nil, err
	}
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
// outline level, text:p paragraphs, list items, table rows. The names and
// descriptions of images (svg:title, svg:desc) are not the document's text.
func parseODT(name string, data []byte, limits ParseLimits) (*Parsed, error) {
	a, err := openOfficeArchive(name, "ODT", data, limits)
	if err != nil {
		return nil, err
	}
	o := &officeText{b: &sectionBuilder{max: limits.MaxTextBytes}}
	heading, depth, listItem, alt := 0, 0, 0, 0
	err = a.walk("content.xml", func(tok xml.Token) bool {
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "title", "desc":
				alt++
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
				o.startRow()
			case "table-cell":
				o.startCell()
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "title", "desc":
				alt--
			case "h":
				o.endHeading(heading)
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
				o.endRow()
			}
		case xml.CharData:
			if (heading > 0 || depth > 0) && alt == 0 {
				o.para.Write(t)
			}
		}
		return !o.over
	})
	if err != nil {
		return nil, err
	}
	p := &Parsed{Title: a.title("meta.xml")}
	if p.Sections, err = o.result(name, limits); err != nil {
		return nil, err
	}
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
	p := &Parsed{Title: a.title("docProps/core.xml")}
	total := 0
	for n, num := range slides {
		o := &officeText{b: &sectionBuilder{max: limits.MaxTextBytes - total}}
		var title strings.Builder
		inTitle, shapeDepth := false, 0
		err = a.walk(fmt.Sprintf("ppt/slides/slide%d.xml", num), func(tok xml.Token) bool {
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
					o.startRow()
				case "tc":
					o.startCell()
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
		sections, err := o.result(name, limits)
		if err != nil {
			return nil, err
		}
		heading := collapseSpace(title.String())
		if heading == "" {
			heading = fmt.Sprintf("Slide %d", n+1)
		}
		for _, s := range sections {
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
	if a.files["xl/sharedStrings.xml"] != nil {
		var cur strings.Builder
		in := 0
		err := a.walk("xl/sharedStrings.xml", func(tok xml.Token) bool {
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
		b.heading(1, sh.name)
		var row []string
		var val strings.Builder
		cellType, inValue, over := "", false, false
		err = a.walk(sh.member, func(tok xml.Token) bool {
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
	return &Parsed{Title: a.title("docProps/core.xml"), Sections: b.result()}, nil
}

type xlsxSheet struct{ name, member string }

// xlsxSheets returns the worksheets in workbook order, through the workbook's
// relationships.
func xlsxSheets(a *officeArchive) ([]xlsxSheet, error) {
	targets := map[string]string{}
	if a.files["xl/_rels/workbook.xml.rels"] != nil {
		a.walk("xl/_rels/workbook.xml.rels", func(tok xml.Token) bool {
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
	err := a.walk("xl/workbook.xml", func(tok xml.Token) bool {
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
	opfPath := ""
	err = a.walk("META-INF/container.xml", func(tok xml.Token) bool {
		if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "rootfile" {
			opfPath = xmlAttr(t, "full-path")
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
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
