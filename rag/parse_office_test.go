package rag

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"genai"
)

// zipOf writes an archive of the given members, in order.
func zipOf(t *testing.T, members ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(members); i += 2 {
		w, err := zw.Create(members[i])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(members[i+1]))
	}
	zw.Close()
	return buf.Bytes()
}

func parseFile(t *testing.T, name string, data []byte) *Parsed {
	t.Helper()
	if data == nil {
		var err error
		if data, err = os.ReadFile("testdata/office/" + name); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Parse(context.Background(), name, data, ParseLimits{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sectionWith returns the section whose text holds s, or fails.
func sectionWith(t *testing.T, p *Parsed, s string) Section {
	t.Helper()
	for _, sec := range p.Sections {
		if strings.Contains(sec.Text, s) {
			return sec
		}
	}
	t.Fatalf("no section holds %q: %+v", s, p.Sections)
	return Section{}
}

// paragraphs returns the paragraphs of all sections.
func paragraphs(p *Parsed) []string {
	var out []string
	for _, s := range p.Sections {
		out = append(out, strings.Split(s.Text, "\n\n")...)
	}
	return out
}

// TestParseOfficeFiles reads files LibreOffice wrote (DOCX, ODT, XLSX from
// testdata/office/notes.html and figures.csv) and hand-made PPTX and EPUB: their
// headings become heading paths, list items keep a "- ", and each table row is one
// paragraph of its cells.
func TestParseOfficeFiles(t *testing.T) {
	for _, name := range []string{"notes.docx", "notes.odt"} {
		t.Run(name, func(t *testing.T) {
			p := parseFile(t, name, nil)
			if p.Title != "Field notes" {
				t.Errorf("title %q", p.Title)
			}
			if s := sectionWith(t, p, "Northern territories"); !slices.Contains(s.Headings, "Quarterly figures") {
				t.Errorf("the table is under %q, want Quarterly figures", s.Headings)
			}
			paras := paragraphs(p)
			for _, want := range []string{
				"Northern territories | 1200 | four percent",
				"- First bullet mentions lighthouses and breakwaters.",
			} {
				if !slices.Contains(paras, want) {
					t.Errorf("no paragraph %q in %q", want, paras)
				}
			}
			if s := sectionWith(t, p, "reproducible measurements"); !strings.Contains(s.Text, "The official offices of the fifth affiliated fisheries office") {
				t.Errorf("text %q", s.Text)
			}
		})
	}
	t.Run("figures.xlsx", func(t *testing.T) {
		p := parseFile(t, "figures.xlsx", nil)
		if len(p.Sections) != 1 || !slices.Equal(p.Sections[0].Headings, []string{"figures"}) ||
			!slices.Contains(paragraphs(p), "Southern provinces, coast | 3400 | seven percent") {
			t.Errorf("sections %+v", p.Sections)
		}
	})
	t.Run("figures.csv", func(t *testing.T) {
		p := parseFile(t, "figures.csv", nil)
		want := []string{"Region: Northern territories | Revenue: 1200 | Growth: four percent", "Region: Southern provinces, coast | Revenue: 3400 | Growth: seven percent"}
		if got := paragraphs(p); !slices.Equal(got, want) {
			t.Errorf("paragraphs %q, want %q", got, want)
		}
	})
	t.Run("slides.pptx", func(t *testing.T) {
		slide := func(title, body string) string {
			return `<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>` +
				`<p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>` + title + `</a:t></a:r></a:p></p:txBody></p:sp>` +
				`<p:sp><p:nvSpPr><p:nvPr><p:ph idx="1"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>` + body + `</a:t></a:r><a:r><a:t> continued.</a:t></a:r></a:p></p:txBody></p:sp>` +
				`</p:spTree></p:cSld></p:sld>`
		}
		data := zipOf(t, "[Content_Types].xml", "<Types/>",
			"ppt/slides/slide10.xml", slide("Results", "Revenue rose"),
			"ppt/slides/slide2.xml", slide("Agenda", "Welcome and plan"))
		p := parseFile(t, "slides.pptx", data)
		if len(p.Sections) != 2 || p.Sections[0].Page != 1 || !slices.Equal(p.Sections[0].Headings, []string{"Agenda"}) ||
			p.Sections[0].Text != "Welcome and plan continued." || p.Sections[1].Page != 2 || p.Sections[1].Headings[0] != "Results" {
			t.Errorf("sections %+v", p.Sections)
		}
	})
	t.Run("book.epub", func(t *testing.T) {
		data := zipOf(t, "mimetype", "application/epub+zip",
			"META-INF/container.xml", `<container><rootfiles><rootfile full-path="OEBPS/content.opf"/></rootfiles></container>`,
			"OEBPS/content.opf", `<package><metadata><dc:title xmlns:dc="dc">The Book</dc:title></metadata><manifest>`+
				`<item id="c1" href="one.xhtml"/><item id="c2" href="two.xhtml"/></manifest><spine><itemref idref="c2"/><itemref idref="c1"/></spine></package>`,
			"OEBPS/one.xhtml", `<html><body><h1>Chapter Two</h1><p>The second part comes later in the spine.</p></body></html>`,
			"OEBPS/two.xhtml", `<html><body><h1>Chapter One</h1><p>The spine puts this first.</p></body></html>`)
		p := parseFile(t, "book.epub", data)
		if p.Title != "The Book" || len(p.Sections) != 2 || p.Sections[0].Headings[0] != "Chapter One" || p.Sections[1].Text != "The second part comes later in the spine." {
			t.Errorf("title %q, sections %+v", p.Title, p.Sections)
		}
	})
}

// TestParseOfficeBombs refuses archives whose parts inflate past the limit and
// files that are not the archives their names say.
func TestParseOfficeBombs(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("word/document.xml")
	zeros := make([]byte, 1<<20)
	for range 300 { // 300 MiB of zeros, about 300 KB compressed
		w.Write(zeros)
	}
	zw.Close()
	_, err := Parse(context.Background(), "bomb.docx", buf.Bytes(), ParseLimits{})
	checkFileError(t, err, "bomb.docx", genai.ETOOLARGE, "decompression bomb")
	_, err = Parse(context.Background(), "fake.xlsx", []byte("just text"), ParseLimits{})
	checkFileError(t, err, "fake.xlsx", genai.EINVALID, "not a valid XLSX file")
}

// TestParseOfficeLayoutTables reads pages laid out in a table, as LibreOffice writes
// an HTML page whose body is one big table cell: the text around a table nested in
// the cell is kept (not lost with the outer row), the headings in the cell are
// headings, the nested table's rows are rows, and a DOCX's field codes and the names
// of an ODT's images are not text.
func TestParseOfficeLayoutTables(t *testing.T) {
	docx := zipOf(t, "word/document.xml", `<w:document xmlns:w="w"><w:body><w:tbl><w:tr><w:tc>`+
		`<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Transform module</w:t></w:r></w:p>`+
		`<w:p><w:r><w:instrText>HYPERLINK "index.html"</w:instrText></w:r><w:r><w:t>Before the table.</w:t></w:r></w:p>`+
		`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>ctxt</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>the context</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`+
		`<w:p><w:r><w:t>After the table.</w:t></w:r><w:r><w:delText>Deleted words.</w:delText></w:r></w:p>`+
		`</w:tc></w:tr></w:tbl></w:body></w:document>`)
	odt := zipOf(t, "content.xml", `<office:document-content xmlns:office="o" xmlns:text="t" xmlns:table="b" xmlns:draw="d" xmlns:svg="s"><office:body><office:text>`+
		`<table:table><table:table-row><table:table-cell>`+
		`<text:h text:outline-level="1">Transform module</text:h>`+
		`<text:p>Before <draw:frame><draw:image/><svg:title>Logo image</svg:title></draw:frame>the table.</text:p>`+
		`<table:table><table:table-row><table:table-cell><text:p>ctxt</text:p></table:table-cell><table:table-cell><text:p>the context</text:p></table:table-cell></table:table-row></table:table>`+
		`<text:p>After the table.</text:p>`+
		`</table:table-cell></table:table-row></table:table></office:text></office:body></office:document-content>`)
	for name, data := range map[string][]byte{"layout.docx": docx, "layout.odt": odt} {
		t.Run(name, func(t *testing.T) {
			p := parseFile(t, name, data)
			want := []string{"Before the table.", "ctxt | the context", "After the table."}
			if len(p.Sections) != 1 || !slices.Equal(p.Sections[0].Headings, []string{"Transform module"}) || !slices.Equal(paragraphs(p), want) {
				t.Errorf("sections %+v, want one under Transform module with paragraphs %q", p.Sections, want)
			}
		})
	}
}
