package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"genai/bedrock/bedrocktest"
	"genai/redis/redistest"
)

// TestGenaiChildProcess is not a test: run by startChild as a child process, it serves
// genai with the settings of GENAI_TEST_CHILD_ENV (JSON) over its own environment,
// prints its URL, and serves until its stdin closes.
func TestGenaiChildProcess(t *testing.T) {
	raw := os.Getenv("GENAI_TEST_CHILD_ENV")
	if raw == "" {
		t.Skip("the child process of the tests of several genai processes")
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		t.Fatal(err)
	}
	m := NewMain()
	if err := m.ParseFlags(nil, func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	fmt.Println("http://" + m.Listener.Addr().String())
	bufio.NewReader(os.Stdin).ReadString('\n')
	m.Close()
}

// startChild starts genai in a process of its own with env over this environment (a
// data dir of its own unless env names one), and returns its base URL; it ends with the
// test.
func startChild(t *testing.T, env map[string]string) string {
	t.Helper()
	env = maps.Clone(env)
	env["GENAI_ADDR"] = "127.0.0.1:0"
	if env["GENAI_DATA_DIR"] == "" {
		env["GENAI_DATA_DIR"] = t.TempDir()
	}
	raw, _ := json.Marshal(env)
	child := exec.Command(os.Args[0], "-test.run=^TestGenaiChildProcess$")
	child.Env = append(os.Environ(), "GENAI_TEST_CHILD_ENV="+string(raw))
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { child.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			child.Process.Kill()
			<-done
		}
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(url, "http://") {
		t.Fatalf("the child printed %q: %v", url, err)
	}
	return strings.TrimSpace(url)
}

// awayFromMinuteEnd waits, when the minute is about to end, for the next one, so that
// a burst of calls falls in one window.
func awayFromMinuteEnd(t *testing.T, need time.Duration) {
	now := time.Now()
	if left := now.Truncate(time.Minute).Add(time.Minute).Sub(now); left < need {
		t.Logf("waiting %v for the next minute", left)
		time.Sleep(left + 100*time.Millisecond)
	}
}

// Two genai processes on one Redis behind one key of requests_per_minute N, hammered
// at once: no more than N+1 calls between them are answered (the counter is atomic:
// exactly N), and the rest are 429; a token budget spent on one is spent on the other;
// /api/usage on either reports both.
func TestTwoProcessesShareOneLimit(t *testing.T) {
	rds := redistest.Start(t)
	up := bedrockUpstream(t, bedrocktest.Options{})
	const n = 10
	// A generous Redis timeout: 40 calls at once on a loaded machine must not fail open.
	env := map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_REDIS_URL": rds.URL, "GENAI_REDIS_TIMEOUT": "5s", "GENAI_API_KEYS_FILE": keysFile(t,
		keyEntry{"name": "admin", "admin": true},
		keyEntry{"name": "hammer", "requests_per_minute": n},
		keyEntry{"name": "budget", "tokens_per_day": 1})}
	a, b := startChild(t, env), startChild(t, env)

	awayFromMinuteEnd(t, 15*time.Second)
	before := len(up.Requests())
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range 40 {
		base := a
		if i%2 == 1 {
			base = b
		}
		wg.Go(func() {
			got := rawCall(t, base+"/api/chat", secretOf("hammer"), `{"messages":[{"role":"user","content":"hello there"}],"stream":false}`)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case got == nil:
				codes["ok"]++
			case got.status == 429 && got.code == "rate_limited" && got.retryAfter > 0:
				codes["rate_limited"]++
			default:
				codes[fmt.Sprintf("%d %s", got.status, got.code)]++
			}
		})
	}
	wg.Wait()
	if codes["ok"] < n || codes["ok"] > n+1 || codes["ok"]+codes["rate_limited"] != 40 {
		t.Errorf("40 calls at once on two processes with a limit of %d: %v", n, codes)
	}
	if got := len(up.Requests()) - before; got != codes["ok"] {
		t.Errorf("Bedrock got %d calls, %d were answered", got, codes["ok"])
	}

	// The budget spent through a is spent for b.
	if got := rawCall(t, a+"/api/chat", secretOf("budget"), hello); got != nil {
		t.Fatalf("budget's first call: %+v", got)
	}
	got := rawCall(t, b+"/api/chat", secretOf("budget"), hello)
	if got == nil || got.status != 429 || !strings.Contains(got.message, "tokens_per_day") {
		t.Errorf("budget's call on the other process: %+v, want 429 over tokens_per_day", got)
	}

	for _, base := range []string{a, b} {
		u := getUsage(t, base, secretOf("admin"))
		requests := map[string]int64{}
		for _, k := range u.Keys {
			for _, m := range k.Models {
				requests[k.Key] += m.Requests
			}
		}
		if requests["hammer"] != int64(codes["ok"]) || requests["budget"] != 1 {
			t.Errorf("/api/usage on %s: %v, want hammer %d and budget 1", base, requests, codes["ok"])
		}
	}
}

