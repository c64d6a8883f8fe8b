package loadtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// answer builds the response a surface reader is given.
func answer(status int, contentType, body string, header ...string) *http.Response {
	h := http.Header{"Content-Type": {contentType}}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

const sse = "text/event-stream"

// Each surface's stream, as genai writes it (docs/API.md), read for its first token,
// its usage and its failures.
func TestSurfaceStreams(t *testing.T) {
	for _, tc := range []struct {
		name, surface, body string
		in, out             int
		kind                string // "" for success
		ttft                bool
	}{
		{"api", SurfaceAPI, "event: start\ndata: {\"id\":\"1\",\"model\":\"m\"}\n\n" +
			"event: delta\ndata: {\"text\":\"Hello\"}\n\n: heartbeat\n\n" +
			"event: done\ndata: {\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":12,\"output_tokens\":40}}\n\n", 12, 40, "", true},
		{"api crlf", SurfaceAPI, "event: delta\r\ndata: {\"text\":\"Hi\"}\r\n\r\nevent: done\r\ndata: {\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}\r\n\r\n", 1, 2, "", true},
		{"api tool call first", SurfaceAPI, "event: tool_use\ndata: {\"index\":0,\"id\":\"t\",\"name\":\"f\"}\n\n" +
			"event: done\ndata: {\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":40,\"output_tokens\":12}}\n\n", 40, 12, "", true},
		{"api error event", SurfaceAPI, "event: delta\ndata: {\"text\":\"Hel\"}\n\nevent: error\ndata: {\"error\":{\"code\":\"timeout\",\"message\":\"60 s of silence\"}}\n\n", 0, 0, "stream timeout", true},
		{"api cut", SurfaceAPI, "event: delta\ndata: {\"text\":\"Hel\"}\n\n", 0, 0, "truncated", true},
		{"api no tokens", SurfaceAPI, "event: start\ndata: {}\n\nevent: done\ndata: {\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}\n\n", 3, 0, "", false},

		{"openai", SurfaceOpenAI, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
			"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":21,\"total_tokens\":30}}\n\n" +
			"data: [DONE]\n\n", 9, 21, "", true},
		{"openai reasoning first", SurfaceOpenAI, "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n" +
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":5}}\n\ndata: [DONE]\n\n", 1, 5, "", true},
		{"openai error chunk", SurfaceOpenAI, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
			"data: {\"error\":{\"message\":\"Bedrock failed\",\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_error\"}}\n\n", 0, 0, "stream upstream_error", true},
		{"openai no done", SurfaceOpenAI, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", 0, 0, "truncated", true},

		{"anthropic", SurfaceAnthropic, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n" +
			"event: ping\ndata: {\"type\":\"ping\"}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n" +
			"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":25,\"output_tokens\":15}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", 25, 15, "", true},
		{"anthropic error", SurfaceAnthropic, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":2}}}\n\n" +
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n", 2, 0, "stream overloaded_error", false},
		{"anthropic cut", SurfaceAnthropic, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"x\"}}\n\n" +
			"event: message_delta\ndata: {\"usage\":{\"output_tokens\":3}}\n\n", 0, 3, "truncated", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res Result
			surfaces[tc.surface].readAnswer(answer(200, sse+"; charset=utf-8", tc.body), time.Now().Add(-time.Millisecond), &res)
			if res.Kind != tc.kind {
				t.Errorf("kind %q (%s); want %q", res.Kind, res.Message, tc.kind)
			}
			if tc.kind == "" && (res.InputTokens != tc.in || res.OutputTokens != tc.out) {
				t.Errorf("usage %d in, %d out; want %d, %d", res.InputTokens, res.OutputTokens, tc.in, tc.out)
			}
			if (res.TTFT > 0) != tc.ttft {
				t.Errorf("TTFT %v; want one: %v", res.TTFT, tc.ttft)
			}
		})
	}
}

// Whole answers and HTTP errors, in each surface's shape.
func TestSurfaceAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, surface string
		status        int
		body          string
		header        []string
		in, out       int
		kind          string
		retryAfter    time.Duration
	}{
		{"api whole", SurfaceAPI, 200, `{"id":"1","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","usage":{"input_tokens":4,"output_tokens":6}}`, nil, 4, 6, "", 0},
		{"openai whole", SurfaceOpenAI, 200, `{"choices":[{"message":{"content":"Hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":8}}`, nil, 3, 8, "", 0},
		{"anthropic whole", SurfaceAnthropic, 200, `{"type":"message","usage":{"input_tokens":5,"output_tokens":7}}`, nil, 5, 7, "", 0},
		{"api 429", SurfaceAPI, 429, `{"error":{"code":"rate_limited","message":"over 60 requests a minute"}}`, []string{"Retry-After", "7"}, 0, 0, "429 rate_limited", 7 * time.Second},
		{"openai 429", SurfaceOpenAI, 429, `{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"throttled"}}`, []string{"Retry-After", "2"}, 0, 0, "429 throttled", 2 * time.Second},
		{"anthropic 502", SurfaceAnthropic, 502, `{"type":"error","error":{"type":"api_error","message":"Bedrock failed","code":"upstream_error"}}`, nil, 0, 0, "502 upstream_error", 0},
		{"proxy's own page", SurfaceAPI, 504, `<html>Gateway Timeout</html>`, nil, 0, 0, "504 not_json", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res Result
			surfaces[tc.surface].readAnswer(answer(tc.status, "application/json", tc.body, tc.header...), time.Now(), &res)
			if res.Kind != tc.kind || res.Status != tc.status || res.RetryAfter != tc.retryAfter {
				t.Errorf("kind %q status %d Retry-After %v; want %q %d %v", res.Kind, res.Status, res.RetryAfter, tc.kind, tc.status, tc.retryAfter)
			}
			if res.InputTokens != tc.in || res.OutputTokens != tc.out {
				t.Errorf("usage %d in, %d out; want %d, %d", res.InputTokens, res.OutputTokens, tc.in, tc.out)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v; want %v", v, got, want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds)
	if p.P50 != .1 || p.P95 != .19 || p.P99 != .198 || p.Max != .2 {
		t.Errorf("percentiles of 1..200 ms: %+v", p)
	}
	if p := percentiles([]time.Duration{time.Second}); p.P50 != 1 || p.P99 != 1 {
		t.Errorf("one value: %+v", p)
	}
	if percentiles(nil) != nil {
		t.Error("no values: want nil")
	}
}

// streamServer answers /api/chat with a short stream, after hold(n) for the nth
// request (from 0) returns.
func streamServer(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	var count atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // read first, as a server does: only then does a closed connection cancel r's context
		if r.URL.Path == "/api/config" {
			io.WriteString(w, `{"provider":"test","chat_model":"test-model"}`)
			return
		}
		if handle != nil && !handle(int(count.Add(1)-1), w, r) {
			return
		}
		w.Header().Set("Content-Type", sse)
		io.WriteString(w, "event: delta\ndata: {\"text\":\"Hi\"}\n\nevent: done\ndata: {\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A user answered 429 waits its Retry-After before its next request, though its think
// time is zero.
func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	srv := streamServer(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"code":"rate_limited","message":"over the limit"}}`)
			return false
		}
		return true
	})
	rep, err := Run(context.Background(), Options{URL: srv.URL, Surface: SurfaceAPI, Users: 1, Requests: 3, Prompts: []string{"hi"}, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RateLimited != 1 || rep.OK != 2 || len(rep.Errors) != 0 || rep.OutputTokens != 4 || rep.Model != "test-model" {
		t.Fatalf("report %+v", rep)
	}
	if gap := arrivals[1].Sub(arrivals[0]); gap < time.Second {
		t.Errorf("the next request came %v after the 429; want at least its Retry-After, 1s", gap)
	}
}

// An interrupt ends the test at once and still reports: what was answered counts, the
// requests cut count as cancelled, not as errors.
func TestInterruptStillReports(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := streamServer(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n < 3 {
			return true
		}
		cancel()             // Ctrl-C while this request is under way
		<-r.Context().Done() // an answer that would never come
		return false
	})
	rep, err := Run(ctx, Options{URL: srv.URL, Surface: SurfaceAPI, Users: 1, Duration: time.Hour, Prompts: []string{"hi"}, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.OK != 3 || rep.Requests != 3 || rep.Cancelled != 1 || len(rep.Errors) != 0 {
		t.Errorf("report %+v; want 3 ok and 1 cancelled, interrupted", rep)
	}
}

// A duration ends the test: no request starts after it, and the one under way finishes
// and counts.
func TestDurationLetsRequestsFinish(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	srv := streamServer(t, func(n int, w http.ResponseWriter, r *http.Request) bool {
		once.Do(func() { <-release }) // the first request outlives the duration
		return true
	})
	go func() { time.Sleep(300 * time.Millisecond); close(release) }()
	rep, err := Run(context.Background(), Options{URL: srv.URL, Surface: SurfaceAPI, Users: 1, Duration: 100 * time.Millisecond, Prompts: []string{"hi"}, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 1 || rep.OK != 1 || rep.Cancelled != 0 {
		t.Errorf("report %+v; want the one request, finished", rep)
	}
}

func TestValidate(t *testing.T) {
	good := Options{URL: "http://127.0.0.1:3000", Surface: SurfaceAPI, Users: 1, Requests: 1, Prompts: []string{"hi"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for want, mutate := range map[string]func(*Options){
		"url":         func(o *Options) { o.URL = "ftp://x" },
		"surface":     func(o *Options) { o.Surface = "grpc" },
		"users":       func(o *Options) { o.Users = 0 },
		"think":       func(o *Options) { o.Think = -time.Second },
		"duration or": func(o *Options) { o.Requests = 0 },
		"prompts[1]":  func(o *Options) { o.Prompts = []string{"a", " "} },
		"max-tokens":  func(o *Options) { o.MaxTokens = -1 },
	} {
		o := good
		mutate(&o)
		if err := o.Validate(); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}
