package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserKnowledgeExtractedText opens a document's extracted text on the Knowledge
// page: its chunks in order, each with its heading path, as text.
func TestBrowserKnowledgeExtractedText(t *testing.T) {
	a := newApp(t, appOptions{kb: "local"})
	openKnowledge(a)
	a.upload(writeFile(t, "lighthouse.md", lighthouseMD+"\nThe <b>brass</b> is polished on Sundays.\n"))
	a.waitFor("the document", `document.querySelectorAll('#documents li.doc').length === 1`)
	a.do("open its text", chromedp.Evaluate[chromedp.Void](`document.querySelector('#documents li.doc details.doc-text summary').click()`))
	a.waitFor("its chunks", `document.querySelectorAll('#documents .doc-chunk').length > 0`)
	where := eval[string](a, `[...document.querySelectorAll('#documents .doc-chunk .chunk-where')].map(p => p.textContent).join('\n')`)
	text := eval[string](a, `[...document.querySelectorAll('#documents .doc-chunk .chunk-text')].map(p => p.textContent).join('\n')`)
	if !strings.HasPrefix(where, "Chunk 1 · Lighthouse keeping") || !strings.Contains(where, "Lighthouse keeping › Fog") {
		t.Errorf("chunk labels %q, want numbered chunks with heading paths", where)
	}
	if !strings.Contains(text, "The keeper trims the wick") || !strings.Contains(text, "sounds the horn every thirty seconds") ||
		strings.Index(text, "trims the wick") > strings.Index(text, "sounds the horn") {
		t.Errorf("chunk text %q, want the document's passages in order", text)
	}
	if n := eval[int](a, `document.querySelectorAll('#documents .doc-chunk b').length`); n != 0 {
		t.Errorf("%d elements made from the document's text; want none", n)
	}
}
