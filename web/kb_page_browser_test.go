package web_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/go-pdf/fpdf"
)

// A cited passage of a PDF shows its page on the Knowledge page: in the list of
// sources under the answer, in the mark's title and in the source panel. A passage
// of a text document shows none.
func TestBrowserKnowledgeCitesPages(t *testing.T) {
	a := newApp(t, appOptions{kb: "local"})
	openKnowledge(a)
	f := fpdf.New("P", "mm", "A4", "")
	f.SetTitle("Keeper's log", true)
	f.SetFont("Helvetica", "", 12)
	for _, text := range []string{
		"The keeper logs the weather at dawn and at dusk.",
		"The keeper winds the clockwork of the lens every four hours through the night.",
	} {
		f.AddPage()
		f.MultiCell(0, 6, text, "", "", false)
	}
	var pdf bytes.Buffer
	if err := f.Output(&pdf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "log.pdf")
	if err := os.WriteFile(path, pdf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	a.upload(path, writeFile(t, "lighthouse.md", lighthouseMD))

	a.askKB("How often does the keeper wind the clockwork of the lens?", 1)
	sources := eval[[]string](a, `[...`+lastKBAnswer+`.querySelectorAll('ol.sources li .source-button')].map(b => b.textContent)`)
	if len(sources) == 0 || sources[0] != "1Keeper's logp. 2" {
		t.Fatalf("sources %q, want the log's passage first with p. 2", sources)
	}
	for _, s := range sources[1:] {
		if strings.Contains(s, "Lighthouse keeping") && strings.Contains(s, "p. ") {
			t.Errorf("a Markdown source shows a page: %q", s)
		}
	}
	if got := eval[string](a, lastKBAnswer+`.querySelector('.answer-body button.cite[data-n="1"]')?.title`); got != "Keeper's log, p. 2" {
		t.Errorf("mark [1] title = %q, want the page with the title", got)
	}
	a.do("open source 1", chromedp.Evaluate[chromedp.Void](lastKBAnswer+`.querySelector('ol.sources .source-button').click()`))
	a.waitFor("the source panel", `!document.getElementById('source-panel').hidden`)
	if got := eval[string](a, `document.querySelector('#source-panel .source-label').textContent`); got != "Source 1 · p. 2" {
		t.Errorf("panel label = %q", got)
	}
}
