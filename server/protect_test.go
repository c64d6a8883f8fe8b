package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"iter"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"genai"
	"genai/server"
)

// allRoutes is a server with every route registered (a UI too), for the tables below.
func allRoutes(t *testing.T, opts server.Options) (*server.Server, *httptest.Server) {
	t.Helper()
	opts.UI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page")) })
	if opts.Chat == nil {
		opts.Chat = &scripted{events: answer}
	}
	if opts.MCP == nil {
		opts.MCP = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("mcp")) })
	}
	srv := server.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// concrete turns a route pattern into a method and a path that it matches.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{id}", "abc123")
	path = strings.ReplaceAll(path, "{$}", "")
	if strings.HasSuffix(path, "/static/") {
		path += "app.css"
	}
	return method, path
}

func send(t *testing.T, method, url, contentType string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func isWrite(method string) bool {
	return method != "GET" && method != "HEAD" && method != "OPTIONS"
}

// A page on another site can post to a server on loopback with a "simple" request (a
// form, or fetch with text/plain or multipart): every write route must refuse it,
// whatever its body, before any handler runs.
func TestCrossSiteWritesRefusedOnEveryRoute(t *testing.T) {
	srv, ts := allRoutes(t, server.Options{})
	writes := 0
	for _, pattern := range srv.Routes() {
		method, path := concrete(pattern)
		if !isWrite(method) {
			continue
		}
		writes++
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json"} {
			resp := send(t, method, ts.URL+path, ct, strings.NewReader(`{"title":"pwned","text":"owned"}`),
				"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
			code, msg := decodeError(t, resp)
			if resp.StatusCode != 403 || code != "forbidden" || !strings.Contains(msg, "GENAI_CORS_ORIGINS") {
				t.Errorf("%s %s as %s from another site: %d %s %q, want 403 forbidden naming GENAI_CORS_ORIGINS", method, path, ct, resp.StatusCode, code, msg)
			}
		}
		// An older browser sends no Sec-Fetch-Site; its Origin still gives it away.
		resp := send(t, method, ts.URL+path, "text/plain", strings.NewReader("x"), "Origin", "https://evil.example")
		if resp.StatusCode != 403 {
			t.Errorf("%s %s with a foreign Origin only: %d, want 403", method, path, resp.StatusCode)
		}
	}
	if writes < 15 {
		t.Fatalf("only %d write routes found; the route table is incomplete", writes)
	}
}

func TestCrossSiteMultipartUploadRefusedBeforeIngesting(t *testing.T) {
	base, docs := kbServer(t, nil, server.Options{})
	before := len(docs.docs)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "evil.txt")
	fw.Write([]byte("planted by another site"))
	mw.Close()
	resp := send(t, "POST", base+"/api/kb/documents", mw.FormDataContentType(), &body,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != 403 {
		t.Errorf("cross-site upload: %d, want 403", resp.StatusCode)
	}
	if len(docs.docs) != before {
		t.Errorf("the cross-site upload was ingested: %d documents, want %d", len(docs.docs), before)
	}
}

// The UI's own requests, a trusted origin, and clients that are not browsers (no
// Origin, no Sec-Fetch-Site) still work.
func TestSameOriginAndTrustedOriginsPass(t *testing.T) {
	_, ts := allRoutes(t, server.Options{CORSOrigins: []string{"https://app.example"}})
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "same-origin", "Origin", ts.URL},
		{"Origin", ts.URL},
		{"Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"},
		{},
	} {
		resp := send(t, "POST", ts.URL+"/api/chat", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"stream":false}`), hdr...)
		if resp.StatusCode != 200 {
			body, _ := io.ReadAll(resp.Body)
			t.Errorf("headers %v: %d %s, want 200", hdr, resp.StatusCode, body)
		}
	}
}

func TestJSONRoutesTakeJSONOnly(t *testing.T) {
	srv, ts := allRoutes(t, server.Options{})
	for _, pattern := range srv.Routes() {
		method, path := concrete(pattern)
		if !isWrite(method) || method == "DELETE" {
			continue
		}
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
			resp := send(t, method, ts.URL+path, ct, strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"query":"q","text":"t"}`))
			code, msg := decodeError(t, resp)
			if resp.StatusCode == 415 && code == "unsupported_media_type" && strings.Contains(msg, "Content-Type") {
				continue
			}
			// Routes without their service answer 503 before looking at the body; that
			// reads nothing either.
			if resp.StatusCode == 503 {
				continue
			}
			t.Errorf("%s %s as %q: %d %s %q, want 415 naming the Content-Type", method, path, ct, resp.StatusCode, code, msg)
		}
	}
	// Multipart is taken only where uploads are documented.
	resp := send(t, "POST", ts.URL+"/api/chat", "multipart/form-data; boundary=x", strings.NewReader("--x--"))
	if resp.StatusCode != 415 {
		t.Errorf("multipart to /api/chat: %d, want 415", resp.StatusCode)
	}
}

