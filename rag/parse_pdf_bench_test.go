package rag

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"genai/pdfium"
)

// pdfWords counts the words of 4 letters or more in text, lower-cased: the measure by
// which extracted text is compared with Poppler's. A word glued to its neighbour or
// split in two does not match.
func pdfWords(text string) map[string]int {
	words := map[string]int{}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if len([]rune(w)) >= 4 {
			words[strings.ToLower(w)]++
		}
	}
	return words
}

// pdfWordMatch returns how many words (with multiplicity) ours and ref share, and
// their totals.
func pdfWordMatch(ours, ref map[string]int) (match, nOurs, nRef int) {
	for w, n := range ref {
		nRef += n
		match += min(n, ours[w])
	}
	for _, n := range ours {
		nOurs += n
	}
	return match, nOurs, nRef
}

// BenchmarkPDFText compares Parse's text of each PDF in $GENAI_PDF_CORPUS with
// Poppler's pdftotext on the same file, in the same run: word recall and precision per
// file and overall, and pages per second of each. The text compared is Parse's
// sections (what chunks are cut from, before their overlap).
//
//	GENAI_PDF_CORPUS=/path/to/pdfs go test -run '^$' -bench PDFText -benchtime 1x ./rag/
func BenchmarkPDFText(b *testing.B) {
	dir := os.Getenv("GENAI_PDF_CORPUS")
	if dir == "" {
		b.Skip("set GENAI_PDF_CORPUS to a folder of PDFs to compare with pdftotext")
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		b.Skip("pdftotext (Debian's poppler-utils) is not installed; it is the reference")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	sort.Strings(files)
	if len(files) == 0 {
		b.Skipf("no PDFs in %s", dir)
	}
	if _, err := pdfium.Default(); err != nil { // compiling the engine is not reading
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		var match, nOurs, nRef, pages int
		var oursTime, refTime time.Duration
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			ref, err := exec.Command("pdftotext", "-enc", "UTF-8", f, "-").Output()
			if err != nil {
				b.Fatalf("pdftotext %s: %v", f, err)
			}
			refTime += time.Since(start)
			start = time.Now()
			p, err := Parse(ctx, filepath.Base(f), data, ParseLimits{})
			oursTime += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			var text strings.Builder
			for _, s := range p.Sections {
				text.WriteString(s.Text)
				text.WriteString("\n")
			}
			n := bytes.Count(ref, []byte("\f"))
			m, o, r := pdfWordMatch(pdfWords(text.String()), pdfWords(string(ref)))
			fmt.Printf("%-28s %4d pages  words %6d  recall %.3f  precision %.3f\n", filepath.Base(f), n, r, float64(m)/float64(max(r, 1)), float64(m)/float64(max(o, 1)))
			match, nOurs, nRef, pages = match+m, nOurs+o, nRef+r, pages+n
		}
		recall, precision := float64(match)/float64(max(nRef, 1)), float64(match)/float64(max(nOurs, 1))
		oursRate, refRate := float64(pages)/oursTime.Seconds(), float64(pages)/refTime.Seconds()
		fmt.Printf("ALL %d files, %d pages: recall %.3f precision %.3f; genai %.0f pages/s, pdftotext %.0f pages/s, ratio %.2f\n",
			len(files), pages, recall, precision, oursRate, refRate, oursRate/refRate)
		b.ReportMetric(recall, "recall")
		b.ReportMetric(precision, "precision")
		b.ReportMetric(oursRate, "pages/s")
		b.ReportMetric(refRate, "pdftotext-pages/s")
		b.ReportMetric(oursRate/refRate, "speed-ratio")
	}
}
