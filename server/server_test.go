package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"genai"
	"genai/server"
)

// scripted is a ChatModel that plays back a script, for the HTTP mechanics of the
// server. The providers themselves are tested against their wire protocols in their
// packages, and end to end in cmd/genai.
type scripted struct {
	events    []genai.Event
	err       error // yielded after events
	block     bool  // after events, wait for the context to end
	cancelled chan struct{}
	panics    bool
	got       *genai.ChatRequest
}

func (s *scripted) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	s.got = req
	return func(yield func(genai.Event, error) bool) {
		if s.panics {
			panic("model exploded")
		}
		for _, ev := range s.events {
			if !yield(ev, nil) {
				return
			}
		}
		if s.block {
			<-ctx.Done()
			close(s.cancelled)
			yield(genai.Event{}, ctx.Err())
			return
		}
		if s.err != nil {
			yield(genai.Event{}, s.err)
		}
	}
}

func (s *scripted) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	s.got = req
	if s.err != nil {
		return nil, s.err
	}
	return &genai.ChatResponse{Model: req.Model, Text: "whole answer", StopReason: "end_turn", Usage: genai.Usage{InputTokens: 3, OutputTokens: 2}}, nil
}

var answer = []genai.Event{{Text: "Hel"}, {Text: "lo"}, {Done: true, StopReason: "end_turn", Usage: genai.Usage{InputTokens: 5, OutputTokens: 2}}}

const hi = `{"messages":[{"role":"user","content":"hi"}]}`

func newServer(t *testing.T, opts server.Options) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(server.New(opts))
	t.Cleanup(ts.Close)
	return ts
}

type sseEvent struct {
	name string
	data map[string]any
}

func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(r)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("data line is not JSON: %q", line)
			}
			out = append(out, sseEvent{name, d})
		}
	}
	return out
}

func post(t *testing.T, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decodeError(t *testing.T, resp *http.Response) (code, msg string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	return e.Error.Code, e.Error.Message
}

func TestChatStreamsEvents(t *testing.T) {
	m := &scripted{events: answer}
	ts := newServer(t, server.Options{Chat: m, Provider: "test", ChatModel: "default-model", MaxTokens: 77})
	resp := post(t, ts.URL+"/api/chat", hi)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := readSSE(t, resp.Body)
	var names []string
	for _, e := range evs {
		names = append(names, e.name)
	}
	if got := strings.Join(names, ","); got != "start,delta,delta,done" {
		t.Fatalf("events %s, want start,delta,delta,done", got)
	}
	if evs[0].data["model"] != "default-model" || !strings.HasPrefix(evs[0].data["id"].(string), "chat_") {
		t.Errorf("start event %v", evs[0].data)
	}
	if evs[1].data["text"].(string)+evs[2].data["text"].(string) != "Hello" {
		t.Errorf("deltas %v %v", evs[1].data, evs[2].data)
	}
	usage := evs[3].data["usage"].(map[string]any)
	if evs[3].data["stop_reason"] != "end_turn" || usage["input_tokens"] != 5.0 || usage["output_tokens"] != 2.0 {
		t.Errorf("done event %v", evs[3].data)
	}
	if m.got.Model != "default-model" || m.got.MaxTokens != 77 {
		t.Errorf("defaults not applied: model %q max_tokens %d", m.got.Model, m.got.MaxTokens)
	}
}

func TestChatNotStreamed(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{}, ChatModel: "m"})
	resp := post(t, ts.URL+"/api/chat", `{"stream":false,"messages":[{"role":"user","content":"hi"}]}`)
	var got struct {
		ID, Model  string
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Text string }
		Usage      genai.Usage
	}
	json.NewDecoder(resp.Body).Decode(&got)
	if resp.StatusCode != 200 || len(got.Content) != 1 || got.Content[0].Text != "whole answer" || got.Usage.OutputTokens != 2 ||
		got.Model != "m" || got.StopReason != "end_turn" || !strings.HasPrefix(got.ID, "chat_") {
		t.Errorf("status %d body %+v", resp.StatusCode, got)
	}
}

