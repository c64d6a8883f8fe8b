package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"genai"
	"genai/agent"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/server"
	"genai/web"
)

// The browser tests drive the real pages in Debian's Chromium against the real server,
// whose chat model is the bedrock package talking to the bedrocktest fake through the
// AWS SDK. They wait for DOM conditions, never for fixed times.

const chromiumPath = "/usr/bin/chromium"

// waitTimeout bounds each wait for the page; generous, because it guards against hangs.
const waitTimeout = 15 * time.Second

// app is a genai server with the UI, its fake upstream (nil without a provider) and a
// browser tab.
type app struct {
	t        *testing.T
	url      string
	upstream *bedrocktest.Server
	notes    *genai.NoteService    // nil unless appOptions.notes
	docs     genai.DocumentService // nil unless appOptions.kb is "local"
	tab      context.Context
	console  *consoleLog
}

type appOptions struct {
	upstream   *bedrocktest.Options // nil: no model provider
	apiKeys    []string
	windowSize [2]int
	fakeCamera bool   // Chromium's test camera, allowed without a prompt
	notes      bool   // a notes store (see newNotes)
	kb         string // "local": a knowledge base with uploads; "managed": one without (see newKB)
	chatModel  string // the server's default model; empty: bedrock.DefaultModel
	guardrail  *bedrock.Guardrail
	// serverTools are more groups of server tools; mcpServers, the MCP servers' state.
	serverTools map[string]func() []genai.ToolRunner
	mcpServers  func() []genai.MCPServer
}

// newNotes returns the note service of a test server and the name of its store. It is
// set by notes_browser_test.go, which needs the store and embedder packages.
var newNotes func(t *testing.T) (*genai.NoteService, string)

// newKB returns a local knowledge base with its document service. It is set by
// kb_store_test.go, which needs the rag, store and embedder packages.
var newKB func(t *testing.T) (genai.KnowledgeBase, genai.DocumentService)

func newApp(t *testing.T, o appOptions) *app {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("GENAI_SKIP_BROWSER") == "1" {
			t.Skip("browser tests skipped: GENAI_SKIP_BROWSER=1")
		}
		t.Fatalf("browser tests need Chromium at %s: install it with `apt-get install -y chromium`, or set GENAI_SKIP_BROWSER=1 to skip them", chromiumPath)
	}
	a := &app{t: t}
	opts := server.Options{UI: web.Handler(), APIKeys: o.apiKeys, Logger: slog.New(slog.DiscardHandler)}
	if o.upstream != nil {
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		a.upstream = bedrocktest.NewServer(*o.upstream)
		t.Cleanup(a.upstream.Close)
		cfg := aws.Config{
			Region:       "us-east-1",
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
			BaseEndpoint: aws.String(a.upstream.URL),
		}
		opts.Chat = bedrock.New(cfg, bedrock.Options{MaxBackoff: 5 * time.Millisecond, Guardrail: o.guardrail})
		opts.Provider = "bedrock"
		opts.ChatModel = bedrock.DefaultModel
		if o.chatModel != "" {
			opts.ChatModel = o.chatModel
		}
		opts.Vision = true
	}
	if o.notes {
		if newNotes == nil {
			t.Fatal("this test needs a notes store, and notes_browser_test.go is not in the build")
		}
		a.notes, opts.Store = newNotes(t)
		opts.Notes = a.notes
	}
	if o.kb != "" {
		if newKB == nil {
			t.Fatal("this test needs a knowledge base, and kb_store_test.go is not in the build")
		}
		var docs genai.DocumentService
		opts.KB, docs = newKB(t)
		opts.KBName = "local"
		if o.kb == "local" {
			a.docs, opts.Ingest = docs, docs
			kb := opts.KB
			opts.ServerTools = map[string]func() []genai.ToolRunner{
				"knowledge_base": func() []genai.ToolRunner { return agent.KnowledgeBaseTools(kb, docs) },
			}
		} else {
			opts.KBName = "bedrock" // documents managed elsewhere: no uploads
		}
	}
	for g, tools := range o.serverTools {
		if opts.ServerTools == nil {
			opts.ServerTools = map[string]func() []genai.ToolRunner{}
		}
		opts.ServerTools[g] = tools
	}
	opts.MCPServers = o.mcpServers
	srv := httptest.NewServer(server.New(opts))
	t.Cleanup(srv.Close)
	a.url = srv.URL

	w, h := 1280, 900
	if o.windowSize != [2]int{} {
		w, h = o.windowSize[0], o.windowSize[1]
	}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
		chromedp.Flag("use-fake-device-for-media-stream", o.fakeCamera),
		chromedp.Flag("use-fake-ui-for-media-stream", o.fakeCamera),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	tab, cancelTab := chromedp.NewContext(actx)
	tab, cancelTimeout := context.WithTimeout(tab, 45*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	a.tab = tab
	a.console = watchConsole(tab)
	t.Cleanup(a.console.check(t))
	return a
}

