package web_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"genai/web"
)

func get(t *testing.T, h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerServesPagesAndAssets(t *testing.T) {
	h := web.Handler()
	tests := []struct {
		path, contentType, cache, contains string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", `src="/static/js/chat.js"`},
		{"/image", "text/html; charset=utf-8", "no-cache", `src="/static/js/image.js"`},
		{"/mirror", "text/html; charset=utf-8", "no-cache", `src="/static/js/mirror.js"`},
		{"/notes", "text/html; charset=utf-8", "no-cache", `src="/static/js/notes.js"`},
		{"/aoss-index", "text/html; charset=utf-8", "no-cache", `src="/static/js/aoss-index.js"`},
		{"/aoss-query", "text/html; charset=utf-8", "no-cache", `src="/static/js/aoss-query.js"`},
		{"/knowledge", "text/html; charset=utf-8", "no-cache", `src="/static/js/knowledge.js"`},
		{"/retrieve", "text/html; charset=utf-8", "no-cache", `src="/static/js/retrieve.js"`},
		{"/retrieve-generate", "text/html; charset=utf-8", "no-cache", `src="/static/js/retrieve-generate.js"`},
		{"/static/js/knowledge.js", "text/javascript; charset=utf-8", "no-cache", "/api/kb/documents"},
		{"/static/js/sources.js", "text/javascript; charset=utf-8", "no-cache", "export function linkCitations"},
		{"/static/js/retrieve.js", "text/javascript; charset=utf-8", "no-cache", "/knowledge-base-retrieve"},
		{"/static/js/retrieve-generate.js", "text/javascript; charset=utf-8", "no-cache", "/knowledge-base-retrieve-and-generate"},
		{"/static/js/notes.js", "text/javascript; charset=utf-8", "no-cache", "/api/notes/search"},
		{"/static/js/notecard.js", "text/javascript; charset=utf-8", "no-cache", "noopener noreferrer"},
		{"/static/js/api.js", "text/javascript; charset=utf-8", "no-cache", "export async function streamChat"},
		{"/static/css/app.css", "text/css; charset=utf-8", "no-cache", "prefers-color-scheme"},
		{"/static/favicon.svg", "image/svg+xml", "no-cache", "<svg"},
		{"/static/vendor/marked-18.2.1/marked.esm.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "marked"},
		{"/static/vendor/dompurify-3.5.0/purify.es.mjs", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "DOMPurify"},
		{"/static/vendor/highlight-11.12.0/highlight.min.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "Highlight.js"},
		{"/static/vendor/highlight-11.12.0/github-dark.min.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", ".hljs"},
		{"/static/vendor/marked-18.2.1/LICENSE", "text/plain; charset=utf-8", "public, max-age=31536000, immutable", "MIT"},
	}
	for _, tt := range tests {
		w := get(t, h, "GET", tt.path, nil)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: status %d", tt.path, w.Code)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tt.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.contentType)
		}
		if got := w.Header().Get("Cache-Control"); got != tt.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tt.path, got, tt.cache)
		}
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", tt.path, got)
		}
		if !strings.Contains(w.Body.String(), tt.contains) {
			t.Errorf("GET %s: body lacks %q", tt.path, tt.contains)
		}
	}
}

func TestHandlerRevalidatesWithETag(t *testing.T) {
	h := web.Handler()
	w := get(t, h, "GET", "/static/js/chat.js", nil)
	etag := w.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	w = get(t, h, "GET", "/static/js/chat.js", http.Header{"If-None-Match": {etag}})
	if w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: status %d, want 304", w.Code)
	}
	w = get(t, h, "HEAD", "/", nil)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /: status %d, %d body bytes", w.Code, w.Body.Len())
	}
}