func TestChatErrorBeforeFirstByteIsHTTPError(t *testing.T) {
	m := &scripted{err: &genai.Error{Code: genai.ETHROTTLED, Message: "slow down", RetryAfter: 2500 * time.Millisecond}}
	ts := newServer(t, server.Options{Chat: m})
	resp := post(t, ts.URL+"/api/chat", hi)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("status %d Retry-After %q, want 429 and 3", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, _ := decodeError(t, resp); code != "throttled" {
		t.Errorf("code %q", code)
	}
}

func TestChatErrorAfterFirstByteIsErrorEvent(t *testing.T) {
	m := &scripted{events: answer[:1], err: genai.Errorf(genai.EUPSTREAM, "model stream broke")}
	ts := newServer(t, server.Options{Chat: m})
	resp := post(t, ts.URL+"/api/chat", hi)
	evs := readSSE(t, resp.Body)
	if len(evs) != 3 || evs[1].data["text"] != "Hel" || evs[2].name != "error" {
		t.Fatalf("events %+v", evs)
	}
	// The upstream's own text stays in the log: the client gets a fixed message and
	// the request id to quote, which is also the response's X-Request-Id.
	e := evs[2].data["error"].(map[string]any)
	id := resp.Header.Get("X-Request-Id")
	msg, _ := e["message"].(string)
	if e["code"] != "upstream_error" || strings.Contains(msg, "model stream broke") || id == "" || e["request_id"] != id || !strings.Contains(msg, id) {
		t.Errorf("error event %v (X-Request-Id %q)", e, id)
	}
}

func TestClientDisconnectCancelsModel(t *testing.T) {
	m := &scripted{events: answer[:1], block: true, cancelled: make(chan struct{})}
	ts := newServer(t, server.Options{Chat: m})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/api/chat", strings.NewReader(hi))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for { // read up to the first delta, then hang up
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "event: delta") {
			break
		}
	}
	cancel()
	resp.Body.Close()
	select {
	case <-m.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the model's context was not cancelled after the client went away")
	}
}

func TestWorkshopRouteStreamsPlainText(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{events: answer}})
	for _, path := range []string{"/bedrock-haiku", "/claude-haiku-image"} {
		resp := post(t, ts.URL+path, hi)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "Hello" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: status %d body %q", path, resp.StatusCode, body)
		}
	}
}

