package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"genai/bedrock/bedrocktest"
)

// TestServeChildProcess is not a test: run by TestSIGTERMDrainsStreams as a child, it is
// the genai binary ("genai serve", stopped by SIGTERM), configured by its environment.
func TestServeChildProcess(t *testing.T) {
	if os.Getenv("GENAI_TEST_SERVE_CHILD") != "1" {
		t.Skip("the child process of TestSIGTERMDrainsStreams")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{"serve"}); err != nil {
		t.Fatal(err)
	}
}

// SIGTERM stops the server as ECS stops a task: new connections are refused at once, a
// stream open at the signal that ends within GENAI_SHUTDOWN_TIMEOUT finishes, and one
// that does not ends at the deadline with an error event in its surface's shape (code
// unavailable, "the server is shutting down") and its model call cancelled; then the
// process exits 0.
func TestSIGTERMDrainsStreams(t *testing.T) {
	const tokenDelay = 300 * time.Millisecond
	up := bedrockUpstream(t, bedrocktest.Options{TokenDelay: tokenDelay, Reply: func(req *bedrocktest.Request) bedrocktest.Reply {
		n := 4 // 1.2 s: well inside the deadline
		if strings.Contains(req.LastUserText(), "long") {
			n = 100 // 30 s: well past it
		}
		return bedrocktest.Reply{Tokens: slicesRepeat("word ", n)}
	}})
	child := exec.Command(os.Args[0], "-test.run=^TestServeChildProcess$")
	child.Env = append(os.Environ(), "GENAI_TEST_SERVE_CHILD=1", "GENAI_PROVIDER=bedrock", "GENAI_ADDR=127.0.0.1:0",
		"GENAI_DATA_DIR="+t.TempDir(), "GENAI_SHUTDOWN_TIMEOUT=3s")
	stderr, err := child.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	var log bytes.Buffer
	base := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		url := regexp.MustCompile(`"url":"(http://[^"]+)"`) // the log is JSON into a pipe
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := url.FindStringSubmatch(sc.Text()); m != nil {
				base <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-base:
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not start serving")
	}

	type stream struct {
		name, path, body, end string
		resp                  *http.Response
		got                   bytes.Buffer
	}
	long := func(body string) string { return strings.Replace(body, "hello there", "a long story", 1) }
	streams := []*stream{
		{name: "short", path: "/api/chat", body: hello, end: "event: done"},
	}
	for _, s := range streamSurfaces[:4] {
		streams = append(streams, &stream{name: "long " + s.name, path: s.path, body: long(s.body)})
	}
	for _, s := range streams {
		resp, err := http.Post(url+s.path, "application/json", strings.NewReader(s.body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %d %s", s.name, resp.StatusCode, b)
		}
		s.resp = resp
		if !readUntil(resp.Body, &s.got, "word ") { // open, and answering
			t.Fatalf("%s ended before its first token: %q", s.name, s.got.String())
		}
	}

	sent := time.Now()
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The listener closes at once: a new connection is refused, not queued.
	refused := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("the server still accepts connections 2 s after SIGTERM")
	}

	for _, s := range streams {
		b, err := io.ReadAll(s.resp.Body)
		s.got.Write(b)
		body := s.got.String()
		if s.end != "" {
			if err != nil || !strings.Contains(body, s.end) || strings.Contains(body, "error") {
				t.Errorf("%s: the stream open at SIGTERM did not finish (%v): %q", s.name, err, body)
			}
			continue
		}
		// The error event of the surface's own shape, as its clients read it.
		if err != nil || !strings.Contains(body, "the server is shutting down") || !strings.Contains(body, `"code":"unavailable"`) {
			t.Errorf("%s: at the shutdown deadline, want an unavailable error event; got (%v) %q", s.name, err, body)
		}
	}
	t.Logf("the long streams ended %v after SIGTERM (GENAI_SHUTDOWN_TIMEOUT=3s)", time.Since(sent))
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	select {
	case err := <-exited:
		<-logDone
		if err != nil {
			t.Errorf("the child exited with %v\n%s", err, log.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the child did not exit after its streams ended\n%s", log.String())
	}
	// The model calls of the ended streams were cancelled, not left running.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := up.Wait(ctx, func(st bedrocktest.Stats) bool { return st.Active == 0 && st.Canceled >= 4 }); err != nil {
		t.Errorf("the upstream calls of the long streams: %+v (%v)", up.Stats(), err)
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// /readyz says not ready from the moment shutdown begins, while open streams drain, so
// that a load balancer still checking stops sending.
func TestReadyzNotReadyWhileDraining(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{TokenDelay: 200 * time.Millisecond, Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: slicesRepeat("word ", 20)}
	}})
	m, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_SHUTDOWN_TIMEOUT": "1s"})
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		m.server.ServeHTTP(rec, httptest.NewRequest("GET", base+"/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("/readyz before shutdown: %d %s", code, body)
	}
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(hello))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got bytes.Buffer
	if !readUntil(resp.Body, &got, "word ") {
		t.Fatalf("the stream: %q", got.String())
	}
	closed := make(chan error, 1)
	go func() { closed <- m.Close() }()
	for deadline := time.Now().Add(5 * time.Second); !m.draining.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Close did not begin draining")
		}
	}
	if code, body := readyz(); code != 503 || !strings.Contains(body, `"failing":["draining"]`) {
		t.Errorf("/readyz while draining: %d %s", code, body)
	}
	io.Copy(io.Discard, resp.Body)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
