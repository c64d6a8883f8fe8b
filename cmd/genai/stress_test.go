package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"genai/bedrock/bedrocktest"
)

// bedrockUpstream starts a Bedrock test server and points the AWS SDK at it.
func bedrockUpstream(t *testing.T, opts bedrocktest.Options) *bedrocktest.Server {
	t.Helper()
	isolateAWS(t)
	up := bedrocktest.NewServer(opts)
	t.Cleanup(up.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", up.URL)
	return up
}

const hello = `{"messages":[{"role":"user","content":"hello there"}]}`

func TestClientDisconnectCancelsBedrockCall(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{TokenDelay: 200 * time.Millisecond,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply {
			return bedrocktest.Reply{Tokens: strings.Split(strings.Repeat("x", 100), "")}
		}})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/chat", strings.NewReader(hello))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "event: delta") {
			break
		}
	}
	cancel() // the browser's Stop, or a closed tab
	resp.Body.Close()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := up.Wait(wctx, func(s bedrocktest.Stats) bool { return s.Canceled == 1 && s.Active == 0 }); err != nil {
		t.Fatalf("the upstream call was not cancelled when the client went away: %v", err)
	}
}

func TestThrottledBedrockIs429WithRetryAfter(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{ThrottleFirst: math.MaxInt})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(hello))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 429 || e.Error.Code != "throttled" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("got %d %q Retry-After %q; want 429 throttled with Retry-After", resp.StatusCode, e.Error.Code, resp.Header.Get("Retry-After"))
	}
	if n := up.Stats().Requests; n < 2 {
		t.Errorf("Bedrock saw %d requests; throttling should be retried before giving up", n)
	}
}

func TestThrottlingThatClearsIsRetried(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{ThrottleFirst: 2})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	if text, _ := chatSSE(t, base, hello); text != "You said: hello there" {
		t.Errorf("answer after retries %q", text)
	}
}

func TestMidStreamFailureIsErrorEventAfterText(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{TokenDelay: 10 * time.Millisecond,
		FailStream: &bedrocktest.StreamFailure{AfterTokens: 2, Exception: "modelStreamErrorException", Message: "model crashed"}})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(hello))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	s := string(body)
	text := strings.Index(s, `"text":"said: "`)
	errAt := strings.Index(s, "event: error")
	// Bedrock's own words stay in the log; the client gets the code and the request id.
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 || text < 0 || errAt < text || !strings.Contains(s[errAt:], `"code":"upstream_error"`) ||
		!strings.Contains(s[errAt:], id) || strings.Contains(s, "model crashed") || strings.Contains(s, "event: done") {
		t.Errorf("want the text so far, then an error event with the code and request id %q (not Bedrock's text), and no done:\n%s", id, s)
	}
}