func TestWorkshopRouteCutsOnMidStreamFailure(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{events: answer[:1], err: genai.Errorf(genai.EUPSTREAM, "broke")}})
	resp := post(t, ts.URL+"/bedrock-haiku", hi)
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("a failed stream read as complete: %q", body)
	}
	if string(body) != "Hel" {
		t.Errorf("text before the failure: %q", body)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{events: answer}})
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		code, msg                       string
	}{
		{"unknown route", "GET", "/api/nope", "", "", 404, "not_found", "no route GET /api/nope"},
		{"wrong method", "GET", "/api/chat", "", "", 405, "invalid_request", "method GET is not allowed"},
		{"malformed", "POST", "/api/chat", "application/json", `{"messages":`, 400, "invalid_request", "body: malformed JSON"},
		{"field error", "POST", "/api/chat", "application/json", `{"messages":[{"role":"bot","content":"x"}]}`, 400, "invalid_request", "messages[0].role"},
		{"content type", "POST", "/api/chat", "application/xml", `<x/>`, 415, "unsupported_media_type", "Content-Type"},
		{"50 MB body", "POST", "/api/chat", "application/json", `{"messages":[{"role":"user","content":"` + strings.Repeat("a", 50<<20) + `"}]}`, 413, "too_large", "body:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			code, msg := decodeError(t, resp)
			if resp.StatusCode != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("got %d %s %q; want %d %s containing %q", resp.StatusCode, code, msg, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestChunkedBodyOverLimit(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{events: answer}, MaxBodyBytes: 1 << 20})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"messages":[{"role":"user","content":"`))
		chunk := strings.Repeat("a", 64<<10)
		for i := 0; i < 40; i++ {
			if _, err := pw.Write([]byte(chunk)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", ts.URL+"/api/chat", pr) // no Content-Length: chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if code, _ := decodeError(t, resp); resp.StatusCode != 413 || code != "too_large" {
		t.Errorf("got %d %s, want 413 too_large", resp.StatusCode, code)
	}
}

func TestNoProvider(t *testing.T) {
	ts := newServer(t, server.Options{})
	resp := post(t, ts.URL+"/api/chat", hi)
	code, msg := decodeError(t, resp)
	if resp.StatusCode != 503 || code != "no_provider" || !strings.Contains(msg, "GENAI_PROVIDER=bedrock") || !strings.Contains(msg, "GENAI_OPENAI_BASE_URL") {
		t.Errorf("got %d %s %q", resp.StatusCode, code, msg)
	}
	resp, _ = http.Get(ts.URL + "/api/config")
	var cfg struct {
		Features      map[string]bool
		NoProviderFix string `json:"no_provider_fix"`
	}
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg.Features["chat"] || cfg.NoProviderFix == "" {
		t.Errorf("config %+v should say chat is off and how to fix it", cfg)
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{panics: true}})
	resp := post(t, ts.URL+"/api/chat", hi)
	if code, msg := decodeError(t, resp); resp.StatusCode != 500 || code != "internal" || strings.Contains(msg, "exploded") {
		t.Errorf("got %d %s %q; want 500 internal without the panic's detail", resp.StatusCode, code, msg)
	}
}

func TestAPIKeys(t *testing.T) {
	const key = "0123456789abcdef-key"
	ts := newServer(t, server.Options{Chat: &scripted{events: answer}, APIKeys: []string{key}})
	if resp := post(t, ts.URL+"/api/chat", hi); resp.StatusCode != 401 {
		t.Errorf("no key: status %d, want 401", resp.StatusCode)
	} else if code, _ := decodeError(t, resp); code != "unauthorized" {
		t.Errorf("no key: code %q", code)
	}
	if resp := post(t, ts.URL+"/bedrock-haiku", hi, "Authorization", "Bearer wrong-key-wrong-key"); resp.StatusCode != 401 {
		t.Errorf("wrong key: status %d", resp.StatusCode)
	}
	if resp := post(t, ts.URL+"/api/chat", hi, "Authorization", "Bearer "+key); resp.StatusCode != 200 {
		t.Errorf("bearer key: status %d", resp.StatusCode)
	}
	if resp := post(t, ts.URL+"/api/chat", hi, "X-API-Key", key); resp.StatusCode != 200 {
		t.Errorf("X-API-Key: status %d", resp.StatusCode)
	}
	for _, open := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.URL + open)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s should stay open: %v %v", open, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	if resp, _ := http.Get(ts.URL + "/metrics"); resp.StatusCode != 401 {
		t.Errorf("/metrics without GENAI_METRICS_PUBLIC: status %d, want 401", resp.StatusCode)
	}
}

func TestCORSClosedUnlessConfigured(t *testing.T) {
	for _, tc := range []struct {
		origins []string
		want    string
	}{{nil, ""}, {[]string{"https://app.example"}, "https://app.example"}} {
		ts := newServer(t, server.Options{CORSOrigins: tc.origins})
		req, _ := http.NewRequest("OPTIONS", ts.URL+"/api/chat", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
			t.Errorf("origins %v: Allow-Origin %q, want %q", tc.origins, got, tc.want)
		}
	}
}

func TestMetricsCountTokensAndInvocations(t *testing.T) {
	ts := newServer(t, server.Options{Chat: &scripted{events: answer}, Provider: "test", ChatModel: "m", MetricsPublic: true})
	resp := post(t, ts.URL+"/api/chat", hi)
	io.ReadAll(resp.Body)
	resp, _ = http.Get(ts.URL + "/metrics")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`genai_model_invocations_total{model="m",outcome="ok",provider="test"} 1`,
		`genai_model_tokens_total{direction="output",model="m",provider="test"} 2`,
		`genai_model_time_to_first_token_seconds_count{model="m",provider="test"} 1`,
		`genai_http_requests_total{code="200",route="POST /api/chat"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
