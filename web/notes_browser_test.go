package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"genai"
)

// The Notes page and the workshop's vector-database pages, against the real server with
// the embedded store and the local embedder (see newNotes).

// noteItem is the list item of the note titled title in the list with the given id.
func noteItem(list, title string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#%s li.note')].find(li => li.querySelector('.note-title').textContent === %q)`, list, title)
}

// addNote fills the Notes page's form and waits for the note at the top of the list.
func (a *app) addNote(title, link, text string) {
	a.t.Helper()
	a.do("fill the note form",
		fill("note-title", title),
		fill("note-link", link),
		fill("note-text", text),
		chromedp.Click(chromedp.ID("add")))
	a.waitFor("the new note at the top of the list",
		fmt.Sprintf(`document.querySelector('#notes li.note .note-title')?.textContent === %q && document.getElementById('add-status').textContent.startsWith('Added')`, title))
}

// search runs a search in the given mode and waits for its summary.
func (a *app) search(query, mode string) {
	a.t.Helper()
	a.do("search "+mode,
		chromedp.Click(chromedp.CSS(`label[for="mode-`+mode+`"]`)),
		fill("query", query),
		chromedp.Click(chromedp.ID("search")))
	a.waitFor("the "+mode+" search to finish",
		fmt.Sprintf(`document.getElementById('search-status').textContent.includes(%q) && document.getElementById('hits').getAttribute('aria-busy') === 'false'`, "· "+mode))
}

