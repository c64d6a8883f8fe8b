package rag

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"genai/pdfium"
)

// BenchmarkPDFText compares Parse's text of each PDF in $GENAI_PDF_CORPUS with
// Poppler's pdftotext on the same file, in the same run: word recall and precision per
// file and overall, and pages per second of each. The text compared is Parse's
// sections (what chunks are cut from, before their overlap).
//
// Speed is given twice: by the clock (pages per second, what a user waits), and by
// the CPU time each spent (of this process during Parse, including its other
// goroutines and the garbage collector; of the pdftotext process), which does not
// depend on what else the machine runs, but does not count parallel pages as a gain.
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
		var score wordScore
		var pages int
		var oursTime, refTime, oursCPU, refCPU time.Duration
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			cmd := exec.Command("pdftotext", "-enc", "UTF-8", f, "-")
			ref, err := cmd.Output()
			if err != nil {
				b.Fatalf("pdftotext %s: %v", f, err)
			}
			refTime += time.Since(start)
			refCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			start, cpu := time.Now(), processCPU()
			p, err := Parse(ctx, filepath.Base(f), data, ParseLimits{})
			oursTime += time.Since(start)
			oursCPU += processCPU() - cpu
			if err != nil {
				b.Fatal(err)
			}
			n := bytes.Count(ref, []byte("\f"))
			score.add(fmt.Sprintf("%-28s %4d pages", filepath.Base(f), n), parsedText(p), string(ref))
			pages += n
		}
		recall, precision := score.total()
		oursRate, refRate := float64(pages)/oursTime.Seconds(), float64(pages)/refTime.Seconds()
		fmt.Printf("ALL %d files, %d pages: recall %.3f precision %.3f; genai %.0f pages/s, pdftotext %.0f pages/s, ratio %.2f; CPU genai %.2fs, pdftotext %.2fs, ratio %.2f\n",
			len(files), pages, recall, precision, oursRate, refRate, oursRate/refRate, oursCPU.Seconds(), refCPU.Seconds(), refCPU.Seconds()/oursCPU.Seconds())
		b.ReportMetric(recall, "recall")
		b.ReportMetric(precision, "precision")
		b.ReportMetric(oursRate, "pages/s")
		b.ReportMetric(refRate, "pdftotext-pages/s")
		b.ReportMetric(oursRate/refRate, "speed-ratio")
		b.ReportMetric(refCPU.Seconds()/oursCPU.Seconds(), "cpu-ratio")
	}
}

// processCPU returns the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
