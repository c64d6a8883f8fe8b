package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"genai/bedrock/bedrocktest"
)

// nginxBinary returns the path of Debian's nginx, failing the test when it is missing
// unless GENAI_SKIP_NGINX is set: CI must not skip the proxy tests silently.
func nginxBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("GENAI_SKIP_NGINX") != "" {
		t.Skip("nginx is not installed and GENAI_SKIP_NGINX is set")
	}
	t.Fatal("nginx is not installed: apt-get install -y nginx (or set GENAI_SKIP_NGINX=1 to skip the proxy tests)")
	return ""
}

// startNginx runs nginx in front of upstream (a base URL) on a free loopback port, with
// proxy_pass and the usual headers, nothing about buffering (so nginx's default
// proxy_buffering on applies), plus extra directives, and returns its base URL. It is
// stopped when the test ends.
func startNginx(t testing.TB, upstream, extra string) string {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	user := ""
	if os.Geteuid() == 0 {
		// As root nginx runs its workers as nobody, who cannot write the temporary
		// directory its buffers spill to.
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 128; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    server {
        listen %[3]s;
        location / {
            proxy_pass %[4]s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            %[5]s
        }
    }
}
`, user, dir, addr, upstream, extra)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", path, "-g", "daemon off;")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // the master stops its workers, then itself
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", log)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v\n%s", err, stderr.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s\n%s", addr, stderr.String())
		}
	}
}

// siteConfig is what a typical site's nginx config says of its upstream.
const siteConfig = "proxy_http_version 1.1;"

// streamSurfaces are the streamed routes, each with a body that asks "hello there"
// (EchoReply's first token is "You ") and what its stream ends with.
var streamSurfaces = []struct{ name, path, body, end string }{
	{"chat", "/api/chat", hello, "event: done"},
	{"chat-completions", "/v1/chat/completions", `{"model":"` + DefaultBedrockModel + `","stream":true,"messages":[{"role":"user","content":"hello there"}]}`, "data: [DONE]"},
	{"messages", "/v1/messages", `{"model":"` + DefaultBedrockModel + `","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hello there"}]}`, "event: message_stop"},
	{"responses", "/v1/responses", `{"model":"` + DefaultBedrockModel + `","stream":true,"input":"hello there"}`, "event: response.completed"},
	{"plain-text", "/bedrock-haiku", hello, "there"},
}

// readUntil reads r into got until it holds want, and reports whether it did before
// the stream ended; read errors end it.
func readUntil(r io.Reader, got *bytes.Buffer, want string) bool {
	buf := make([]byte, 4096)
	for !bytes.Contains(got.Bytes(), []byte(want)) {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			return bytes.Contains(got.Bytes(), []byte(want))
		}
	}
	return true
}

// Through nginx with its default proxy buffering, the first token of every stream
// reaches the client while the model still holds the rest: nginx would otherwise keep
// it until its buffer fills or the answer ends. The order is what is asserted: the
// upstream hangs after one token until the client has it.
func TestNginxPassesTheFirstTokenAtOnce(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	_, direct := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	// nginx's defaults speak HTTP/1.0 to the upstream, whose answer it then buffers
	// whole; a typical site says 1.1, whose chunks it passes on as they come.
	defaults := startNginx(t, direct, "")
	proxied := startNginx(t, direct, siteConfig)
	for _, s := range streamSurfaces {
		for _, n := range []struct{ name, url string }{{"defaults", defaults}, {"site", proxied}} {
			t.Run(n.name+"/"+s.name, func(t *testing.T) {
				up.SetHang(&bedrocktest.Hang{AfterTokens: 1})
				defer up.SetHang(nil)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "POST", n.url+s.path, strings.NewReader(s.body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != 200 {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				var got bytes.Buffer
				first := make(chan bool, 1)
				go func() { first <- readUntil(resp.Body, &got, "You ") }()
				select {
				case ok := <-first:
					if !ok {
						t.Fatalf("the stream ended before its first token: %q", got.String())
					}
				case <-time.After(10 * time.Second):
					cancel()
					<-first
					t.Fatalf("no token through nginx in 10 s while the model held the rest (nginx buffered the stream); got %q", got.String())
				}
				// The upstream counts its hold just after it sent the first token, which may
				// reach the client first; the stream must be held, not over.
				for deadline := time.Now().Add(5 * time.Second); up.Stats().Hung != 1 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				if st := up.Stats(); st.Hung != 1 {
					t.Fatalf("the upstream holds %d streams; want the one whose first token arrived", st.Hung)
				}
				up.SetHang(nil)
				if !readUntil(resp.Body, &got, s.end) {
					t.Fatalf("the stream ended without %q: %q", s.end, got.String())
				}
			})
		}
	}
	// The figure, not an assertion: the first token's delay through nginx and direct,
	// measured alternately in the same run.
	var viaNginx, viaDirect []time.Duration
	chatDirect, chatNginx := viaServer(http.DefaultClient, direct, "/api/chat"), viaServer(http.DefaultClient, proxied, "/api/chat")
	for range 40 {
		for _, m := range []struct {
			chat ttftFunc
			out  *[]time.Duration
		}{{chatDirect, &viaDirect}, {chatNginx, &viaNginx}} {
			d, err := m.chat(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			*m.out = append(*m.out, d)
		}
	}
	p50d, p50n := percentile(viaDirect, 0.5), percentile(viaNginx, 0.5)
	t.Logf("first token over loopback, 40 chats each: direct p50 %v p95 %v; through nginx p50 %v p95 %v; nginx adds %v at p50 (x%.2f)",
		p50d, percentile(viaDirect, 0.95), p50n, percentile(viaNginx, 0.95), p50n-p50d, float64(p50n)/float64(p50d))
}

// postStream posts body to url and reads the answer to its end, or to the error that
// cut it.
func postStream(t *testing.T, url, body string) (int, string, error) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// silentUpstream answers with a first token, then stays silent for silence — a model
// thinking, or a step waiting on a slow tool — before its last token.
func silentUpstream(t *testing.T, silence time.Duration) {
	bedrockUpstream(t, bedrocktest.Options{TokenDelay: silence, Reply: func(*bedrocktest.Request) bedrocktest.Reply {
		return bedrocktest.Reply{Tokens: []string{"Let me think. ", "Done."}}
	}})
}

// A step that is silent for longer than the proxy's read timeout survives it through
// heartbeats, on every SSE surface, read by the official OpenAI and Anthropic clients;
// without them nginx cuts the stream. (A silence of 8 s behind proxy_read_timeout 3s;
// the README gives the figure of 90 s behind nginx's default 60 s, run by hand.)
func TestNginxHeartbeatKeepsASilentStreamOpen(t *testing.T) {
	const silence = 8 * time.Second
	silentUpstream(t, silence)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_SSE_HEARTBEAT": "1s"})
	proxied := startNginx(t, base, siteConfig+" proxy_read_timeout 3s;")
	_, quiet := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_SSE_HEARTBEAT": "0"})
	cutting := startNginx(t, quiet, siteConfig+" proxy_read_timeout 3s;")
	const want = "Let me think. Done."

	t.Run("raw", func(t *testing.T) {
		t.Parallel()
		for _, s := range streamSurfaces[:4] {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				status, body, err := postStream(t, proxied+s.path, s.body)
				if status != 200 || err != nil || !strings.Contains(body, s.end) || !strings.Contains(body, "Done.") {
					t.Fatalf("through nginx: %d, the stream was cut (%v): %q", status, err, body)
				}
				ping := ": ping\n\n"
				if s.path == "/v1/messages" {
					ping = "event: ping\ndata: {\"type\":\"ping\"}\n\n"
				}
				// One ping goes with message_start as Anthropic's API sends it; more are
				// the heartbeats, each a whole event between others.
				if n := strings.Count(body, ping); n < 3 {
					t.Errorf("%d heartbeats in an %v silence with a 1 s heartbeat: %q", n, silence, body)
				}
				for ev := range strings.SplitSeq(strings.TrimSuffix(body, "\n\n"), "\n\n") {
					for line := range strings.SplitSeq(ev, "\n") {
						if !strings.HasPrefix(line, "event: ") && !strings.HasPrefix(line, "data: ") && line != ": ping" {
							t.Errorf("line %q of event %q is not whole", line, ev)
						}
					}
				}
			})
		}
	})
	t.Run("anthropic-sdk-go", func(t *testing.T) {
		t.Parallel()
		ac := anthropic.NewClient(aoption.WithBaseURL(proxied), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
		stream := ac.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: DefaultBedrockModel, MaxTokens: 100,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello"))}})
		var msg anthropic.Message
		for stream.Next() {
			if err := msg.Accumulate(stream.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != want || msg.StopReason != "end_turn" {
			t.Fatalf("message %+v", msg)
		}
	})
	oc := oai.NewClient(option.WithBaseURL(proxied+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	t.Run("openai-go-chat", func(t *testing.T) {
		t.Parallel()
		stream := oc.Chat.Completions.NewStreaming(t.Context(), oai.ChatCompletionNewParams{Model: DefaultBedrockModel,
			Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hello")}})
		var acc oai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != want || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("completion %+v", acc.ChatCompletion)
		}
	})
	t.Run("openai-go-responses", func(t *testing.T) {
		t.Parallel()
		stream := oc.Responses.NewStreaming(t.Context(), responses.ResponseNewParams{Model: DefaultBedrockModel,
			Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("hello")}})
		var text string
		var completed bool
		for stream.Next() {
			switch ev := stream.Current(); ev.Type {
			case "response.output_text.delta":
				text += ev.Delta
			case "response.completed":
				completed = true
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text != want || !completed {
			t.Fatalf("text %q, completed %v", text, completed)
		}
	})
	t.Run("without-heartbeat", func(t *testing.T) {
		// What the heartbeat prevents, so that the test above can fail: nginx ends the
		// response when its read timeout passes, before the stream's end.
		t.Parallel()
		for _, s := range streamSurfaces {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				_, body, _ := postStream(t, cutting+s.path, s.body)
				if strings.Contains(body, "Done.") || !strings.Contains(body, "Let me think.") {
					t.Fatalf("without heartbeats, through nginx with a 3 s read timeout: %q; want a stream cut after its first token", body)
				}
			})
		}
	})
}

// The figure of the README, run by hand (not in CI: it takes the silence and more):
// GENAI_TEST_NGINX_SILENCE=90s go test -run TestNginxLongSilence -v ./cmd/genai
// A silent step of that length through nginx with its default proxy_read_timeout (60 s)
// and the default heartbeat (15 s) completes; with no heartbeat it is cut.
func TestNginxLongSilence(t *testing.T) {
	silence, err := time.ParseDuration(os.Getenv("GENAI_TEST_NGINX_SILENCE"))
	if err != nil {
		t.Skip("set GENAI_TEST_NGINX_SILENCE (such as 90s) to run it")
	}
	silentUpstream(t, silence)
	// The server's own deadline on a silent model (60 s) is raised past the silence: a
	// user with a model that thinks this long raises it too.
	between := (silence + time.Minute).String()
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_UPSTREAM_BETWEEN_EVENTS_TIMEOUT": between})
	_, quiet := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_UPSTREAM_BETWEEN_EVENTS_TIMEOUT": between, "GENAI_SSE_HEARTBEAT": "0"})
	for _, c := range []struct{ name, url string }{{"heartbeat 15s", startNginx(t, base, siteConfig)}, {"no heartbeat", startNginx(t, quiet, siteConfig)}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			t0 := time.Now()
			status, body, err := postStream(t, c.url+"/api/chat", hello)
			t.Logf("%s: %d after %v, complete %v, %d heartbeats, read error %v",
				c.name, status, time.Since(t0).Round(time.Millisecond), strings.Contains(body, "event: done"), strings.Count(body, ": ping\n\n"), err)
		})
	}
}

// The official JavaScript SDKs of OpenAI and Anthropic read streams full of heartbeats
// (one every 5 ms, between tokens 40 ms apart) as they read any other: each script of
// TestJavaScriptSDKs passes unchanged.
func TestJavaScriptSDKsReadHeartbeats(t *testing.T) {
	dir := javaScriptSDKs(t)
	bedrockUpstream(t, bedrocktest.Options{TokenDelay: 40 * time.Millisecond})
	const key = "sk-genai-sdk-test-0123456789"
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_API_KEYS": key, "GENAI_SSE_HEARTBEAT": "5ms"})
	// The streams do carry heartbeats.
	for _, s := range streamSurfaces[1:4] {
		req, _ := http.NewRequest("POST", base+s.path, strings.NewReader(s.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "ping") || !strings.Contains(string(b), s.end) {
			t.Fatalf("%s: no heartbeat in %q", s.path, b)
		}
	}
	for _, script := range []string{"openai.mjs", "anthropic.mjs", "responses.mjs"} {
		t.Run(strings.TrimSuffix(script, ".mjs"), func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), "node", script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GENAI_URL="+base, "GENAI_KEY="+key, "GENAI_MODEL="+DefaultBedrockModel,
				"GENAI_STRUCTURED_MODEL=us.anthropic.claude-haiku-4-5-20251001-v1:0")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), " passed, 0 failed") {
				t.Errorf("node %s: %v\n%s", script, err, out)
			}
		})
	}
}
