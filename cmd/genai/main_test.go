package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"genai/bedrock/bedrocktest"
	"genai/openai/openaitest"
)

// isolateAWS points the AWS SDK at nothing on this machine: no shared files, no
// instance metadata, no credentials unless a test sets them.
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_REGION":                             "us-east-1",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME":       "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_BEARER_TOKEN_BEDROCK":               "",
	} {
		t.Setenv(k, v)
	}
}

// start runs Main in-process as the binary does, with env as its environment, and
// returns its base URL.
func start(t *testing.T, env map[string]string, args ...string) (*Main, string) {
	t.Helper()
	if env["GENAI_DATA_DIR"] == "" {
		env["GENAI_DATA_DIR"] = t.TempDir()
	}
	if env["GENAI_ADDR"] == "" {
		env["GENAI_ADDR"] = "127.0.0.1:0"
	}
	m := NewMain()
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, "http://" + m.Listener.Addr().String()
}

var tinyPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

// chatSSE posts body to /api/chat and returns the concatenated deltas and the event names.
func chatSSE(t *testing.T, base, body string) (text string, events []string) {
	t.Helper()
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var sb strings.Builder
	for _, e := range readEvents(t, resp, nil) {
		events = append(events, e.Name)
		if s, ok := e.Data["text"].(string); ok && e.Name == "delta" {
			sb.WriteString(s)
		}
	}
	return sb.String(), events
}

func imageChat(question string) string {
	return `{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` +
		base64.StdEncoding.EncodeToString(tinyPNG) + `"}},{"type":"text","text":"` + question + `"}]}]}`
}

func TestServeBedrockEndToEnd(t *testing.T) {
	isolateAWS(t)
	up := bedrocktest.NewServer(bedrocktest.Options{})
	defer up.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", up.URL)

	_, base := start(t, map[string]string{}) // provider auto: credentials resolve, so Bedrock
	var cfg struct {
		Provider  string
		ChatModel string `json:"chat_model"`
		Features  map[string]bool
	}
	getJSON(t, base+"/api/config", &cfg)
	if cfg.Provider != "bedrock" || cfg.ChatModel != DefaultBedrockModel || !cfg.Features["chat"] || !cfg.Features["vision"] {
		t.Fatalf("config %+v", cfg)
	}
	text, events := chatSSE(t, base, imageChat("What is in this picture?"))
	if text != "You said: What is in this picture?" || events[0] != "start" || events[len(events)-1] != "done" {
		t.Errorf("answer %q events %v", text, events)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].ModelID != DefaultBedrockModel || reqs[0].Operation != "ConverseStream" {
		t.Fatalf("upstream requests %+v", reqs)
	}
	im := reqs[0].Messages[0].Content[0].Image
	if im == nil || im.Format != "png" || !bytes.Equal(im.Source.Bytes, tinyPNG) {
		t.Errorf("image did not arrive byte-exact: %+v", im)
	}
	// The workshop's route answers the same text as plain chunked text.
	resp, err := http.Post(base+"/claude-haiku-image", "application/json", strings.NewReader(imageChat("and now?")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "You said: and now?" {
		t.Errorf("/claude-haiku-image answered %q", b)
	}
}

func TestServeOpenAIEndToEnd(t *testing.T) {
	isolateAWS(t)
	up := openaitest.New(openaitest.Config{Models: []string{"llava", "llama3.2"}})
	defer up.Close()
	_, base := start(t, map[string]string{"GENAI_OPENAI_BASE_URL": up.URL})
	var cfg struct {
		Provider  string
		ChatModel string `json:"chat_model"`
	}
	getJSON(t, base+"/api/config", &cfg)
	if cfg.Provider != "openai" || cfg.ChatModel != "llava" {
		t.Fatalf("config %+v: want provider openai with the endpoint's first model", cfg)
	}
	text, _ := chatSSE(t, base, `{"messages":[{"role":"user","content":"hello there"},{"role":"assistant","content":"hi"},{"role":"user","content":"how are you"}]}`)
	if text != "how are you" {
		t.Errorf("answer %q", text)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].Model != "llava" || len(reqs[0].Messages) != 3 {
		t.Errorf("upstream requests %+v", reqs)
	}
}

func TestServeWithNoProvider(t *testing.T) {
	isolateAWS(t)
	_, base := start(t, map[string]string{})
	for _, page := range []string{"/", "/image", "/mirror"} {
		resp, err := http.Get(base + page)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: status %d type %q", page, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, _ := http.Post(base+"/api/chat", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "no_provider") {
		t.Errorf("chat without a provider: %d %s", resp.StatusCode, body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, _ := http.Get(base + path)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

// A long answer streams to its end: the server has no write timeout to cut it.
func TestLongStreamIsNotCut(t *testing.T) {
	isolateAWS(t)
	words := strings.Repeat("word ", 40)
	up := bedrocktest.NewServer(bedrocktest.Options{TokenDelay: 50 * time.Millisecond,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply {
			return bedrocktest.Reply{Tokens: strings.SplitAfter(words, " ")}
		}})
	defer up.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", up.URL)
	m, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	if m.httpSrv.WriteTimeout != 0 {
		t.Fatalf("WriteTimeout %v would cut streams", m.httpSrv.WriteTimeout)
	}
	text, events := chatSSE(t, base, `{"messages":[{"role":"user","content":"talk"}]}`)
	if text != words || events[len(events)-1] != "done" {
		t.Errorf("got %d bytes, events ending %v", len(text), events[len(events)-3:])
	}
}

func TestConfigRules(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GENAI_ADDR": "0.0.0.0:3000"}, "needs GENAI_API_KEYS"},
		{map[string]string{"GENAI_API_KEYS": "short"}, "at least 16 characters"},
		{map[string]string{"GENAI_PROVIDER": "gpt"}, "GENAI_PROVIDER: must be auto, bedrock, openai or none"},
		{map[string]string{"GENAI_PROVIDER": "openai"}, "needs GENAI_OPENAI_BASE_URL"},
		{map[string]string{"GENAI_MAX_TOKENS": "lots"}, "GENAI_MAX_TOKENS: must be a positive whole number"},
	} {
		_, err := parseConfig("genai", nil, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: error %v, want one containing %q", tc.env, err, tc.want)
		}
	}
	c, err := parseConfig("genai", []string{"-addr", "0.0.0.0:8080", "-api-keys", "0123456789abcdef0123"}, func(k string) string {
		return map[string]string{"GENAI_ADDR": "127.0.0.1:1"}[k]
	})
	if err != nil || c.Addr != "0.0.0.0:8080" || len(c.APIKeys) != 1 || c.DataDir != "./data" || c.Provider != "auto" {
		t.Errorf("flags should win over the environment and defaults apply: %+v %v", c, err)
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	r, w, _ := os.Pipe()
	old := os.Stderr
	os.Stderr = w
	err := run(context.Background(), []string{"-h"})
	w.Close()
	os.Stderr = old
	out, _ := io.ReadAll(r)
	for _, want := range []string{"serve", "version", "GENAI_ADDR", "GENAI_PROVIDER", "GENAI_CHAT_MODEL", "GENAI_DATA_DIR"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("help lacks %q (err %v):\n%s", want, err, out)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
