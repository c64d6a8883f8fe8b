package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"genai/bedrock/bedrocktest"
	"genai/mcptest"
	"genai/telemetry/otlptest"
)

// syncBuffer is a log destination written by many requests at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLogged is start with the logs written to out; the test closes the Main itself,
// to see what Close flushes.
func startLogged(t *testing.T, env map[string]string, out io.Writer) (*Main, string) {
	t.Helper()
	env["GENAI_DATA_DIR"] = t.TempDir()
	env["GENAI_ADDR"] = "127.0.0.1:0"
	m := NewMain()
	m.LogOutput = out
	if err := m.ParseFlags(nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, "http://" + m.Listener.Addr().String()
}

// postOK sends body to path with headers and returns the response body, failing on a
// status other than 200 or 201.
func postOK(t *testing.T, url, body string, headers ...string) (string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("%s: status %d: %s", url, resp.StatusCode, b)
	}
	return string(b), resp.Header
}

// spansNamed returns the spans called name.
func spansNamed(spans []otlptest.Span, name string) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only span called name whose parent is parent ("" for any).
func one(t *testing.T, spans []otlptest.Span, name string, parent *otlptest.Span) otlptest.Span {
	t.Helper()
	var got []otlptest.Span
	for _, s := range spansNamed(spans, name) {
		if parent == nil || (s.ParentSpanID == parent.SpanID && s.TraceID == parent.TraceID) {
			got = append(got, s)
		}
	}
	if len(got) != 1 {
		var names []string
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("%d spans %q (under %v); spans: %q", len(got), name, parent, names)
	}
	return got[0]
}

// wantAttrs checks attributes of s.
func wantAttrs(t *testing.T, s otlptest.Span, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if got := s.Attributes[k]; fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("span %q: %s = %v (%T), want %v", s.Name, k, got, got, v)
		}
	}
}

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

