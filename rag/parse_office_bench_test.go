package rag

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// officeSources are the real texts the Office corpus is made from: Debian's
// documentation, with headings, lists, code and tables. The ones marked sheet have
// tables enough to be imported as spreadsheets too.
var officeSources = []struct {
	path  string
	sheet bool
}{
	{"/usr/share/doc/python3/python-policy.html", false},                   // headings, lists
	{"/usr/share/doc/zlib1g-dev/examples/zlib_how.html", false},            // prose, code
	{"/usr/share/doc/libxslt1-dev/html/html/libxslt-transform.html", true}, // headings, tables
	{"/usr/share/doc/groff-base/html/pic-21.html", true},                   // tables
	{"/usr/share/doc/groff-base/html/mom/headfootpage.html", false},        // lists, tables
}

// officeRefs says how LibreOffice's own text of each format is made: the export
// filter, run on the file itself, or (EPUB, which LibreOffice writes but cannot
// read) on the ODT it was written from. Sheets have no text filter: their CSV export
// is the text. Presentations have neither: they are exported to PDF, whose text
// pdftotext reads.
var officeRefs = []struct{ ext, convertTo, from string }{
	{".odt", "txt:Text", ".odt"},
	{".docx", "txt:Text", ".docx"},
	{".epub", "txt:Text", ".odt"},
	{".xlsx", `csv:Text - txt - csv (StarCalc):44,34,76,1`, ".xlsx"},
	{".csv", `csv:Text - txt - csv (StarCalc):44,34,76,1`, ".csv"},
	{".pptx", "pdf:impress_pdf_Export", ".pptx"},
}

// BenchmarkOfficeText compares Parse's text of each Office file in
// $GENAI_OFFICE_CORPUS with LibreOffice's own export of it (see officeRefs), in the
// same run: word recall and precision per file and overall (the measure of
// BenchmarkPDFText), and the time of each per format. soffice's time is one process
// per format, start-up included, as a user converting a folder would run it.
//
// When the folder has no Office files, it is filled first: officeSources converted by
// LibreOffice (soffice, Debian's libreoffice package) into ODT, DOCX and EPUB, the
// tabular ones into XLSX and CSV through Calc's HTML import, and each text's
// sections made into slides (flat ODP) that LibreOffice writes as PPTX.
//
//	GENAI_OFFICE_CORPUS=/tmp/officecorpus go test -run '^$' -bench OfficeText -benchtime 1x ./rag/
func BenchmarkOfficeText(b *testing.B) {
	dir := os.Getenv("GENAI_OFFICE_CORPUS")
	if dir == "" {
		b.Skip("set GENAI_OFFICE_CORPUS to a folder of files LibreOffice wrote (an empty one is filled)")
	}
	if _, err := exec.LookPath("soffice"); err != nil {
		b.Skip("soffice (Debian's libreoffice) is not installed; it is the reference")
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		b.Skip("pdftotext (Debian's poppler-utils) is not installed; it reads the presentations' reference")
	}
	lo := &soffice{profile: b.TempDir()}
	files := officeCorpus(dir)
	if len(files) == 0 {
		if err := lo.makeCorpus(b, dir); err != nil {
			b.Fatal(err)
		}
		files = officeCorpus(dir)
	}
	if len(files) == 0 {
		b.Fatalf("no Office files in %s", dir)
	}
	ctx := context.Background()
	for b.Loop() {
		refDir := b.TempDir()
		var score wordScore
		var oursAll, refAll time.Duration
		for _, ref := range officeRefs {
			var of []string
			for _, f := range files {
				if filepath.Ext(f) == ref.ext {
					of = append(of, f)
				}
			}
			if len(of) == 0 {
				continue
			}
			out := filepath.Join(refDir, ref.ext[1:])
			var from []string
			for _, f := range of {
				from = append(from, strings.TrimSuffix(f, ref.ext)+ref.from)
			}
			refTime, err := lo.convert(out, ref.convertTo, "", from...)
			if err != nil {
				b.Fatal(err)
			}
			var oursTime time.Duration
			for _, f := range of {
				data, err := os.ReadFile(f)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				p, err := Parse(ctx, filepath.Base(f), data, ParseLimits{})
				oursTime += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				stem := strings.TrimSuffix(filepath.Base(f), ref.ext)
				var refText []byte
				if strings.HasPrefix(ref.convertTo, "pdf") {
					start := time.Now()
					refText, err = exec.Command("pdftotext", "-enc", "UTF-8", filepath.Join(out, stem+".pdf"), "-").Output()
					refTime += time.Since(start)
				} else {
					name := stem + ".txt"
					if strings.HasPrefix(ref.convertTo, "csv") {
						name = stem + ".csv"
					}
					refText, err = os.ReadFile(filepath.Join(out, name))
				}
				if err != nil {
					b.Fatalf("the reference text of %s: %v", f, err)
				}
				score.add(fmt.Sprintf("%-40s", filepath.Base(f)), parsedTextHeadings(p), string(refText))
			}
			fmt.Printf("  %-5s %d files: genai %.3fs, soffice %.3fs, speed ratio %.0f\n", ref.ext, len(of), oursTime.Seconds(), refTime.Seconds(), refTime.Seconds()/oursTime.Seconds())
			oursAll, refAll = oursAll+oursTime, refAll+refTime
		}
		recall, precision := score.total()
		fmt.Printf("ALL %d files: recall %.3f precision %.3f; genai %.3fs, soffice %.3fs, speed ratio %.0f\n",
			len(files), recall, precision, oursAll.Seconds(), refAll.Seconds(), refAll.Seconds()/oursAll.Seconds())
		b.ReportMetric(recall, "recall")
		b.ReportMetric(precision, "precision")
		b.ReportMetric(refAll.Seconds()/oursAll.Seconds(), "speed-ratio")
	}
}

