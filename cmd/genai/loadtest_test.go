package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"genai/bedrock/bedrocktest"
	"genai/loadtest"
)

// tally is what the Bedrock test server answered, counted by its Reply.
type tally struct {
	mu                  sync.Mutex
	answered            int
	inTokens, outTokens int
	throttled, refused  int
	reply               func(*bedrocktest.Request) bedrocktest.Reply
}

// newTally returns a tally whose reply echoes, throttles prompts with "throttle" in
// them (as Bedrock does, HTTP 429, every attempt) and refuses those with "refuse" (a
// ValidationException), counting each.
func newTally() *tally {
	t := &tally{}
	t.reply = func(req *bedrocktest.Request) bedrocktest.Reply {
		t.mu.Lock()
		defer t.mu.Unlock()
		text := req.LastUserText()
		switch {
		case strings.Contains(text, "throttle"):
			t.throttled++
			return bedrocktest.Reply{Error: &bedrocktest.APIError{Status: 429, Type: "ThrottlingException", Message: "Too many requests"}}
		case strings.Contains(text, "refuse"):
			t.refused++
			return bedrocktest.Reply{Error: &bedrocktest.APIError{Status: 400, Type: "ValidationException", Message: "refused by the test"}}
		}
		r := bedrocktest.EchoReply(req)
		// Usage of our own choosing, so that the load test's sums can only match if it
		// reads each surface's usage fields.
		r.InputTokens = 7 + len(text)%5
		r.OutputTokens = len(r.Tokens) + 3
		t.answered++
		t.inTokens += r.InputTokens
		t.outTokens += r.OutputTokens
		return r
	}
	return t
}

func (t *tally) get() (answered, in, out, throttled, refused int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.answered, t.inTokens, t.outTokens, t.throttled, t.refused
}

func promptsFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prompts.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runLoadtest runs "genai loadtest ARGS -json" and returns its report and its stderr.
func runLoadtest(t *testing.T, env map[string]string, args ...string) (*loadtest.Report, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := loadtestCommand(context.Background(), append(args, "-json"), func(k string) string { return env[k] }, &stdout, &stderr)
	if err != nil {
		t.Fatalf("genai loadtest %v: %v\n%s", args, err, stderr.String())
	}
	var rep loadtest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report %q: %v", stdout.String(), err)
	}
	return &rep, stderr.String()
}

// The load test's counts on each surface, streamed and not, are those of the Bedrock
// test server behind genai: requests, answers, input and output tokens, no errors.
func TestLoadtestCountsMatchBedrock(t *testing.T) {
	for _, tc := range []struct {
		surface string
		stream  bool
	}{
		{loadtest.SurfaceAPI, true}, {loadtest.SurfaceOpenAI, true}, {loadtest.SurfaceAnthropic, true},
		{loadtest.SurfaceAPI, false}, {loadtest.SurfaceOpenAI, false}, {loadtest.SurfaceAnthropic, false},
	} {
		t.Run(tc.surface+"/stream="+strconv.FormatBool(tc.stream), func(t *testing.T) {
			tl := newTally()
			up := bedrockUpstream(t, bedrocktest.Options{Reply: tl.reply})
			_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_API_KEYS": "sekrit-load-key-0123456789"})
			prompts := promptsFile(t, "tell me about tides", `"a JSON string prompt"`, `{"prompt": "an object prompt\nover two lines"}`)
			rep, progress := runLoadtest(t, map[string]string{"GENAI_LOADTEST_KEY": "sekrit-load-key-0123456789"},
				"-url", base, "-surface", tc.surface, "-users", "4", "-think", "0", "-n", "23",
				"-prompts", prompts, "-stream="+strconv.FormatBool(tc.stream))

			answered, in, out, _, _ := tl.get()
			st := up.Stats()
			if rep.Requests != 23 || rep.OK != 23 || rep.RateLimited != 0 || len(rep.Errors) != 0 {
				t.Errorf("report: %d requests, %d ok, %d 429s, errors %+v; want 23 ok", rep.Requests, rep.OK, rep.RateLimited, rep.Errors)
			}
			if answered != rep.OK || st.Completed != rep.OK || len(up.Requests()) != rep.Requests {
				t.Errorf("Bedrock answered %d (completed %d, received %d); the load test counted %d ok of %d",
					answered, st.Completed, len(up.Requests()), rep.OK, rep.Requests)
			}
			if rep.OutputTokens != out || rep.InputTokens != in {
				t.Errorf("tokens: load test %d in, %d out; Bedrock answered %d in, %d out", rep.InputTokens, rep.OutputTokens, in, out)
			}
			if rep.Latency == nil || rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 {
				t.Errorf("latency %+v", rep.Latency)
			}
			if tc.stream && (rep.TTFT == nil || rep.TTFT.P50 <= 0 || rep.TTFT.P50 > rep.Latency.Max) {
				t.Errorf("TTFT %+v beside latency %+v", rep.TTFT, rep.Latency)
			}
			if !tc.stream && rep.TTFT != nil {
				t.Errorf("TTFT %+v without streams", rep.TTFT)
			}
			if rep.RequestsPerSecond <= 0 || rep.OutputTokensPerSecond <= 0 {
				t.Errorf("rates %v requests/s, %v tokens/s", rep.RequestsPerSecond, rep.OutputTokensPerSecond)
			}
			// The prompts went in turn: the file's three, the second and third decoded.
			seen := map[string]int{}
			for _, r := range up.Requests() {
				seen[r.LastUserText()]++
			}
			if seen["tell me about tides"] != 8 || seen["a JSON string prompt"] != 8 || seen["an object prompt\nover two lines"] != 7 {
				t.Errorf("prompts sent %v; want the file's three in turn", seen)
			}
			if !strings.Contains(progress, "23 requests") {
				t.Errorf("no final progress line with the count on stderr: %q", progress)
			}
		})
	}
}