// Through Main against the Bedrock test server, an MCP server and an OTLP receiver: a
// Chat Completions stream, an agent request with the knowledge-base tool, a
// knowledge-base answer and an MCP tool call each make a trace of an HTTP server span
// named by its route, with the model calls, retrievals, embeddings and tool calls as its
// descendants, the GenAI semantic conventions' attributes, and not a word of the prompts
// or answers; the spans are flushed by Close. Every log line of a request is JSON (the
// logs are not a terminal) and carries its request id and trace id.
func TestTracesEndToEnd(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	t.Setenv("OTEL_SERVICE_NAME", "genai-test") // read by the SDK from the process environment
	_, weatherURL := mcptest.Weather(t)
	recv := otlptest.NewServer()
	defer recv.Close()
	var logs syncBuffer
	m, base := startLogged(t, map[string]string{
		"GENAI_PROVIDER":              "bedrock",
		"GENAI_LOG_LEVEL":             "debug",
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint(),
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"weather": map[string]any{"url": weatherURL,
			"headers": map[string]string{"Authorization": "Bearer " + mcptest.WeatherToken}}}),
	}, &logs)
	closed := false
	defer func() {
		if !closed {
			m.Close()
		}
	}()
	waitMCP(t, base, "weather", "connected", isConnected)

	// 1. A Chat Completions stream, in the caller's trace.
	stream, hdr := postOK(t, base+"/v1/chat/completions",
		`{"model":"`+DefaultBedrockModel+`","stream":true,"max_tokens":300,"temperature":0.5,"messages":[{"role":"user","content":"tell me about the aurora borealis"}]}`,
		"traceparent", "00-"+callerTrace+"-"+callerSpan+"-01", "X-Request-Id", "trace-test-1")
	if !strings.Contains(stream, "borealis") || !strings.Contains(stream, "[DONE]") || hdr.Get("X-Request-Id") != "trace-test-1" {
		t.Fatalf("stream %q, request id %q", stream, hdr.Get("X-Request-Id"))
	}
	// 2. The agent with the knowledge-base tool, on an ingested document.
	postOK(t, base+"/api/kb/documents", `{"title":"Tides","uri":"tides.md","text":"# Tides\n\nSpring tides, the highest tides, come when the Sun and the Moon line up."}`)
	postOK(t, base+"/api/chat", `{"messages":[{"role":"user","content":"highest tides"}],"server_tools":["knowledge_base"]}`)
	// 3. A knowledge-base answer.
	postOK(t, base+"/api/kb/answer", `{"query":"when are spring tides","stream":false}`)
	// 4. An MCP tool call.
	if out, _ := postOK(t, base+"/api/chat", `{"messages":[{"role":"user","content":"Brest"}],"server_tools":["mcp:weather"]}`); !strings.Contains(out, "Sunny in Brest") {
		t.Fatalf("MCP answer %s", out)
	}

	if len(recv.Spans()) != 0 {
		// The batcher may send a batch early; what matters is that none is lost.
		t.Logf("%d spans arrived before Close", len(recv.Spans()))
	}
	closed = true
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if errs := recv.Errors(); len(errs) > 0 {
		t.Fatalf("the receiver refused exports: %v", errs)
	}
	spans := recv.Spans()

	// 1: the HTTP span continues the caller's trace; the model call is its child.
	h := one(t, spans, "POST /v1/chat/completions", nil)
	if h.TraceID != callerTrace || h.ParentSpanID != callerSpan || h.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("HTTP span trace %s parent %s kind %v: the caller's traceparent was not followed", h.TraceID, h.ParentSpanID, h.Kind)
	}
	wantAttrs(t, h, map[string]any{"http.route": "/v1/chat/completions", "http.response.status_code": 200})
	if h.Resource["service.name"] != "genai-test" {
		t.Errorf("resource %v", h.Resource)
	}
	chat := one(t, spans, "chat "+DefaultBedrockModel, &h)
	if chat.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("chat span kind %v", chat.Kind)
	}
	wantAttrs(t, chat, map[string]any{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "aws.bedrock",
		"gen_ai.request.model": DefaultBedrockModel, "gen_ai.response.model": DefaultBedrockModel,
		"gen_ai.request.max_tokens": 300, "gen_ai.request.temperature": 0.5, "gen_ai.request.stream": true,
		"gen_ai.response.finish_reasons": []any{"end_turn"},
	})
	if in, out := chat.Attributes["gen_ai.usage.input_tokens"], chat.Attributes["gen_ai.usage.output_tokens"]; in == nil || in.(int64) <= 0 || out == nil || out.(int64) <= 0 {
		t.Errorf("usage %v in, %v out", in, out)
	}
	if ttft, ok := chat.Attributes["gen_ai.response.time_to_first_chunk"].(float64); !ok || ttft <= 0 {
		t.Errorf("time to first chunk %v", chat.Attributes["gen_ai.response.time_to_first_chunk"])
	}
	// The stream's span ends when the stream does, after the model's span.
	if h.End < chat.End {
		t.Errorf("the HTTP span ended before its model call")
	}

	// 2: the agent: two model calls and the tool call, whose retrieval embeds the query.
	var agentHTTP, mcpHTTP otlptest.Span
	for _, s := range spansNamed(spans, "POST /api/chat") {
		if len(spansNamed(childrenOf(spans, s), "execute_tool search_knowledge_base")) == 1 {
			agentHTTP = s
		} else {
			mcpHTTP = s
		}
	}
	if agentHTTP.SpanID == "" || mcpHTTP.SpanID == "" {
		t.Fatalf("no agent request among %v", spansNamed(spans, "POST /api/chat"))
	}
	if n := len(spansNamed(childrenOf(spans, agentHTTP), "chat "+DefaultBedrockModel)); n != 2 {
		t.Errorf("the agent's request has %d model calls, want 2", n)
	}
	tool := one(t, spans, "execute_tool search_knowledge_base", &agentHTTP)
	wantAttrs(t, tool, map[string]any{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search_knowledge_base", "gen_ai.tool.call.id": "tooluse_1_0"})
	ret := one(t, spans, "retrieval local", &tool)
	wantAttrs(t, ret, map[string]any{"gen_ai.operation.name": "retrieval", "gen_ai.data_source.id": "local"})
	space := m.notes.Embedder.Space()
	emb := one(t, spans, "embeddings "+space.Model, &ret)
	wantAttrs(t, emb, map[string]any{"gen_ai.operation.name": "embeddings", "gen_ai.request.model": space.Model,
		"gen_ai.embeddings.dimension.count": space.Dimensions})

	// 3: the answer retrieves, then the model writes.
	ans := one(t, spans, "POST /api/kb/answer", nil)
	one(t, spans, "retrieval local", &ans)
	one(t, spans, "chat "+DefaultBedrockModel, &ans)

	// 4: the MCP call is a client span with the MCP conventions.
	call := one(t, spans, "tools/call weather__forecast_today", &mcpHTTP)
	if call.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("MCP span kind %v", call.Kind)
	}
	wantAttrs(t, call, map[string]any{"mcp.method.name": "tools/call", "gen_ai.operation.name": "execute_tool",
		"gen_ai.tool.name": "weather__forecast_today", "network.transport": "tcp", "gen_ai.tool.call.id": "tooluse_1_0"})

	// No prompt, answer, query or tool result was recorded.
	for _, s := range spans {
		for k, v := range s.Attributes {
			for _, secret := range []string{"aurora", "tides", "Brest", "Sunny", "You said"} {
				if strings.Contains(fmt.Sprint(v), secret) {
					t.Errorf("span %q records %q in %s = %v without content capture", s.Name, secret, k, v)
				}
			}
		}
	}

	// Logs: JSON, and each line of a request with its request id and trace id.
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	requests := 0
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line is not JSON: %s", sc.Text())
		}
		if line["msg"] != "request" {
			continue
		}
		requests++
		if line["request_id"] == nil || line["trace_id"] == nil {
			t.Errorf("a request's log line without its ids: %s", sc.Text())
		}
		if line["request_id"] == "trace-test-1" && line["trace_id"] != callerTrace {
			t.Errorf("the stream's log line has trace id %v, want %s", line["trace_id"], callerTrace)
		}
	}
	if requests < 5 {
		t.Errorf("%d request log lines, want one per request:\n%s", requests, logs.String())
	}
}

