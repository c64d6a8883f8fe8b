package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"genai/bedrock/bedrocktest"
)

// The Knowledge page and the workshop's knowledge-base pages, against the real server
// with the local knowledge base: the embedded store, the local embedder, rag's ingestion
// and its extractive answers (no model), which are deterministic (see newKB).

const lighthouseMD = `# Lighthouse keeping

The keeper trims the wick and polishes the lens before dusk. A clean lens throws the beam twenty miles out to sea.

## Fog

In fog the keeper sounds the horn every thirty seconds. Ships count the blasts to know which station they hear.

## Stores

The lamp burns paraffin, and a spare mantle is kept in the store room below the lantern.
`

// writeFile writes a file into a temporary directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func openKnowledge(a *app) {
	a.t.Helper()
	a.do("open the knowledge page", chromedp.Navigate(a.url+"/knowledge"), chromedp.WaitVisible(chromedp.ID("question")))
	a.waitFor("the document list", `document.getElementById('documents').getAttribute('aria-busy') === 'false'`)
}

// upload picks files with the file input and waits until every upload row is finished.
func (a *app) upload(paths ...string) {
	a.t.Helper()
	a.do("choose files", chromedp.SetUploadFiles(chromedp.ID("files"), paths))
	a.waitFor("the uploads to finish", fmt.Sprintf(`(rows => rows.length >= %d && rows.every(li => li.dataset.state === 'done' || li.dataset.state === 'error'))([...document.querySelectorAll('#uploads li.upload')])`, len(paths)))
}

// ask types a question, presses Enter and waits for the n-th answer to finish.
func (a *app) askKB(question string, n int) {
	a.t.Helper()
	a.do("ask", chromedp.SendKeys(chromedp.ID("question"), question+kb.Enter))
	a.waitFor("answer "+fmt.Sprint(n), fmt.Sprintf(`document.querySelectorAll('#thread .kb-answer[aria-busy="false"]').length === %d && !document.getElementById('ask').hidden`, n))
}

const lastKBAnswer = `[...document.querySelectorAll('#thread .kb-answer')].pop()`