// do runs actions in the tab and fails the test on error.
func (a *app) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	a.t.Helper()
	if err := chromedp.Do(a.tab, actions...); err != nil {
		a.t.Fatalf("%s: %v%s", what, err, a.pageText())
	}
}

// eval returns the value of a JavaScript expression.
func eval[T any](a *app, expr string) T {
	a.t.Helper()
	v, err := chromedp.Run(a.tab, chromedp.Evaluate[T](expr))
	if err != nil {
		a.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is truthy.
func (a *app) waitFor(what, expr string) {
	a.t.Helper()
	_, err := chromedp.Run(a.tab, chromedp.Poll[bool]("!!("+expr+")",
		chromedp.WithPollingTimeout(waitTimeout), chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		a.t.Fatalf("waiting for %s (%s): %v%s", what, expr, err, a.pageText())
	}
}

// pageText returns the page's visible text, for failure messages.
func (a *app) pageText() string {
	ctx, cancel := context.WithTimeout(a.tab, 2*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText +
		'\n[focus: ' + (document.activeElement && document.activeElement.id) + '; fields: ' +
		JSON.stringify([...document.querySelectorAll('textarea, input')].map(e => e.id + '=' + e.value)) + ']' +
		' url=' + location.href : ""`))
	if err != nil {
		return ""
	}
	return "\npage text:\n" + text
}

// consoleLog collects the exceptions and Content-Security-Policy violations of a tab:
// either means a page is broken even when its DOM looks right.
type consoleLog struct {
	mu       sync.Mutex
	problems []string
}

func watchConsole(tab context.Context) *consoleLog {
	c := &consoleLog{}
	messages := chromedp.Console(tab)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			text := m.String()
			if m.IsException() || strings.Contains(text, "Content Security Policy") {
				c.mu.Lock()
				c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s", m.URL, m.Line+1, text))
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *consoleLog) check(t *testing.T) func() {
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Errorf("browser console: %s", p)
		}
	}
}

// tokens splits an answer into the fake model's tokens, keeping every character.
func tokens(s string) []string { return strings.SplitAfter(s, " ") }

func reply(text string) func(*bedrocktest.Request) bedrocktest.Reply {
	return func(*bedrocktest.Request) bedrocktest.Reply { return bedrocktest.Reply{Tokens: tokens(text)} }
}

const lastAnswer = `[...document.querySelectorAll('#log .msg.assistant')].pop()`

// send types a message into the chat box and presses Enter.
func (a *app) send(text string) {
	a.t.Helper()
	a.do("type a message", chromedp.SendKeys(chromedp.ID("prompt"), text+kb.Enter))
}

// waitAnswerDone waits until the last answer has finished streaming.
func (a *app) waitAnswerDone() {
	a.t.Helper()
	a.waitFor("the answer to finish",
		`(() => { const m = `+lastAnswer+`; return m && m.getAttribute('aria-busy') === 'false' && !document.getElementById('send').hidden })()`)
}

func TestBrowserChatStreamsMarkdown(t *testing.T) {
	const answer = "Here is **bold** text.\n\n```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```\n"
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{Reply: reply(answer), TokenDelay: time.Millisecond}})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))

	a.send("Show me some markdown")
	a.waitAnswerDone()
	a.waitFor("bold text rendered as <strong>", lastAnswer+`.querySelector('.msg-body strong')?.textContent === 'bold'`)
	a.waitFor("a highlighted Go code block", lastAnswer+`.querySelector('pre code.hljs.language-go span.hljs-keyword')?.textContent === 'func'`)
	if got := eval[string](a, lastAnswer+`.querySelector('pre code').textContent`); got != "func main() {\n\tfmt.Println(\"hi\")\n}" {
		t.Errorf("code block text = %q", got)
	}
	a.waitFor("token usage", lastAnswer+`.querySelector('.usage')?.textContent.includes('out tokens')`)

	// A second turn sends the whole conversation.
	a.send("And again")
	a.waitFor("a second answer", `document.querySelectorAll('#log .msg.assistant').length === 2`)
	a.waitAnswerDone()
	reqs := a.upstream.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests, want 2", len(reqs))
	}
	var roles []string
	for _, m := range reqs[1].Messages {
		roles = append(roles, m.Role)
	}
	if got := strings.Join(roles, ","); got != "user,assistant,user" {
		t.Errorf("second request roles = %s, want user,assistant,user", got)
	}
	// The page trims the answers it sends back: Bedrock refuses trailing white space.
	if got, want := reqs[1].Messages[1].Content[0].Text, strings.TrimSpace(answer); got != want {
		t.Errorf("second request sent the first answer as %q, want %q", got, want)
	}
	if got := reqs[1].LastUserText(); got != "And again" {
		t.Errorf("second request's last user text = %q", got)
	}
}

func TestBrowserChatModelOutputIsText(t *testing.T) {
	const answer = "Try <img src=x onerror=\"window.__xss='img'\"> and <script>window.__xss='script'</script> " +
		"or [a link](javascript:window.__xss='link') <b>not bold</b>"
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{Reply: reply(answer)}})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))

	a.send("<img src=y onerror=\"window.__xss='user'\"> hello")
	a.waitAnswerDone()
	a.waitFor("the answer text", lastAnswer+`.textContent.includes('not bold')`)

	text := eval[string](a, lastAnswer+`.querySelector('.msg-body').textContent`)
	for _, want := range []string{`<img src=x onerror="window.__xss='img'">`, `<script>window.__xss='script'</script>`, `<b>not bold</b>`} {
		if !strings.Contains(text, want) {
			t.Errorf("answer text %q does not show %q literally", text, want)
		}
	}
	if n := eval[int](a, `document.querySelectorAll('#log img, #log script, #log b, #log [onerror]').length`); n != 0 {
		t.Errorf("%d elements made from model or user text; want none", n)
	}
	if href := eval[string](a, `(document.querySelector('#log a') || {}).href || ''`); strings.HasPrefix(href, "javascript:") {
		t.Errorf("a javascript: link survived: %s", href)
	}
	if user := eval[string](a, `document.querySelector('#log .msg.user').textContent`); !strings.HasPrefix(user, "<img src=y") {
		t.Errorf("user message shown as %q, want its literal text", user)
	}
	// Clicking every link must not run the javascript: URL either.
	a.do("click links", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#log a').forEach(l => l.click())`))
	if got := eval[string](a, `String(window.__xss)`); got != "undefined" {
		t.Errorf("model output ran script: window.__xss = %s", got)
	}
}

func TestBrowserImageUpload(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{Reply: reply("A **red** square.")}})
	pic := testPNG(t)
	path := filepath.Join(t.TempDir(), "red.png")
	if err := os.WriteFile(path, pic, 0o600); err != nil {
		t.Fatal(err)
	}
	a.do("open the image page", chromedp.Navigate(a.url+"/image"), chromedp.WaitVisible(chromedp.ID("pick")))
	a.do("choose the image", chromedp.SetUploadFiles(chromedp.ID("files"), []string{path}))
	a.waitFor("a thumbnail", `document.querySelectorAll('#thumbs img').length === 1`)
	a.do("ask", chromedp.Click(chromedp.ID("ask")))
	a.waitFor("the answer", `document.querySelector('#answer strong')?.textContent === 'red' && !document.getElementById('ask').hidden`)

	reqs := a.upstream.Requests()
	if len(reqs) != 1 || len(reqs[0].Messages) != 1 {
		t.Fatalf("upstream got %d requests; want 1 with 1 message", len(reqs))
	}
	content := reqs[0].Messages[0].Content
	if len(content) != 2 || content[0].Image == nil {
		b, _ := json.Marshal(content)
		t.Fatalf("upstream content = %.300s; want an image block and a text block", b)
	}
	if content[0].Image.Format != "png" || !bytes.Equal(content[0].Image.Source.Bytes, pic) {
		t.Errorf("upstream image: format %q, %d bytes; want png, the %d bytes uploaded", content[0].Image.Format, len(content[0].Image.Source.Bytes), len(pic))
	}
	if content[1].Text != "What is in this picture?" {
		t.Errorf("upstream question = %q", content[1].Text)
	}

	// A file of the wrong type is refused in the page, with a message.
	txt := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(txt, []byte("hello"), 0o600)
	a.do("choose a text file", chromedp.SetUploadFiles(chromedp.ID("files"), []string{txt}))
	a.waitFor("a refusal", `document.getElementById('file-errors').textContent.includes('not supported')`)
	if n := eval[int](a, `document.querySelectorAll('#thumbs img').length`); n != 1 {
		t.Errorf("%d thumbnails after a refused file; want 1", n)
	}
}