// fill sets the value of the field with the given id (chromedp.SetValue refuses "").
func fill(id, value string) chromedp.Action[chromedp.Void] {
	b, _ := json.Marshal(value)
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).value = %s`, id, b))
}

func openNotes(a *app) {
	a.t.Helper()
	a.do("open the notes page", chromedp.Navigate(a.url+"/notes"), chromedp.WaitVisible(chromedp.ID("query")))
}

func TestBrowserNotesAddSearchDelete(t *testing.T) {
	a := newApp(t, appOptions{notes: true})
	openNotes(a)
	a.waitFor("the empty list", `document.querySelector('#list-status .empty-note')`)
	a.waitFor("the embedder and store", `document.getElementById('store-info').textContent.includes('Store sqlite') && document.getElementById('store-info').textContent.includes('Embedder ')`)
	if got := eval[string](a, `document.querySelector('a[aria-current="page"]').getAttribute('href')`); got != "/notes" {
		t.Errorf("current page in the nav = %q", got)
	}

	a.addNote("Sourdough starter", "https://example.com/bread?x=1", "Feed the starter every day with equal weights of flour and water.")
	a.addNote("Tide tables", "", "High water at the harbour comes about fifty minutes later each day.")
	if n := eval[int](a, `document.querySelectorAll('#notes li.note').length`); n != 2 {
		t.Fatalf("%d notes listed, want 2", n)
	}
	if got := eval[string](a, `document.querySelector('#notes li.note .note-title').textContent`); got != "Tide tables" {
		t.Errorf("first listed note = %q, want the newest", got)
	}
	a.waitFor("the form to be cleared", `document.getElementById('note-text').value === ''`)

	item := noteItem("hits", "Sourdough starter")
	for _, mode := range []string{"hybrid", "semantic", "title"} {
		a.search("sourdough starter", mode)
		a.waitFor(mode+" finds the note first", `document.querySelector('#hits li.note .note-title')?.textContent === 'Sourdough starter'`)
		score := eval[string](a, item+`.querySelector('.score').textContent`)
		if !scorePattern(score) {
			t.Errorf("%s: score shown as %q, want a number with 3 decimals", mode, score)
		}
		marks := eval[[]string](a, `[...`+item+`.querySelectorAll('.note-title mark, .note-text mark')].map(m => m.textContent.toLowerCase())`)
		if strings.Join(marks, ",") != "sourdough,starter,starter" {
			t.Errorf("%s: highlighted %q, want sourdough and starter in the title and starter in the text", mode, marks)
		}
	}
	if got := eval[string](a, `document.querySelector('#hits .note-title').textContent`); got != "Sourdough starter" {
		t.Errorf("highlighting changed the title's text: %q", got)
	}
	link := eval[[]string](a, `(l => [l.href, l.rel, l.target])(`+item+`.querySelector('a.note-link'))`)
	if want := []string{"https://example.com/bread?x=1", "noopener noreferrer", "_blank"}; strings.Join(link, " ") != strings.Join(want, " ") {
		t.Errorf("link = %q, want %q", link, want)
	}
	if n := eval[int](a, noteItem("notes", "Tide tables")+`.querySelectorAll('a').length`); n != 0 {
		t.Errorf("a note without a link shows %d links", n)
	}

	// Delete asks first; Cancel keeps the note.
	listed := noteItem("notes", "Sourdough starter")
	a.do("click Delete", chromedp.Evaluate[chromedp.Void](listed+`.querySelector('button.delete').click()`))
	a.waitFor("the confirmation", listed+`.querySelector('.confirm-question')`)
	a.do("cancel", chromedp.Evaluate[chromedp.Void](listed+`.querySelector('button.confirm-cancel').click()`))
	a.waitFor("the Delete button again", listed+`.querySelector('button.delete')`)
	a.do("click Delete", chromedp.Evaluate[chromedp.Void](listed+`.querySelector('button.delete').click()`))
	a.do("confirm", chromedp.Evaluate[chromedp.Void](listed+`.querySelector('button.confirm-delete').click()`))
	a.waitFor("the note gone from the list and the hits", `!`+listed+` && !`+item)

	notes, _, err := a.notes.Store.ListNotes(context.Background(), 10, "")
	if err != nil || len(notes) != 1 || notes[0].Title != "Tide tables" {
		t.Fatalf("store after delete: %v, %v; want only Tide tables", notes, err)
	}
	a.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("query")))
	a.waitFor("one note after reload", `document.querySelectorAll('#notes li.note').length === 1 && `+noteItem("notes", "Tide tables"))
}

func scorePattern(s string) bool {
	var f float64
	_, err := fmt.Sscanf(s, "%f", &f)
	dot := strings.IndexByte(s, '.')
	return err == nil && dot >= 0 && len(s)-dot-1 == 3
}

func TestBrowserNotesShowStoredTextAsText(t *testing.T) {
	a := newApp(t, appOptions{notes: true})
	openNotes(a)
	const text = `<img src=x onerror=alert(1)> and <img src=y onerror="window.__xss='text'"> <script>window.__xss='script'</script>`
	const title = `<b onmouseover="window.__xss='title'">bold</b> img`
	a.addNote(title, "", text)
	a.search("img onerror", "hybrid")
	a.waitFor("the hit", `document.querySelectorAll('#hits li.note').length === 1`)

	for _, list := range []string{"notes", "hits"} {
		got := eval[string](a, `document.querySelector('#`+list+` li.note .note-text').textContent`)
		if got != text {
			t.Errorf("#%s shows the text as %q, want it literally", list, got)
		}
		if got := eval[string](a, `document.querySelector('#`+list+` li.note .note-title').textContent`); got != title {
			t.Errorf("#%s shows the title as %q, want it literally", list, got)
		}
	}
	if n := eval[int](a, `document.querySelectorAll('main img, main script, main b, main [onerror], main [onmouseover]').length`); n != 0 {
		t.Errorf("%d elements made from stored text; want none", n)
	}
	if n := eval[int](a, `document.querySelectorAll('#hits mark').length`); n < 3 {
		t.Errorf("%d <mark>s in the hit; want img and onerror highlighted", n)
	}
	if got := eval[string](a, `String(window.__xss)`); got != "undefined" {
		t.Errorf("stored text ran script: window.__xss = %s", got)
	}
}

func TestBrowserNotesLoadMore(t *testing.T) {
	a := newApp(t, appOptions{notes: true})
	for i := range 25 {
		if _, err := a.notes.Add(context.Background(), []genai.Note{{Title: fmt.Sprintf("Note %02d", i+1), Text: "Text of a note."}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // IDs order by the millisecond
	}
	openNotes(a)
	a.waitFor("the first page", `document.querySelectorAll('#notes li.note').length === 20 && !document.getElementById('more').hidden`)
	if got := eval[string](a, `document.querySelector('#notes .note-title').textContent`); got != "Note 25" {
		t.Errorf("first note = %q, want the newest, Note 25", got)
	}
	a.do("load more", chromedp.Click(chromedp.ID("more")))
	a.waitFor("all notes", `document.querySelectorAll('#notes li.note').length === 25 && document.getElementById('more').hidden`)
	if got := eval[string](a, `[...document.querySelectorAll('#notes .note-title')].pop().textContent`); got != "Note 01" {
		t.Errorf("last note = %q, want the oldest, Note 01", got)
	}
}

func TestBrowserNotesShowServerErrors(t *testing.T) {
	a := newApp(t, appOptions{notes: true})
	openNotes(a)
	// Text the server refuses (over its limit) is reported with the server's message,
	// and what was typed is kept.
	a.do("add a note with an over-long link",
		fill("note-link", strings.Repeat("l", 3000)),
		fill("note-text", "some text"),
		chromedp.Click(chromedp.ID("add")))
	a.waitFor("the server's message", `document.querySelector('#add-error .error-box')?.textContent.includes('link: 3000 bytes, over the limit')`)
	if n := eval[int](a, `document.querySelectorAll('#notes li.note').length`); n != 0 {
		t.Errorf("%d notes listed after a refused note", n)
	}
	if got := eval[string](a, `document.getElementById('note-text').value`); got != "some text" {
		t.Errorf("the form lost what was typed: %q", got)
	}
	// Any link text is kept; only http(s) links become links.
	a.do("add a note whose link is a path",
		fill("note-link", "docs/tea.md"),
		fill("note-text", "a note about tea"),
		chromedp.Click(chromedp.ID("add")))
	a.waitFor("the note with its link as text", `[...document.querySelectorAll('#notes li.note span.note-link')].some(e => e.textContent === 'docs/tea.md') && !document.querySelector('#notes li.note a.note-link')`)
	// White space only is refused in the page, with the rule's message.
	a.do("add blank text", fill("note-link", ""), fill("note-text", "   "), chromedp.Click(chromedp.ID("add")))
	a.waitFor("the text rule", `document.querySelector('#add-error .error-box')?.textContent.includes('text: required')`)
}

func TestBrowserWorkshopIndexThenQuery(t *testing.T) {
	a := newApp(t, appOptions{notes: true})
	a.do("open the index page", chromedp.Navigate(a.url+"/aoss-index"), chromedp.WaitVisible(chromedp.ID("text")))
	a.do("index a note",
		fill("title", "Lighthouse keeping"),
		fill("link", "https://example.com/light"),
		fill("text", "Trim the wick and polish the lens before dusk."),
		chromedp.Click(chromedp.ID("submit")))
	a.waitFor("the result", `document.getElementById('result').textContent.includes('created') && document.getElementById('result-section').getAttribute('aria-busy') === 'false'`)
	notes, _, err := a.notes.Store.ListNotes(context.Background(), 10, "")
	if err != nil || len(notes) != 1 || notes[0].Title != "Lighthouse keeping" || notes[0].Link != "https://example.com/light" {
		t.Fatalf("store after /aoss-index: %+v, %v", notes, err)
	}

	a.do("open the query page", chromedp.Navigate(a.url+"/aoss-query"), chromedp.WaitVisible(chromedp.ID("query")))
	a.do("query", chromedp.SendKeys(chromedp.ID("query"), "lighthouse"+kb.Enter))
	a.waitFor("the hit", `document.querySelector('#result li.note .note-title')?.textContent === 'Lighthouse keeping'`)
	if got := eval[string](a, `document.querySelector('#result li.note .note-title mark')?.textContent`); got != "Lighthouse" {
		t.Errorf("highlighted %q in the title, want Lighthouse", got)
	}
}

func TestBrowserNotesPagesOnPhone(t *testing.T) {
	a := newApp(t, appOptions{notes: true, windowSize: [2]int{390, 844}})
	a.do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	long := strings.Repeat("https://example.com/a/very/long/path/", 4)
	if _, err := a.notes.Add(context.Background(), []genai.Note{{Title: strings.Repeat("Unbroken", 12), Link: long, Text: strings.Repeat("word", 200)}}); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"/notes", "/aoss-index", "/aoss-query"} {
		a.do("open "+page, chromedp.Navigate(a.url+page), chromedp.WaitVisible(chromedp.CSS("nav")))
		if page == "/notes" {
			a.waitFor("the note", `document.querySelectorAll('#notes li.note').length === 1`)
		}
		if w := eval[int](a, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s is %dpx wider than a 390px phone screen", page, w)
		}
		checkTopbarOnPhone(a, page)
	}
}