// DNS rebinding: a page at attacker.example whose name resolves to 127.0.0.1 is
// same-origin with the server but for the Host it sends.
func TestForeignHostRefused(t *testing.T) {
	_, ts := allRoutes(t, server.Options{AllowedHosts: append(server.LoopbackHosts, "genai.internal")})
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"attacker.example:3000", false},
		{"attacker.example", false},
		{"127.0.0.1.attacker.example:3000", false},
		{"localhost:3000", true},
		{"LOCALHOST:3000", true},
		{"127.0.0.1:3000", true},
		{"[::1]:3000", true},
		{"genai.internal:8080", true},
	} {
		for _, route := range []string{"POST /api/chat", "GET /api/config", "GET /"} {
			method, path := concrete(route)
			var body io.Reader
			if method == "POST" {
				body = strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"stream":false}`)
			}
			resp := send(t, method, ts.URL+path, "application/json", body, "Host", tc.host)
			if tc.ok {
				if resp.StatusCode != 200 {
					t.Errorf("Host %s, %s: %d, want 200", tc.host, route, resp.StatusCode)
				}
				continue
			}
			code, msg := decodeError(t, resp)
			if resp.StatusCode != 403 || code != "forbidden" || !strings.Contains(msg, tc.host) || !strings.Contains(msg, "GENAI_ALLOWED_HOSTS") {
				t.Errorf("Host %s, %s: %d %s %q, want 403 naming the host and GENAI_ALLOWED_HOSTS", tc.host, route, resp.StatusCode, code, msg)
			}
		}
	}
}

// Every route but the probes, the pages and their assets needs the key: the table is the
// server's own route list, so a route added later is covered without editing the test.
func TestAuthOnEveryRoute(t *testing.T) {
	const key = "0123456789abcdef-key"
	srv, ts := allRoutes(t, server.Options{APIKeys: []string{key}})
	open := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /static/": true}
	protected := 0
	for _, pattern := range srv.Routes() {
		method, path := concrete(pattern)
		isPage := method == "GET" && !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/v1/") && path != "/metrics" && path != "/mcp" && !open[pattern]
		resp := send(t, method, ts.URL+path, "application/json", strings.NewReader(`{}`))
		if open[pattern] || isPage {
			if resp.StatusCode == 401 {
				t.Errorf("%s: 401, want it open", pattern)
			}
			continue
		}
		protected++
		if code, _ := decodeError(t, resp); resp.StatusCode != 401 || code != "unauthorized" {
			t.Errorf("%s without a key: %d %s, want 401 unauthorized", pattern, resp.StatusCode, code)
		}
		resp = send(t, method, ts.URL+path, "application/json", strings.NewReader(`{}`), "Authorization", "Bearer wrong-wrong-wrong-wrong")
		if resp.StatusCode != 401 {
			t.Errorf("%s with a wrong key: %d, want 401", pattern, resp.StatusCode)
		}
		resp = send(t, method, ts.URL+path, "application/json", strings.NewReader(`{}`), "Authorization", "Bearer "+key)
		if resp.StatusCode == 401 {
			t.Errorf("%s with the key: 401", pattern)
		}
	}
	if protected < 20 {
		t.Fatalf("only %d protected routes found", protected)
	}
	// An unknown route is not a way around the key either.
	if resp := send(t, "POST", ts.URL+"/api/unknown", "application/json", strings.NewReader(`{}`)); resp.StatusCode != 401 {
		t.Errorf("unknown route without a key: %d, want 401", resp.StatusCode)
	}
}

// rawRequest sends head, then body, on a new connection and returns the connection.
func rawRequest(t *testing.T, addr, head, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head+body); err != nil {
		t.Fatal(err)
	}
	return c
}

// answeredAndClosed reads c to its end, failing if the server holds it open past wait.
func answeredAndClosed(t *testing.T, c net.Conn, wait time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server held the connection open for %s (read so far %q): %v", wait, got, err)
	}
	return string(got)
}

// A client that announces a body and trickles one byte is cut when the body deadline
// passes, and its connection is freed, on routes that read the body and on routes that
// answer before reading it.
func TestTrickledBodyIsCut(t *testing.T) {
	_, ts := allRoutes(t, server.Options{BodyReadTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, path := range []string{"/api/chat", "/api/notes", "/api/unknown"} {
		c := rawRequest(t, addr, "POST "+path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", "{")
		got := answeredAndClosed(t, c, 10*time.Second)
		if path == "/api/chat" && !strings.Contains(got, " 504 ") {
			t.Errorf("%s: answer %q, want 504 timeout", path, firstLine(got))
		}
	}
}

// With keys, a request without one is refused before any of its body is read: the
// server answers at once and closes, whatever the client still has to send.
func TestUnauthenticatedBodyNeverRead(t *testing.T) {
	_, ts := allRoutes(t, server.Options{APIKeys: []string{"0123456789abcdef-key"}, BodyReadTimeout: time.Hour})
	addr := strings.TrimPrefix(ts.URL, "http://")
	c := rawRequest(t, addr, "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", "{")
	if got := answeredAndClosed(t, c, 10*time.Second); !strings.Contains(got, " 401 ") {
		t.Errorf("answer %q, want 401", firstLine(got))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// slowModel streams tokens for longer than the body deadline.
type slowModel struct{ tokens int }

func (m slowModel) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		for i := 0; i < m.tokens; i++ {
			select {
			case <-ctx.Done():
				yield(genai.Event{}, ctx.Err())
				return
			case <-time.After(100 * time.Millisecond):
			}
			if !yield(genai.Event{Text: "tok "}, nil) {
				return
			}
		}
		yield(genai.Event{Done: true, StopReason: "end_turn"}, nil)
	}
}

func (m slowModel) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	return nil, genai.Errorf(genai.EINVALID, "not used")
}

// The body deadline never cuts an answer: a stream five times as long ends with done.
func TestBodyDeadlineNeverCutsAStream(t *testing.T) {
	_, ts := allRoutes(t, server.Options{Chat: slowModel{tokens: 15}, BodyReadTimeout: 300 * time.Millisecond})
	resp := send(t, "POST", ts.URL+"/api/chat", "application/json", strings.NewReader(hi))
	sc := bufio.NewScanner(resp.Body)
	var last string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: ") {
			last = sc.Text()
		}
	}
	if last != "event: done" {
		t.Errorf("the stream ended with %q, want event: done", last)
	}
}

func TestRequestIDs(t *testing.T) {
	_, ts := allRoutes(t, server.Options{})
	resp := send(t, "GET", ts.URL+"/healthz", "", nil, "X-Request-Id", "trace-42.a")
	if got := resp.Header.Get("X-Request-Id"); got != "trace-42.a" {
		t.Errorf("a valid caller id: X-Request-Id %q", got)
	}
	resp = send(t, "GET", ts.URL+"/healthz", "", nil, "X-Request-Id", "bad id\twith spaces")
	if got := resp.Header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Errorf("an invalid caller id: X-Request-Id %q, want one of ours", got)
	}
}

// The contract documents every route the server serves.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := allRoutes(t, server.Options{})
	for _, pattern := range srv.Routes() {
		_, path, _ := strings.Cut(pattern, " ")
		if uiPath(path) {
			continue
		}
		if !bytes.Contains(doc, []byte(path)) {
			t.Errorf("docs/API.md does not document %s", pattern)
		}
	}
}

// uiPath reports whether path is one of the pages or their assets.
func uiPath(path string) bool {
	switch path {
	case "/{$}", "/image", "/mirror", "/notes", "/aoss-index", "/aoss-query", "/knowledge", "/retrieve", "/retrieve-generate", "/static/":
		return true
	}
	return false
}