func TestBrowserMirrorSnapshot(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{Reply: reply("A test pattern.")}, fakeCamera: true})
	a.do("open the mirror page", chromedp.Navigate(a.url+"/mirror"))
	a.waitFor("the camera", `!document.getElementById('snap').disabled && document.getElementById('video').videoWidth > 0`)
	a.do("take a snapshot", chromedp.Click(chromedp.ID("snap")))
	a.waitFor("the answer", `document.getElementById('answer').textContent.trim() === 'A test pattern.' && !document.getElementById('ask').hidden`)
	reqs := a.upstream.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	content := reqs[0].Messages[0].Content
	if len(content) != 2 || content[0].Image == nil || content[0].Image.Format != "jpeg" || len(content[0].Image.Source.Bytes) < 1000 {
		t.Fatalf("upstream content: want a JPEG snapshot then the prompt, got %d blocks", len(content))
	}
	if content[1].Text != "Describe what you see in this picture." {
		t.Errorf("upstream prompt = %q", content[1].Text)
	}
}

func TestBrowserMirrorWithoutCamera(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{Reply: reply("A picked picture.")}})
	a.do("open the mirror page", chromedp.Navigate(a.url+"/mirror"))
	a.waitFor("the no-camera message and the picker", `document.getElementById('camera-status').classList.contains('problem') && !document.getElementById('fallback').hidden`)
	path := filepath.Join(t.TempDir(), "me.png")
	pic := testPNG(t)
	os.WriteFile(path, pic, 0o600)
	a.do("pick a picture", chromedp.SetUploadFiles(chromedp.ID("fallback-file"), []string{path}))
	a.waitFor("the answer", `document.getElementById('answer').textContent.trim() === 'A picked picture.'`)
	if got := a.upstream.Requests()[0].Messages[0].Content[0].Image; got == nil || !bytes.Equal(got.Source.Bytes, pic) {
		t.Errorf("upstream did not get the picked picture")
	}
}

