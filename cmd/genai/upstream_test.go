package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"genai/bedrock/bedrocktest"
	"genai/openai/openaitest"
)

// A frozen upstream, through the real server and the providers' official SDK clients:
// every chat route answers 504 timeout before its first byte, or ends its stream with an
// error event after it; the upstream call is cancelled; no goroutine is left behind.
// The deadlines are short for a quick test; nothing asserts how long anything took.

// frozen is a test upstream that can be frozen before its headers (afterTokens < 0) or
// after some tokens of a stream.
type frozen struct {
	env      map[string]string
	freeze   func(afterTokens int)
	thaw     func()
	canceled func(t *testing.T) // waits until the upstream saw one more call cancelled
	kill     func()
}

var tokens4 = []string{"one ", "two ", "three ", "four"}

func frozenBedrock(t *testing.T) frozen {
	up := bedrockUpstream(t, bedrocktest.Options{Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: tokens4}
	}})
	seen := 0
	return frozen{
		env: map[string]string{"GENAI_PROVIDER": "bedrock"},
		freeze: func(n int) {
			up.SetHang(&bedrocktest.Hang{BeforeHeaders: n < 0, AfterTokens: n})
		},
		thaw: func() { up.SetHang(nil) },
		canceled: func(t *testing.T) {
			t.Helper()
			seen++
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := up.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Canceled >= seen && s.Hung == 0 }); err != nil {
				t.Errorf("Bedrock did not see the call cancelled: %v", err)
			}
		},
		kill: up.Close,
	}
}

func frozenOpenAI(t *testing.T) frozen {
	isolateAWS(t)
	up := openaitest.New(openaitest.Config{Reply: func(*openaitest.ChatRequest) []string { return tokens4 }})
	t.Cleanup(up.Close)
	return frozen{
		env: map[string]string{"GENAI_OPENAI_BASE_URL": up.URL, "GENAI_CHAT_MODEL": "test-model"},
		freeze: func(n int) {
			up.SetHang(&openaitest.Hang{BeforeHeaders: n < 0, AfterTokens: n})
		},
		thaw: func() { up.SetHang(nil) },
		canceled: func(t *testing.T) {
			t.Helper()
			select {
			case <-up.Canceled():
			case <-time.After(10 * time.Second):
				t.Error("the OpenAI-compatible endpoint did not see the call cancelled")
			}
		},
		kill: up.Close,
	}
}

var frozenProviders = []struct {
	name  string
	start func(t *testing.T) frozen
}{{"bedrock", frozenBedrock}, {"openai", frozenOpenAI}}