// officeCorpus returns the files of dir that BenchmarkOfficeText compares.
func officeCorpus(dir string) []string {
	var files []string
	for _, ref := range officeRefs {
		f, _ := filepath.Glob(filepath.Join(dir, "*"+ref.ext))
		files = append(files, f...)
	}
	slices.Sort(files)
	return files
}

// soffice runs LibreOffice headless with a profile of its own, so that it neither
// waits for nor disturbs another soffice of the same user.
type soffice struct {
	profile string
	warm    bool
}

// convert converts files into dir with LibreOffice's --convert-to (and --infilter
// when set), one process for all, and returns the time it took.
func (lo *soffice) convert(dir, convertTo, infilter string, files ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"-env:UserInstallation=file://" + lo.profile, "--headless", "--norestore"}
	if infilter != "" {
		args = append(args, "--infilter="+infilter)
	}
	args = append(append(args, "--convert-to", convertTo, "--outdir", dir), files...)
	if !lo.warm {
		// The first run makes the profile, which is not converting.
		if out, err := exec.CommandContext(ctx, "soffice", append(args[:3:3], "--terminate_after_init")...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("soffice: %v: %s", err, out)
		}
		lo.warm = true
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, "soffice", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("soffice --convert-to %s: %v: %s", convertTo, err, out)
	}
	return time.Since(start), nil
}