func TestBrowserStopCancelsUpstream(t *testing.T) {
	many := strings.Repeat("word ", 400)
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{Reply: reply(many), TokenDelay: 50 * time.Millisecond}})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))

	a.send("Talk for a long time")
	a.waitFor("the answer to start streaming", lastAnswer+`.querySelector('.msg-body').textContent.includes('word word')`)
	a.do("click Stop", chromedp.Click(chromedp.ID("stop")))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := a.upstream.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Canceled == 1 && s.Active == 0 }); err != nil {
		t.Fatalf("the upstream stream was not cancelled: %v", err)
	}
	a.waitFor("the stopped state", lastAnswer+`.querySelector('.msg-status')?.textContent === 'Stopped.' && !document.getElementById('send').hidden && document.getElementById('stop').hidden`)
	if s := a.upstream.Stats(); s.Completed != 0 {
		t.Errorf("upstream stats %+v: a stopped answer completed", s)
	}
	// What arrived before Stop is kept, and the answer can be retried.
	a.waitFor("the Retry button", lastAnswer+`.querySelector('button.retry') && !`+lastAnswer+`.querySelector('button.retry').disabled`)
}

func TestBrowserConversationSurvivesReload(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{}}) // echoes "You said: …"
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.send("remember *this*")
	a.waitAnswerDone()
	a.waitFor("the echo", lastAnswer+`.querySelector('em')?.textContent === 'this'`)

	a.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.waitFor("the conversation after reload",
		`document.querySelector('#log .msg.user')?.textContent === 'remember *this*' && `+lastAnswer+`?.querySelector('em')?.textContent === 'this'`)

	a.do("start a new chat", chromedp.Click(chromedp.ID("new-chat")))
	a.waitFor("an empty conversation", `document.querySelectorAll('#log .msg').length === 0`)
	a.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.waitFor("the empty state", `!document.getElementById('empty').hidden`)
	if n := eval[int](a, `document.querySelectorAll('#log .msg').length`); n != 0 {
		t.Errorf("%d messages after New chat and reload; want 0", n)
	}
}