// Redis that hangs or dies mid-run: with GENAI_REDIS_FAIL=open (the default), calls go
// on being answered, without limits, each within the Redis timeout, never hanging;
// failures are counted in /metrics and /readyz names redis. With
// GENAI_REDIS_FAIL=closed, calls are refused 503 unavailable, as fast.
func TestRedisDownMidRun(t *testing.T) {
	rds := redistest.Start(t)
	bedrockUpstream(t, bedrocktest.Options{})
	keys := keysFile(t, keyEntry{"name": "admin", "admin": true}, keyEntry{"name": "team-a", "requests_per_minute": 1000})
	env := map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_REDIS_URL": rds.URL, "GENAI_API_KEYS_FILE": keys, "GENAI_READY_INTERVAL": "200ms", "GENAI_REDIS_TIMEOUT": "500ms"}
	a, b := startChild(t, env), startChild(t, env)
	closedEnv := map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_REDIS_URL": rds.URL, "GENAI_API_KEYS_FILE": keys, "GENAI_REDIS_FAIL": "closed", "GENAI_REDIS_TIMEOUT": "500ms"}
	closed := startChild(t, closedEnv)

	// A client that gives up long after the documented bound: a hang fails the test
	// instead of the test run.
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(base string) (int, time.Duration) {
		req, _ := http.NewRequest("POST", base+"/api/chat", strings.NewReader(`{"messages":[{"role":"user","content":"hello there"}],"stream":false}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", secretOf("team-a"))
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	for _, base := range []string{a, b, closed} {
		if status, _ := call(base); status != 200 {
			t.Fatalf("%s with Redis up: %d", base, status)
		}
	}

	for _, phase := range []struct {
		name   string
		break_ func() error
	}{{"stopped", rds.Stop}, {"killed", func() error { rds.Kill(); return nil }}} {
		if err := phase.break_(); err != nil {
			t.Fatal(err)
		}
		var slowest time.Duration
		for range 3 {
			for _, base := range []string{a, b} {
				status, took := call(base)
				if status != 200 {
					t.Errorf("Redis %s, failing open: %d, want 200", phase.name, status)
				}
				slowest = max(slowest, took)
			}
			status, took := call(closed)
			if status != 503 {
				t.Errorf("Redis %s, failing closed: %d, want 503", phase.name, status)
			}
			slowest = max(slowest, took)
		}
		t.Logf("Redis %s: slowest call %v (GENAI_REDIS_TIMEOUT=500ms)", phase.name, slowest)
	}
	if body := waitReady(t, a, 503); !strings.Contains(body, `"redis"`) {
		t.Errorf("/readyz with Redis down: %s", body)
	}
	m := regexp.MustCompile(`genai_usage_counter_errors_total\{op="admit"\} (\d+)`).FindStringSubmatch(metricsText(t, a, secretOf("admin")))
	if m == nil {
		t.Fatal("/metrics has no genai_usage_counter_errors_total{op=\"admit\"}")
	}
	if n, _ := strconv.Atoi(m[1]); n < 6 {
		t.Errorf("%d admission failures counted, want 6", n)
	}
}