// makeCorpus fills dir with files LibreOffice wrote from officeSources (see
// BenchmarkOfficeText); the sources and the slides' flat ODP go to dir/src.
func (lo *soffice) makeCorpus(b *testing.B, dir string) error {
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	var texts, sheets, slides []string
	for _, s := range officeSources {
		data, err := os.ReadFile(s.path)
		if err != nil {
			b.Logf("source %s left out: %v", s.path, err)
			continue
		}
		name := filepath.Join(src, filepath.Base(s.path))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
		texts = append(texts, name)
		if s.sheet {
			sheets = append(sheets, name)
		}
		p, err := Parse(context.Background(), name, data, ParseLimits{})
		if err != nil {
			return err
		}
		fodp := strings.TrimSuffix(name, ".html") + ".fodp"
		if err := os.WriteFile(fodp, flatODP(p), 0o644); err != nil {
			return err
		}
		slides = append(slides, fodp)
	}
	if len(texts) == 0 {
		return fmt.Errorf("none of the sources is installed (%s, ...)", officeSources[0].path)
	}
	var odts, odss []string
	for _, f := range texts {
		odts = append(odts, filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".html")+".odt"))
	}
	for _, f := range sheets {
		odss = append(odss, filepath.Join(src, strings.TrimSuffix(filepath.Base(f), ".html")+".ods"))
	}
	for _, c := range []struct {
		out, convertTo, infilter string
		files                    []string
	}{
		{dir, "odt:writer8", "HTML (StarWriter)", texts},
		{dir, "docx:MS Word 2007 XML", "", odts},
		{dir, "epub:EPUB", "", odts},
		{src, "ods:calc8", "HTML (StarCalc)", sheets},
		{dir, "xlsx:Calc MS Excel 2007 XML", "", odss},
		{dir, `csv:Text - txt - csv (StarCalc):44,34,76,1`, "", odss},
		{dir, "pptx:Impress MS PowerPoint 2007 XML", "", slides},
	} {
		if len(c.files) == 0 {
			continue
		}
		if _, err := lo.convert(c.out, c.convertTo, c.infilter, c.files...); err != nil {
			return err
		}
	}
	return nil
}

// flatODP writes a presentation of p's sections: a slide per heading's text (a
// long one over several), the heading its title, paragraphs and list items its
// body. LibreOffice reads flat ODP (one XML file), so no ZIP needs writing.
func flatODP(p *Parsed) []byte {
	esc := func(s string) string {
		var sb strings.Builder
		xml.EscapeText(&sb, []byte(s))
		return sb.String()
	}
	var out strings.Builder
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.presentation">
<office:automatic-styles><style:style style:name="P1" style:family="paragraph"><style:text-properties fo:font-size="9pt"/></style:style></office:automatic-styles>
<office:body><office:presentation>
`)
	n := 0
	slide := func(title string, paras []string) {
		n++
		fmt.Fprintf(&out, `<draw:page draw:name="s%d"><draw:frame presentation:class="title" svg:x="1cm" svg:y="0.5cm" svg:width="26cm" svg:height="2cm"><draw:text-box><text:p>%s</text:p></draw:text-box></draw:frame>`, n, esc(title))
		out.WriteString(`<draw:frame presentation:class="outline" svg:x="1cm" svg:y="3cm" svg:width="26cm" svg:height="16cm"><draw:text-box>`)
		for _, para := range paras {
			if item, ok := strings.CutPrefix(para, "- "); ok {
				fmt.Fprintf(&out, `<text:list><text:list-item><text:p text:style-name="P1">%s</text:p></text:list-item></text:list>`, esc(item))
			} else {
				fmt.Fprintf(&out, `<text:p text:style-name="P1">%s</text:p>`, esc(para))
			}
		}
		out.WriteString("</draw:text-box></draw:frame></draw:page>\n")
	}
	for _, s := range p.Sections {
		title := p.Title
		if len(s.Headings) > 0 {
			title = s.Headings[len(s.Headings)-1]
		}
		var paras []string
		size := 0
		for _, para := range strings.Split(s.Text, "\n\n") {
			if para = collapseSpace(para); para == "" {
				continue
			}
			if size+len(para) > 1200 && len(paras) > 0 {
				slide(title, paras)
				paras, size = nil, 0
			}
			paras, size = append(paras, para), size+len(para)
		}
		if len(paras) > 0 {
			slide(title, paras)
		}
	}
	out.WriteString("</office:presentation></office:body></office:document>\n")
	return []byte(out.String())
}