func TestBrowserNoProviderBanner(t *testing.T) {
	a := newApp(t, appOptions{})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.waitFor("the no-provider banner",
		`!document.getElementById('banner').hidden && document.getElementById('banner').textContent.includes('GENAI_PROVIDER=bedrock')`)

	a.send("hello")
	a.waitFor("the no_provider error in the conversation",
		lastAnswer+`?.querySelector('.error-box.prominent')?.textContent.includes('GENAI_OPENAI_BASE_URL')`)
}

func TestBrowserAsksForAPIKey(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{}, apiKeys: []string{"sesame"}})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"))
	a.waitFor("the API-key dialog", `document.querySelector('dialog.key-dialog[open]')`)
	// Typing right after the dialog closes must reach the chat box (see keyDialog).
	a.do("enter the key", chromedp.SendKeys(chromedp.ID("key-dialog-input"), "sesame"),
		chromedp.Click(chromedp.CSS("dialog.key-dialog button[type=submit]")))
	a.waitFor("the dialog to close", `!document.querySelector('dialog.key-dialog')`)

	a.send("open sesame")
	a.waitAnswerDone()
	a.waitFor("the answer", lastAnswer+`.textContent.includes('You said: open sesame')`)
	if got := eval[string](a, `localStorage.getItem('genai.apiKey')`); got != "sesame" {
		t.Errorf("stored key = %q", got)
	}
	if got := a.upstream.Requests()[0].LastUserText(); got != "open sesame" {
		t.Errorf("upstream got %q", got)
	}
}

func TestBrowserPagesOnPhone(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{}, windowSize: [2]int{390, 844}})
	a.do("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, page := range web.Pages() {
		a.do("open "+page, chromedp.Navigate(a.url+page), chromedp.WaitVisible(chromedp.CSS("nav")))
		if w := eval[int](a, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s is %dpx wider than a 390px phone screen", page, w)
		}
		checkTopbarOnPhone(a, page)
	}
}

// checkTopbarOnPhone checks that every link and button of the top bar can be seen and
// tapped: nothing hides it, and it is inside the screen.
func checkTopbarOnPhone(a *app, page string) {
	a.t.Helper()
	hidden := eval[[]string](a, `[...document.querySelectorAll('.topbar a, .topbar button')].filter(e => {
		const r = e.getBoundingClientRect();
		if (r.width === 0) return false; // display: none, as the brand is on phones
		const x = r.left + r.width / 2, y = r.top + r.height / 2;
		return r.left < 0 || r.right > document.documentElement.clientWidth || !e.contains(document.elementFromPoint(x, y));
	}).map(e => e.textContent.trim())`)
	if len(hidden) > 0 {
		a.t.Errorf("%s on a phone: top bar items hidden or cut off: %q", page, hidden)
	}
}