// recordAnswerRequests keeps the bodies the page posts to /api/kb/answer in
// window.__answerBodies.
func (a *app) recordAnswerRequests() {
	a.t.Helper()
	a.do("record requests", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__answerBodies = [];
		const f = window.fetch;
		window.fetch = (url, init) => {
			if (String(url).includes('/api/kb/answer')) window.__answerBodies.push(JSON.parse(init.body));
			return f(url, init);
		};
	})()`))
}

func TestBrowserKnowledgeUploadAskDelete(t *testing.T) {
	a := newApp(t, appOptions{kb: "local"})
	openKnowledge(a)
	a.waitFor("the empty list", `document.querySelector('#documents-status .empty-note')`)
	a.waitFor("the add-documents hint", `document.getElementById('ask-hint').classList.contains('warn')`)
	a.waitFor("the extractive mode note", `document.getElementById('ask-mode').textContent.includes('extractive')`)
	if got := eval[string](a, `document.querySelector('a[aria-current="page"]').getAttribute('href')`); got != "/knowledge" {
		t.Errorf("current page in the nav = %q", got)
	}

	md := writeFile(t, "lighthouse.md", lighthouseMD)
	key := writeFile(t, "report.key", "PK\x03\x04 not really")
	junk := writeFile(t, "junk.pdf", "this is not a PDF at all")
	a.upload(md, key, junk)

	docs, err := a.docs.ListDocuments(context.Background())
	if err != nil || len(docs) != 1 {
		t.Fatalf("store after upload: %d documents, %v; want the Markdown file only", len(docs), err)
	}
	doc := docs[0]
	item := fmt.Sprintf(`document.querySelector('#documents li.doc[data-id=%q]')`, doc.ID)
	a.waitFor("the document in the list", item)
	if got := eval[string](a, item+`.querySelector('.note-title').textContent`); got != "Lighthouse keeping" {
		t.Errorf("listed title = %q", got)
	}
	wantChunks := fmt.Sprintf("%d chunk", doc.Chunks)
	if got := eval[string](a, item+`.querySelector('.chunk-count').textContent`); !strings.HasPrefix(got, wantChunks) {
		t.Errorf("chunk count shown as %q, want %q…", got, wantChunks)
	}
	row := func(name string) string {
		return fmt.Sprintf(`[...document.querySelectorAll('#uploads li.upload')].find(li => li.querySelector('.upload-name').textContent === %q)`, name)
	}
	if got := eval[string](a, row("lighthouse.md")+`.querySelector('.upload-status').textContent`); got != "Added · "+wantChunks+map[bool]string{true: "", false: "s"}[doc.Chunks == 1] {
		t.Errorf("upload row says %q", got)
	}
	// The page refuses a type it knows the server does not read; the server refuses a
	// corrupt PDF. Each says why, for that file.
	if got := eval[string](a, row("report.key")+`.querySelector('.error-box').textContent`); !strings.Contains(got, "report.key") || !strings.Contains(got, "not a supported type") {
		t.Errorf("key row error = %q", got)
	}
	if got := eval[string](a, row("junk.pdf")+`?.dataset.state + ': ' + `+row("junk.pdf")+`?.querySelector('.error-box')?.textContent`); !strings.HasPrefix(got, "error: ") || !strings.Contains(got, "junk.pdf") {
		t.Errorf("junk.pdf row = %q, want a server error naming the file", got)
	}
	a.waitFor("the normal hint once there are documents", `!document.getElementById('ask-hint').classList.contains('warn')`)

	// Ask: an extractive answer citing the Markdown file.
	a.recordAnswerRequests()
	a.askKB("How often does the keeper sound the horn in fog?", 1)
	a.waitFor("the extractive label", lastKBAnswer+`.querySelector('.extractive-note')?.textContent.startsWith('Extractive answer')`)
	text := eval[string](a, lastKBAnswer+`.querySelector('.answer-body').textContent`)
	if !strings.Contains(text, "thirty seconds") {
		t.Errorf("answer %q does not quote the fog sentence", text)
	}
	if regexp.MustCompile(`\[\d+\]`).MatchString(text) {
		t.Errorf("answer %q still shows [n] marks as text; want them as buttons", text)
	}
	cites := eval[[]string](a, `[...`+lastKBAnswer+`.querySelectorAll('.answer-body button.cite')].map(b => b.dataset.n)`)
	if len(cites) == 0 {
		t.Fatalf("no citation buttons in the answer %q", text)
	}
	if n := eval[int](a, lastKBAnswer+`.querySelectorAll('ol.sources li').length`); n == 0 {
		t.Errorf("no sources listed under the answer")
	}

	// Clicking [n] opens the passage, as text; Escape closes it and gives the keyboard back.
	first := lastKBAnswer + `.querySelector('.answer-body button.cite')`
	a.do("click the first mark", chromedp.Evaluate[chromedp.Void](first+`.click()`))
	a.waitFor("the source panel", `!document.getElementById('source-panel').hidden`)
	if got := eval[string](a, `document.querySelector('#source-panel .source-heading').textContent`); got != "Lighthouse keeping" {
		t.Errorf("source title = %q", got)
	}
	if got := eval[string](a, `document.querySelector('#source-panel .source-where').textContent`); got != "lighthouse.md" {
		t.Errorf("source URI = %q", got)
	}
	passage := eval[string](a, `document.querySelector('#source-panel .source-text').textContent`)
	if passage == "" || !strings.Contains(strings.Join(strings.Fields(lighthouseMD), " "), strings.Join(strings.Fields(passage), " ")[:min(40, len(passage))]) {
		t.Errorf("source passage %q is not from the document", passage)
	}
	if got := eval[string](a, `document.activeElement.id`); got != "source-heading" {
		t.Errorf("focus after opening the source is on #%s, want the panel's heading", got)
	}
	if got := eval[string](a, first+`.getAttribute('aria-expanded')`); got != "true" {
		t.Errorf("the open mark has aria-expanded=%s", got)
	}
	a.do("press Escape", chromedp.KeyEvent(kb.Escape))
	a.waitFor("the panel to close and focus to return to the mark", `document.getElementById('source-panel').hidden && document.activeElement === `+first)
	// The keyboard opens it too.
	a.do("press Enter on the mark", chromedp.KeyEvent(kb.Enter))
	a.waitFor("the source panel again", `!document.getElementById('source-panel').hidden`)
	a.do("close", chromedp.Click(chromedp.CSS(`#source-panel .source-close`)))
	a.waitFor("the panel closed", `document.getElementById('source-panel').hidden`)

	// A follow-up continues the session; New conversation starts afresh.
	a.askKB("And what does the keeper polish?", 2)
	bodies := eval[[]map[string]any](a, `window.__answerBodies`)
	if len(bodies) != 2 {
		t.Fatalf("posted %d answer requests, want 2", len(bodies))
	}
	if _, ok := bodies[0]["session_id"]; ok {
		t.Errorf("first question sent a session_id: %v", bodies[0])
	}
	if sid, _ := bodies[1]["session_id"].(string); sid == "" {
		t.Errorf("follow-up sent no session_id: %v", bodies[1])
	}
	if bodies[1]["query"] != "And what does the keeper polish?" || bodies[1]["stream"] != true {
		t.Errorf("follow-up body %v", bodies[1])
	}
	a.waitFor("the lens in the second answer", lastKBAnswer+`.textContent.includes('lens')`)
	a.do("new conversation", chromedp.Click(chromedp.ID("new-conversation")))
	a.waitFor("an empty thread", `document.querySelectorAll('#thread .turn').length === 0 && document.activeElement.id === 'question'`)
	a.askKB("What does the lamp burn?", 1)
	bodies = eval[[]map[string]any](a, `window.__answerBodies`)
	if _, ok := bodies[2]["session_id"]; ok || len(bodies) != 3 {
		t.Errorf("after New conversation the request was %v, want no session_id", bodies[len(bodies)-1])
	}

	// Delete, with confirmation: gone from the page and from the store.
	a.do("click Delete", chromedp.Evaluate[chromedp.Void](item+`.querySelector('button.delete').click()`))
	a.do("confirm", chromedp.Evaluate[chromedp.Void](item+`.querySelector('button.confirm-delete').click()`))
	a.waitFor("the document gone", `!`+item+` && document.querySelector('#documents-status .empty-note')`)
	if docs, _ := a.docs.ListDocuments(context.Background()); len(docs) != 0 {
		t.Errorf("store after delete: %d documents", len(docs))
	}
	a.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("question")))
	a.waitFor("still empty after reload", `document.querySelector('#documents-status .empty-note')`)
}