// chatRoutes are the chat routes and their bodies, streamed and not.
var chatRoutes = []struct {
	name, path, body string
	stream           bool
}{
	{"api chat streamed", "/api/chat", `{"messages":[{"role":"user","content":"hi"}]}`, true},
	{"api chat whole", "/api/chat", `{"messages":[{"role":"user","content":"hi"}],"stream":false}`, false},
	{"v1 streamed", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`, true},
	{"v1 whole", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, false},
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp.StatusCode, string(b)
}

func TestFrozenUpstreamTimesOut(t *testing.T) {
	for _, p := range frozenProviders {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t)
			env := up.env
			env["GENAI_UPSTREAM_FIRST_EVENT_TIMEOUT"] = "150ms"
			env["GENAI_UPSTREAM_BETWEEN_EVENTS_TIMEOUT"] = "150ms"
			env["GENAI_UPSTREAM_CALL_TIMEOUT"] = "400ms"
			env["GENAI_READY_INTERVAL"] = "1h" // no background checks during the test
			_, base := start(t, env)
			ignore := goleak.IgnoreCurrent()
			for _, r := range chatRoutes {
				t.Run(r.name+" before the first byte", func(t *testing.T) {
					up.freeze(-1)
					defer up.thaw()
					status, body := post(t, base+r.path, r.body)
					var e struct {
						Error struct{ Code, Message string }
					}
					json.Unmarshal([]byte(body), &e)
					if status != 504 || e.Error.Code != "timeout" || !strings.Contains(e.Error.Message, "deadline") {
						t.Errorf("got %d %s; want 504 timeout naming the deadline", status, body)
					}
					up.canceled(t)
				})
				if !r.stream {
					continue
				}
				t.Run(r.name+" after two tokens", func(t *testing.T) {
					up.freeze(2)
					defer up.thaw()
					status, body := post(t, base+r.path, r.body)
					if status != 200 || !strings.Contains(body, "two") || !strings.Contains(body, `"code":"timeout"`) ||
						!strings.Contains(body, "between-events deadline") {
						t.Errorf("got %d %s; want 200, the text so far, then an error event with code timeout", status, body)
					}
					if strings.Contains(body, "three") {
						t.Errorf("text after the upstream froze: %s", body)
					}
					up.canceled(t)
				})
			}
			http.DefaultClient.CloseIdleConnections()
			goleak.VerifyNone(t, ignore)
		})
	}
}

// getReady returns the status and body of /readyz.
func getReady(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers want, and returns the body; the background
// check runs every GENAI_READY_INTERVAL, so the answer changes within a few.
func waitReady(t *testing.T, base string, want int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body := getReady(t, base)
		if status == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz stayed %d %s; want %d", status, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaks fails when a /readyz body shows more than the dependencies' names.
func leaks(t *testing.T, body string, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, "http", "127.0.0.1", "does not answer", "no answer", "refused", "/") {
		if strings.Contains(body, s) {
			t.Errorf("/readyz shows %q: %s", s, body)
		}
	}
}

func TestReadyzFollowsTheProvider(t *testing.T) {
	for _, p := range frozenProviders {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t)
			env := up.env
			env["GENAI_READY_INTERVAL"] = "200ms"
			dir := t.TempDir()
			env["GENAI_DATA_DIR"] = dir
			_, base := start(t, env)
			if status, body := getReady(t, base); status != 200 || body != `{"status":"ready"}`+"\n" {
				t.Errorf("/readyz with the provider up: %d %s", status, body)
			}

			up.freeze(-1)
			body := waitReady(t, base, 503)
			if !strings.Contains(body, `"failing":["provider"]`) {
				t.Errorf("/readyz with the provider frozen: %s; want failing provider", body)
			}
			leaks(t, body, dir)

			up.thaw()
			waitReady(t, base, 200)

			up.kill()
			body = waitReady(t, base, 503)
			if !strings.Contains(body, `"failing":["provider"]`) {
				t.Errorf("/readyz with the provider killed: %s; want failing provider", body)
			}
			leaks(t, body, dir)
		})
	}
}

// A full disk under the embedded store makes the server not ready, naming the store;
// freeing space makes it ready again. It needs a small file system of its own, so it
// mounts a tmpfs (see smallDisk).
func TestReadyzWithTheDiskFull(t *testing.T) {
	isolateAWS(t)
	dir := smallDisk(t, "4m")
	if dir == "" {
		return // ran in a user namespace of its own
	}
	_, base := start(t, map[string]string{"GENAI_DATA_DIR": dir, "GENAI_PROVIDER": "none", "GENAI_READY_INTERVAL": "100ms"})
	waitReady(t, base, 200)

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	body := waitReady(t, base, 503)
	if !strings.Contains(body, `"failing":["store"]`) {
		t.Errorf("/readyz with the disk full: %s; want failing store", body)
	}
	leaks(t, body, dir, "space")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitReady(t, base, 200)
}

func TestDeadlineSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GENAI_UPSTREAM_FIRST_EVENT_TIMEOUT": "soon"}, "GENAI_UPSTREAM_FIRST_EVENT_TIMEOUT: must be a duration"},
		{map[string]string{"GENAI_UPSTREAM_CALL_TIMEOUT": "-1s"}, "GENAI_UPSTREAM_CALL_TIMEOUT: must be a duration"},
		{map[string]string{"GENAI_READY_INTERVAL": "0"}, "GENAI_READY_INTERVAL: must be a positive duration"},
	} {
		_, err := parseConfig("genai", nil, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want one containing %q", tc.env, err, tc.want)
		}
	}
	c, err := parseConfig("genai", nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if d := c.deadlines(); d.FirstEvent != 90*time.Second || d.BetweenEvents != time.Minute || d.Call != 10*time.Minute || c.ReadyInterval != 10*time.Second {
		t.Errorf("defaults %+v, ready interval %v", d, c.ReadyInterval)
	}
	c, err = parseConfig("genai", []string{"-upstream-between-events-timeout", "0"}, func(string) string { return "" })
	if err != nil || c.deadlines().BetweenEvents != 0 {
		t.Errorf("0 should set no bound: %v %v", c, err)
	}
}

// BenchmarkReadyz measures /readyz against /healthz, which checks nothing, on the same
// server in the same run: the background checks leave a probe the cost of a read.
func BenchmarkReadyz(b *testing.B) {
	m := NewMain()
	env := map[string]string{"GENAI_DATA_DIR": b.TempDir(), "GENAI_ADDR": "127.0.0.1:0", "GENAI_PROVIDER": "none", "GENAI_LOG_LEVEL": "error"}
	if err := m.ParseFlags(nil, func(k string) string { return env[k] }); err != nil {
		b.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Listener.Addr().String()
	per := func(path string) time.Duration {
		const n = 2000
		t0 := time.Now()
		for range n {
			resp, err := http.Get(base + path)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return time.Since(t0) / n
	}
	per("/healthz") // warm the connection
	for b.Loop() {
		healthz, readyz := per("/healthz"), per("/readyz")
		// What a probe would cost if it ran the checks itself, as it did before.
		const rounds = 50
		t0 := time.Now()
		for range rounds {
			m.readiness.round(context.Background())
		}
		round := time.Since(t0) / rounds
		b.ReportMetric(float64(healthz.Microseconds()), "healthz-µs")
		b.ReportMetric(float64(readyz.Microseconds()), "readyz-µs")
		b.ReportMetric(float64(round.Microseconds()), "check-round-µs")
		b.ReportMetric(float64(readyz)/float64(healthz), "readyz/healthz")
	}
}