// Throttling that outlasts genai's retries reaches the load test as 429s, counted
// apart from the other errors, which are counted by kind; the answers still match
// what Bedrock answered.
func TestLoadtestCountsThrottlesAndErrors(t *testing.T) {
	for _, surface := range loadtest.Surfaces {
		t.Run(surface, func(t *testing.T) {
			tl := newTally()
			up := bedrockUpstream(t, bedrocktest.Options{Reply: tl.reply})
			_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
			prompts := promptsFile(t, "hello there", "please throttle me", "please refuse me")
			rep, _ := runLoadtest(t, nil, "-url", base, "-surface", surface, "-users", "3", "-think", "0", "-n", "9", "-prompts", prompts)

			answered, _, out, throttled, refused := tl.get()
			if rep.Requests != 9 || rep.OK != 3 || rep.RateLimited != 3 {
				t.Errorf("report: %d requests, %d ok, %d 429s; want 9, 3 ok, 3 429s", rep.Requests, rep.OK, rep.RateLimited)
			}
			if len(rep.Errors) != 1 || rep.Errors[0].Count != 3 || rep.Errors[0].Kind != "400 invalid_request" {
				t.Errorf("errors %+v; want 3× 400 invalid_request", rep.Errors)
			}
			if answered != rep.OK || up.Stats().Completed != rep.OK || rep.OutputTokens != out {
				t.Errorf("Bedrock answered %d (%d out tokens); the load test counted %d ok (%d out tokens)", answered, out, rep.OK, rep.OutputTokens)
			}
			if refused != 3 {
				t.Errorf("Bedrock refused %d; want 3, once each", refused)
			}
			if throttled < rep.RateLimited {
				t.Errorf("Bedrock throttled %d calls, fewer than the %d 429s counted", throttled, rep.RateLimited)
			}
		})
	}
}

// The key goes as a bearer token: without it genai refuses every request, and the
// load test counts the refusals by kind.
func TestLoadtestKey(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_API_KEYS": "the-right-key-0123456789"})
	rep, _ := runLoadtest(t, nil, "-url", base, "-surface", "openai", "-users", "2", "-think", "0", "-n", "4", "-key", "a-wrong-key-0123456789")
	if rep.OK != 0 || len(rep.Errors) != 1 || rep.Errors[0].Kind != "401 unauthorized" || rep.Errors[0].Count != 4 {
		t.Errorf("with a wrong key: %d ok, errors %+v; want 4× 401 unauthorized", rep.OK, rep.Errors)
	}
	rep, _ = runLoadtest(t, nil, "-url", base, "-surface", "openai", "-users", "2", "-think", "0", "-n", "4", "-key", "the-right-key-0123456789")
	if rep.OK != 4 {
		t.Errorf("with the key: %d ok, errors %+v", rep.OK, rep.Errors)
	}
}

// Bad flags are refused before any request, each error naming the flag.
func TestLoadtestFlags(t *testing.T) {
	empty := promptsFile(t, "", "  ")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-surface", "grpc"}, "-surface"},
		{[]string{"-users", "0"}, "-users"},
		{[]string{"-url", "127.0.0.1:3000"}, "-url"},
		{[]string{"-duration", "0"}, "-duration or n"},
		{[]string{"-prompts", empty}, "no prompts"},
		{[]string{"-prompts", filepath.Join(t.TempDir(), "missing")}, "-prompts"},
		{[]string{"-surface", "anthropic", "-max-tokens", "0"}, "-max-tokens"},
	} {
		var out bytes.Buffer
		err := loadtestCommand(context.Background(), tc.args, func(string) string { return "" }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("genai loadtest %v: %v; want an error naming %q", tc.args, err, tc.want)
		}
	}
	var out bytes.Buffer
	bad := promptsFile(t, "fine", `{"text": "no prompt field"}`)
	if err := loadtestCommand(context.Background(), []string{"-prompts", bad}, func(string) string { return "" }, &out, &out); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("a bad JSONL line: %v; want an error naming line 2", err)
	}
}