func TestBrowserKnowledgeShowsDocumentTextAsText(t *testing.T) {
	a := newApp(t, appOptions{kb: "local"})
	openKnowledge(a)
	// Plain text keeps markup as it is (the Markdown and HTML parsers drop it).
	const evil = "Evil <b onmouseover=\"window.__xss='title'\">bold</b> notes\n\n" +
		"The parrot said <img src=x onerror=\"window.__xss='img'\"> and <script>window.__xss='script'</script> loudly.\n\n" +
		"The parrot also likes [a link](javascript:window.__xss='link') and crackers.\n"
	const name = `<img src=x onerror=window.__xss=1>.txt`
	a.upload(writeFile(t, name, evil))
	a.waitFor("the document", `document.querySelectorAll('#documents li.doc').length === 1`)
	if got := eval[string](a, `document.querySelector('#uploads .upload-name').textContent`); got != name {
		t.Errorf("upload row shows the file name as %q", got)
	}
	listed := eval[string](a, `document.querySelector('#documents li.doc').textContent`)
	if !strings.Contains(listed, "<b onmouseover") && !strings.Contains(listed, name) {
		t.Errorf("the listed document %q shows neither its title nor its name literally", listed)
	}

	a.askKB("What did the parrot say?", 1)
	a.waitFor("a cited answer", lastKBAnswer+`.querySelector('.answer-body button.cite')`)
	a.do("open every source", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#thread button.cite').forEach(b => b.click())`))
	a.waitFor("the source panel", `!document.getElementById('source-panel').hidden`)
	passage := eval[string](a, `document.querySelector('#source-panel .source-text').textContent`)
	if !strings.Contains(passage, `<img src=x onerror="window.__xss='img'">`) || !strings.Contains(passage, "<script>") {
		t.Errorf("the passage %q does not show the document's markup as text", passage)
	}
	if n := eval[int](a, `document.querySelectorAll('main img, main script, main b, main [onerror], main [onmouseover], aside img, aside script, aside b, aside [onerror]').length`); n != 0 {
		t.Errorf("%d elements made from document text; want none", n)
	}
	a.do("click links", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('main a:not([href^="/"]), aside a').forEach(l => l.click())`))
	if got := eval[string](a, `String(window.__xss)`); got != "undefined" {
		t.Errorf("document text ran script: window.__xss = %s", got)
	}
	if href := eval[string](a, `[...document.querySelectorAll('main a, aside a')].map(a => a.href).join(' ')`); strings.Contains(href, "javascript:") {
		t.Errorf("a javascript: link survived: %s", href)
	}
}

func TestBrowserKnowledgeManaged(t *testing.T) {
	a := newApp(t, appOptions{kb: "managed"})
	a.do("open the knowledge page", chromedp.Navigate(a.url+"/knowledge"), chromedp.WaitVisible(chromedp.ID("question")))
	a.waitFor("the managed note", `!document.getElementById('managed-note').hidden && document.getElementById('managed-note').textContent.includes('Amazon Bedrock')`)
	a.waitFor("the kb info", `document.getElementById('kb-info').textContent.includes('Amazon Bedrock knowledge base')`)
	if visible := eval[bool](a, `[document.getElementById('dropzone'), document.getElementById('documents')].some(e => e.offsetParent !== null)`); visible {
		t.Errorf("uploads or the document list shown for a managed knowledge base")
	}
}

func TestBrowserWorkshopKnowledgeBasePages(t *testing.T) {
	a := newApp(t, appOptions{kb: "local"})
	if _, err := a.docs.IngestFile(context.Background(), "lighthouse.md", strings.NewReader(lighthouseMD)); err != nil {
		t.Fatal(err)
	}

	a.do("open the retrieve page", chromedp.Navigate(a.url+"/retrieve"), chromedp.WaitVisible(chromedp.ID("query")))
	a.do("retrieve", chromedp.SendKeys(chromedp.ID("query"), "fog horn"+kb.Enter))
	a.waitFor("the passages", `document.getElementById('result-section').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#result li.passage').length > 0`)
	first := `document.querySelector('#result li.passage')`
	if got := eval[string](a, first+`.querySelector('.note-title').textContent`); got != "Lighthouse keeping" {
		t.Errorf("first passage titled %q", got)
	}
	if got := eval[string](a, first+`.querySelector('.note-text').textContent`); !strings.Contains(got, "horn") {
		t.Errorf("first passage %q is not the fog one", got)
	}
	if got := eval[string](a, first+`.querySelector('.doc-uri')?.textContent`); got != "lighthouse.md" {
		t.Errorf("first passage's location shown as %q", got)
	}
	if got := eval[[]string](a, `[...`+first+`.querySelectorAll('mark')].map(m => m.textContent.toLowerCase())`); !strings.Contains(strings.Join(got, ","), "horn") {
		t.Errorf("highlighted %q, want the query's words", got)
	}
	if !scorePattern(eval[string](a, first+`.querySelector('.score').textContent`)) {
		t.Errorf("no score shown")
	}

	a.do("open the retrieve-and-generate page", chromedp.Navigate(a.url+"/retrieve-generate"), chromedp.WaitVisible(chromedp.ID("query")))
	a.do("ask", chromedp.SendKeys(chromedp.ID("query"), "How often is the horn sounded in fog?"+kb.Enter))
	a.waitFor("the answer", `document.getElementById('result-section').getAttribute('aria-busy') === 'false' && document.getElementById('answer').textContent.includes('thirty seconds')`)
	a.waitFor("citation marks", `document.querySelector('#answer button.cite')`)
	if n := eval[int](a, `document.querySelectorAll('#references ol.sources li').length`); n == 0 {
		t.Errorf("no references listed")
	}
	a.do("open the first mark", chromedp.Click(chromedp.CSS(`#answer button.cite`)))
	a.waitFor("the cited passage", `!document.getElementById('source-panel').hidden && document.querySelector('#source-panel .source-text').textContent.length > 0`)
	if got := eval[string](a, `document.querySelector('#source-panel .source-heading').textContent`); got != "Lighthouse keeping" {
		t.Errorf("cited source titled %q", got)
	}
}

func TestBrowserKnowledgeOnPhone(t *testing.T) {
	a := newApp(t, appOptions{kb: "local", windowSize: [2]int{390, 844}})
	a.do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	long := strings.Repeat("Unbroken", 12)
	if _, err := a.docs.IngestFile(context.Background(), long+".md", strings.NewReader("# "+long+"\n\n"+lighthouseMD)); err != nil {
		t.Fatal(err)
	}
	openKnowledge(a)
	a.waitFor("the document", `document.querySelectorAll('#documents li.doc').length === 1`)
	a.askKB("What does the keeper polish?", 1)
	a.do("open a source", chromedp.Evaluate[chromedp.Void](`document.querySelector('#thread button.cite').click()`))
	a.waitFor("the source panel", `!document.getElementById('source-panel').hidden`)
	if w := eval[int](a, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("/knowledge is %dpx wider than a 390px phone screen", w)
	}
	if out := eval[bool](a, `(r => r.left < 0 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1)(document.getElementById('source-panel').getBoundingClientRect())`); out {
		t.Errorf("the source panel is not within the screen")
	}
	checkTopbarOnPhone(a, "/knowledge")
}

// The chat page's switch turns on the server's own tools: the knowledge-base search is
// shown as a compact line with its result folded under it, and the answer's [n] marks
// open the cited passage, as on the Knowledge page.
func TestBrowserChatUsesTheKnowledgeBase(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{}, kb: "local"})
	if _, err := a.docs.IngestText(context.Background(), "Tides", "tides.md", "# Tides\n\nSpring tides, the highest tides, come when the Sun and the Moon line up."); err != nil {
		t.Fatal(err)
	}
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.waitFor("the tools switch", `!document.getElementById('tools-switch').hidden`)
	a.do("turn on the knowledge base", chromedp.Click(chromedp.ID("use-tools")))
	a.send("highest tides")
	a.waitAnswerDone()
	a.waitFor("the tool call's line", lastAnswer+`.querySelector('.tool-call .tool-name')?.textContent === 'search_knowledge_base' && `+
		lastAnswer+`.querySelector('.tool-call .tool-state')?.textContent === 'done' && `+
		lastAnswer+`.querySelector('.tool-call .tool-args')?.textContent.includes('highest tides')`)
	if open := eval[bool](a, lastAnswer+`.querySelector('.tool-call').open`); open {
		t.Error("the tool's result is not folded")
	}
	if got := eval[string](a, lastAnswer+`.querySelector('.tool-call .tool-result').textContent`); !strings.Contains(got, "Spring tides") {
		t.Errorf("tool result %q", got)
	}
	a.waitFor("a clickable citation", lastAnswer+`.querySelector('.msg-body button.cite[data-n="1"]') !== null`)
	a.do("open the source", chromedp.Click(chromedp.CSS(`#log .msg.assistant:last-child .msg-body button.cite`)))
	a.waitFor("the passage in the side panel", `!document.getElementById('source-panel').hidden && document.querySelector('#source-panel .source-heading').textContent === 'Tides'`)
	if got := a.upstream.Requests()[0].ToolConfig; got == nil || len(got.Tools) == 0 {
		t.Error("the model was offered no tools")
	}
	// The page is what a person sees: keep a screenshot to look at.
	a.screenshot("chat-tools")
}