func TestHandlerNotFound(t *testing.T) {
	h := web.Handler()
	for _, path := range []string{
		"/nope", "/index.html", "/image/", "/notes/", "/knowledge/", "/retrieve/", "/knowledge-base-retrieve", "/aoss-index-backend", "/static/", "/static/js", "/static/js/nope.js",
		"/static/../web.go", "/static//js/api.js", "/static/js/../js/api.js", "/pages/chat.html",
	} {
		w := get(t, h, "GET", path, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, w.Code)
			continue
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "not_found" || body.Error.Message == "" {
			t.Errorf("GET %s: body %q, want a not_found JSON error", path, w.Body)
		}
	}
	w := get(t, h, "POST", "/", nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

// TestPagesFollowCSP checks the pages against the server's Content-Security-Policy
// (script-src 'self'; style-src 'self'): no inline script, style or event handler, and
// nothing loaded from another origin.
func TestPagesFollowCSP(t *testing.T) {
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`), // a script with a body
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`),
		regexp.MustCompile(`javascript:`),
	}
	pages, _ := filepath.Glob("pages/*.html")
	if len(pages) != len(web.Pages()) {
		t.Fatalf("found %d pages, want %d, one for each of web.Pages()", len(pages), len(web.Pages()))
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAll(b, -1) {
			if !strings.Contains(string(tag), ` src="/static/`) {
				t.Errorf("%s: %s is not a script file of our own", p, tag)
			}
		}
		for _, re := range inline {
			if loc := re.FindIndex(b); loc != nil {
				t.Errorf("%s: %q breaks the CSP", p, b[loc[0]:min(loc[1]+20, len(b))])
			}
		}
	}
}

// TestModelTextNeverParsedAsHTML keeps the rule that only markdown.js turns text into
// markup, and only through DOMPurify: no other script of ours may use innerHTML or its
// relatives.
func TestModelTextNeverParsedAsHTML(t *testing.T) {
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|createContextualFragment|new Function|eval\(`)
	err := fs.WalkDir(os.DirFS("static/js"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("static/js", name))
		if err != nil {
			return err
		}
		if m := sinks.Find(b); m != nil {
			t.Errorf("static/js/%s uses %s; build DOM nodes with textContent, or render through markdown.js", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile("static/js/markdown.js")
	for _, want := range []string{"RETURN_DOM_FRAGMENT: true", "html(token)", "escapeHTML(token.raw"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown.js lacks %q: raw HTML must be escaped and output sanitised into a fragment", want)
		}
	}
}

// TestEveryPageLinksEveryMainPage keeps the navigation bar the same on every page.
func TestEveryPageLinksEveryMainPage(t *testing.T) {
	pages, _ := filepath.Glob("pages/*.html")
	nav := regexp.MustCompile(`(?s)<nav aria-label="Pages">(.*?)</nav>`)
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m := nav.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no navigation bar", p)
			continue
		}
		for _, link := range []string{`>Chat</a>`, `href="/image"`, `href="/mirror"`, `href="/notes"`, `href="/knowledge"`} {
			if !strings.Contains(string(m[1]), link) {
				t.Errorf("%s: the navigation bar lacks %s", p, link)
			}
		}
		if n := strings.Count(string(m[1]), `aria-current="page"`); n > 1 {
			t.Errorf("%s: %d links marked as the current page", p, n)
		}
	}
}

// TestPagesListsEveryPage keeps web.Pages, which the server mounts, in step with the
// pages Handler serves: every listed path is a page, and every page file is listed.
func TestPagesListsEveryPage(t *testing.T) {
	h := web.Handler()
	want := []string{"/", "/aoss-index", "/aoss-query", "/image", "/knowledge", "/mirror", "/notes", "/retrieve", "/retrieve-generate"}
	if got := web.Pages(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Pages() = %q, want %q", got, want)
	}
	for _, p := range web.Pages() {
		w := get(t, h, "GET", p, nil)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<nav aria-label="Pages">`) {
			t.Errorf("GET %s: status %d, want a page", p, w.Code)
		}
	}
}