// childrenOf returns the spans whose parent is p.
func childrenOf(spans []otlptest.Span, p otlptest.Span) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if s.ParentSpanID == p.SpanID && s.TraceID == p.TraceID {
			out = append(out, s)
		}
	}
	return out
}

// With OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true the model call records
// the prompt, the system instructions and the answer in the conventions' JSON shapes.
func TestTracesCaptureContentWhenEnabled(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{})
	recv := otlptest.NewServer()
	defer recv.Close()
	m, base := startLogged(t, map[string]string{
		"GENAI_PROVIDER":                                     "bedrock",
		"OTEL_EXPORTER_OTLP_ENDPOINT":                        recv.Endpoint(),
		"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
	}, io.Discard)
	postOK(t, base+"/v1/chat/completions", `{"model":"`+DefaultBedrockModel+`","stream":true,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"tell me about the aurora borealis"}]}`)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	chat := one(t, recv.Spans(), "chat "+DefaultBedrockModel, nil)
	wantAttrs(t, chat, map[string]any{
		"gen_ai.input.messages":      `[{"role":"user","parts":[{"type":"text","content":"tell me about the aurora borealis"}]}]`,
		"gen_ai.system_instructions": `[{"type":"text","content":"be brief"}]`,
		"gen_ai.output.messages":     `[{"role":"assistant","parts":[{"type":"text","content":"You said: tell me about the aurora borealis"}],"finish_reason":"end_turn"}]`,
	})
}

// A model call that fails is a span in error, with the API's error code as error.type.
func TestTracesRecordModelErrors(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{ThrottleFirst: math.MaxInt})
	recv := otlptest.NewServer()
	defer recv.Close()
	m, base := startLogged(t, map[string]string{"GENAI_PROVIDER": "bedrock", "OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint()}, io.Discard)
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+DefaultBedrockModel+`","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	spans := recv.Spans()
	chat := one(t, spans, "chat "+DefaultBedrockModel, nil)
	if chat.StatusCode != tracepb.Status_STATUS_CODE_ERROR || chat.Attributes["error.type"] != "throttled" {
		t.Errorf("failed call: status %v %q, error.type %v", chat.StatusCode, chat.StatusMessage, chat.Attributes["error.type"])
	}
	h := one(t, spans, "POST /v1/chat/completions", nil)
	wantAttrs(t, h, map[string]any{"http.response.status_code": resp.StatusCode})
}

// GENAI_LOG_FORMAT=auto logs JSON into a pipe (a collector's stdin, a file) and text
// only when asked; either way a line is one record.
func TestLogFormat(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	newLogger(w, "auto", "info").Info("hello", "n", 1)
	newLogger(w, "text", "info").Info("hello", "n", 2)
	newLogger(w, "json", "info").Debug("below the level")
	w.Close()
	b, _ := io.ReadAll(r)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var rec map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec["msg"] != "hello" || rec["n"] != 1.0 {
		t.Fatalf("auto into a pipe: %q", lines)
	}
	if !strings.Contains(lines[1], "msg=hello n=2") {
		t.Errorf("text: %q", lines[1])
	}
}