// testPNG returns a small PNG image.
func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{R: 200, G: uint8(x * 10), B: uint8(y * 15), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestServerMountsEveryPage checks that the server routes every page of web.Pages to
// the UI; a page added here must be mounted in server.routes too.
func TestServerMountsEveryPage(t *testing.T) {
	h := server.New(server.Options{UI: web.Handler(), Logger: slog.New(slog.DiscardHandler)})
	for _, p := range web.Pages() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: status %d (%s); server.routes must mount every path of web.Pages() (\"GET %s\") to Options.UI", p, w.Code, strings.TrimSpace(w.Body.String()), p)
		}
	}
}

// screenshot saves the page as name.png in GENAI_SCREENSHOT_DIR, when it is set, for a
// person to look at.
func (a *app) screenshot(name string) {
	dir := os.Getenv("GENAI_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	shot, err := chromedp.Run(a.tab, chromedp.FullScreenshot(100))
	if err != nil {
		a.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
		a.t.Error(err)
	}
}

// With a thinking budget set in the settings, the request asks for thinking (and sends
// no temperature, which Claude refuses then), and the reasoning shows folded above the
// answer, as text.
func TestBrowserChatShowsThinking(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{TokenDelay: time.Millisecond}, chatModel: "us.anthropic.claude-haiku-4-5-20251001-v1:0"})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.do("set a thinking budget", chromedp.Click(chromedp.ID("settings-button")), chromedp.WaitVisible(chromedp.ID("thinking-budget")),
		chromedp.SendKeys(chromedp.ID("thinking-budget"), "2048"), chromedp.Click(chromedp.ID("settings-button")))
	a.send("why <b>is</b> the sky blue")
	a.waitAnswerDone()
	a.waitFor("a folded thinking section", lastAnswer+`.querySelector('details.thinking:not([hidden]):not([open]) summary')?.textContent === 'Thinking'`)
	a.do("unfold it", chromedp.Click(chromedp.CSS(`#log .msg.assistant details.thinking summary`)))
	if got := eval[string](a, lastAnswer+`.querySelector('.thinking-text').textContent`); got != "Thinking about: why <b>is</b> the sky blue." {
		t.Errorf("thinking text = %q", got)
	}
	if n := eval[int](a, lastAnswer+`.querySelectorAll('.thinking b').length`); n != 0 {
		t.Errorf("the reasoning was rendered as HTML")
	}
	a.waitFor("the answer", lastAnswer+`.querySelector('.msg-body').textContent.includes('You said:')`)
	a.screenshot("chat-thinking")
	req := a.upstream.Requests()[0]
	if req.Thinking() != 2048 || req.InferenceConfig.Temperature != nil {
		t.Errorf("upstream: thinking %d, temperature %v", req.Thinking(), req.InferenceConfig.Temperature)
	}
	// The reasoning stays with the answer across a reload.
	a.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.waitFor("the thinking after a reload", lastAnswer+`.querySelector('.thinking-text')?.textContent === 'Thinking about: why <b>is</b> the sky blue.'`)
}

// An answer a guardrail stopped says so plainly under the guardrail's message.
func TestBrowserChatShowsGuardrail(t *testing.T) {
	a := newApp(t, appOptions{
		upstream:  &bedrocktest.Options{Guardrails: map[string]bedrocktest.Guardrail{"gr": {Version: "1", Blocked: []string{"secret"}, Message: "I can't discuss that."}}},
		guardrail: &bedrock.Guardrail{ID: "gr", Version: "1"},
	})
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))
	a.send("tell me the secret")
	a.waitAnswerDone()
	a.waitFor("the guardrail's note", lastAnswer+`.textContent.includes('Blocked by the guardrail')`)
	if got := eval[string](a, lastAnswer+`.querySelector('.msg-body').textContent.trim()`); got != "I can't discuss that." {
		t.Errorf("answer = %q", got)
	}
	a.screenshot("chat-guardrail")
}
