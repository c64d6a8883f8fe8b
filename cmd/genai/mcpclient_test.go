package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
	"genai/bedrock/bedrocktest"
	"genai/mcptest"
)

// mcpFile writes a servers file of the given entries and returns its path.
func mcpFile(t *testing.T, servers map[string]any) string {
	t.Helper()
	data, err := json.Marshal(map[string]any{"mcpServers": servers})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mcp.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func everything(t *testing.T) map[string]any {
	cmd, args := mcptest.Everything(t)
	return map[string]any{"command": cmd, "args": args}
}

// mcpServers returns /api/config's mcp_servers.
func mcpServers(t *testing.T, base string) []genai.MCPServer {
	t.Helper()
	var cfg struct {
		MCPServers []genai.MCPServer `json:"mcp_servers"`
	}
	getJSON(t, base+"/api/config", &cfg)
	return cfg.MCPServers
}

// waitMCP waits until /api/config shows the server name in a state that satisfies ok.
func waitMCP(t *testing.T, base, name, what string, ok func(genai.MCPServer) bool) genai.MCPServer {
	t.Helper()
	var last []genai.MCPServer
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		last = mcpServers(t, base)
		for _, s := range last {
			if s.Name == name && ok(s) {
				return s
			}
		}
	}
	t.Fatalf("/api/config never showed %s %s: %+v", name, what, last)
	return genai.MCPServer{}
}

func isConnected(s genai.MCPServer) bool { return s.State == "connected" }
func isFailing(s genai.MCPServer) bool   { return s.State == "failing" }

// callThenQuote is a Bedrock reply that calls the tool name with input, then, once the
// result is back, quotes it as bedrocktest.ToolReply does.
func callThenQuote(name, input string) func(*bedrocktest.Request) bedrocktest.Reply {
	return func(req *bedrocktest.Request) bedrocktest.Reply {
		if r, ok := bedrocktest.ToolReply(req); ok && len(r.ToolUses) == 0 {
			return r
		}
		if req.ToolConfig == nil {
			return bedrocktest.EchoReply(req)
		}
		return bedrocktest.Reply{Tokens: []string{"Calling ", name + "."},
			ToolUses: []bedrocktest.ToolCall{{ID: fmt.Sprintf("tooluse_%d_0", len(req.Messages)), Name: name, Input: input}}}
	}
}

// eventData returns the data of the events called name.
func eventData(evs []agentEvent, name string) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e.name == name {
			out = append(out, e.data)
		}
	}
	return out
}

func answerText(evs []agentEvent) string {
	var b strings.Builder
	for _, d := range eventData(evs, "delta") {
		b.WriteString(d["text"].(string))
	}
	return b.String()
}

// The reference server's tools through Main: listed in /api/config, offered to the
// model, called by it (the first tool, echo, as the Bedrock test server does), the call
// streamed with its result, and the result quoted by the model; an image result reaches
// the model as an image.
func TestMCPEverythingServerThroughTheAgent(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"everything": everything(t)})})
	st := waitMCP(t, base, "everything", "connected", isConnected)
	if st.Group != "mcp:everything" || st.Transport != "stdio" || len(st.Tools) < 10 || st.Tools[0].Name != "everything__echo" || st.Tools[0].Description != "Echoes back the input string" {
		t.Fatalf("status %+v", st)
	}

	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"spring tides"}],"server_tools":["mcp:everything"]}`)
	if got := strings.Join(names(evs), " "); got != "start delta tool_use tool_input tool_use_end tool_result delta done" {
		t.Fatalf("events %s", got)
	}
	call, result := eventData(evs, "tool_use_end")[0], eventData(evs, "tool_result")[0]
	content, _ := json.Marshal(result["content"])
	if call["name"] != "everything__echo" || call["input"].(map[string]any)["message"] != "spring tides" ||
		result["is_error"] != false || string(content) != `[{"text":"Echo: spring tides","type":"text"}]` {
		t.Errorf("call %v result %v", call, result)
	}
	if text := answerText(evs); text != "Calling everything__echo.Tool tooluse_1_0 returned Echo: spring tides." {
		t.Errorf("answer %q", text)
	}
	reqs := up.Requests()
	if len(reqs) != 2 || len(reqs[0].ToolConfig.Tools) != len(st.Tools) {
		t.Errorf("the model was offered %d tools of %d", len(reqs[0].ToolConfig.Tools), len(st.Tools))
	}

	up.Close()
	bedrockUpstream(t, bedrocktest.Options{Reply: callThenQuote("everything__get-tiny-image", `{}`)})
	_, base = start(t, map[string]string{"GENAI_PROVIDER": "bedrock",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"everything": everything(t)})})
	waitMCP(t, base, "everything", "connected", isConnected)
	evs = agentChat(t, base, `{"messages":[{"role":"user","content":"a picture"}],"server_tools":["mcp:everything"]}`)
	if text := answerText(evs); !strings.HasPrefix(text, "Calling everything__get-tiny-image.Tool tooluse_1_0 returned Here's the image you requested: [image png, ") ||
		!strings.HasSuffix(text, " bytes] The image above is the MCP logo..") {
		t.Errorf("answer %q", text)
	}
}

// The filesystem reference server reads a file for the model.
func TestMCPFilesystemServerThroughTheAgent(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "tides.txt"), []byte("Spring tides come with the new and full moon."), 0o644); err != nil {
		t.Fatal(err)
	}
	root, _ = filepath.EvalSymlinks(root)
	input, _ := json.Marshal(map[string]string{"path": filepath.Join(root, "tides.txt")})
	bedrockUpstream(t, bedrocktest.Options{Reply: callThenQuote("files__read_text_file", string(input))})
	cmd, args := mcptest.Filesystem(t, root)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"files": map[string]any{"command": cmd, "args": args}})})
	waitMCP(t, base, "files", "connected", isConnected)
	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"read it"}],"server_tools":["mcp:files"]}`)
	if text := answerText(evs); text != "Calling files__read_text_file.Tool tooluse_1_0 returned Spring tides come with the new and full moon.." {
		t.Errorf("answer %q; events %v", text, evs)
	}
}

// childServer returns the process id of the one child process of pid (the stdio
// server).
func childServer(t *testing.T, pid int) int {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if kids := mcptest.Children(pid); len(kids) == 1 {
			return kids[0]
		}
	}
	t.Fatalf("no one child process of %d: %v", pid, mcptest.Children(pid))
	return 0
}

// streamUntil posts body and reads the stream, calling at(name) for each event as it
// arrives, and returns the events.
func streamUntil(t *testing.T, base, body string, at func(name string)) []agentEvent {
	t.Helper()
	resp, err := http.Post(base+"/api/chat", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return agentEvents(t, resp, at)
}

// A server killed in the middle of a call: the call is an error result naming the
// server, the model answers, chat goes on, and the server is back after its restart.
func TestMCPServerKilledMidCall(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{Reply: callThenQuote("everything__trigger-long-running-operation", `{"duration":30,"steps":30}`)})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"everything": everything(t)})})
	waitMCP(t, base, "everything", "connected", isConnected)
	pid := childServer(t, os.Getpid())
	evs := streamUntil(t, base, `{"messages":[{"role":"user","content":"go"}],"server_tools":["mcp:everything"]}`, func(name string) {
		if name == "tool_use_end" {
			time.Sleep(time.Second) // the call is on its way: the agent runs it once the model's step has ended
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	results := eventData(evs, "tool_result")
	want := "the MCP server everything stopped during the call of trigger-long-running-operation; it is being restarted"
	if len(results) != 1 || results[0]["is_error"] != true || !strings.Contains(fmt.Sprint(results[0]["content"]), want) {
		t.Fatalf("results %v", results)
	}
	if text := answerText(evs); !strings.HasSuffix(text, "Tool tooluse_1_0 failed: "+want+".") || evs[len(evs)-1].name != "done" {
		t.Errorf("answer %q", text)
	}
	st := waitMCP(t, base, "everything", "failing or back", func(s genai.MCPServer) bool { return s.Restarts > 0 || isFailing(s) })
	if st.State == "failing" && (!strings.Contains(st.Error, "signal: killed") || len(st.Tools) != 0) {
		t.Errorf("failing status %+v", st)
	}
	if text, _ := chatSSE(t, base, hello); text != "You said: hello there" {
		t.Errorf("chat after the crash: %q", text)
	}
	st = waitMCP(t, base, "everything", "restarted", func(s genai.MCPServer) bool { return isConnected(s) && s.Restarts == 1 })
	if len(st.Tools) == 0 {
		t.Errorf("restarted without tools: %+v", st)
	}
}

// A server that never answers initialize is failing, with the reason, and chat that
// asks for its tools works without them; a server that stops answering in the middle
// of a call (SIGSTOP) fails that call at the call timeout, and, as it does not answer a
// ping either, it is restarted.
func TestMCPServerThatNeverAnswers(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{Reply: callThenQuote("everything__trigger-long-running-operation", `{"duration":30,"steps":30}`)})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_MCP_START_TIMEOUT": "1s", "GENAI_MCP_CALL_TIMEOUT": "1s",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"silent": map[string]any{"command": "sleep", "args": []string{"600"}}})})
	st := waitMCP(t, base, "silent", "failing", isFailing)
	if st.Error != "did not start: no answer within 1s" || len(st.Tools) != 0 || st.RetryAt == nil {
		t.Errorf("status %+v", st)
	}
	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"hi"}],"server_tools":["mcp:silent"]}`)
	if text := answerText(evs); text != "You said: hi" {
		t.Errorf("chat with a silent server's tools: %q", text)
	}

	_, base = start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_MCP_START_TIMEOUT": "5s", "GENAI_MCP_CALL_TIMEOUT": "1s",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"everything": everything(t)})})
	waitMCP(t, base, "everything", "connected", isConnected)
	var pid int
	for _, kid := range mcptest.Children(os.Getpid()) {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", kid)); strings.Contains(string(b), "server-everything") {
			pid = kid
		}
	}
	if pid == 0 {
		t.Fatal("no server-everything process")
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	evs = streamUntil(t, base, `{"messages":[{"role":"user","content":"go"}],"server_tools":["mcp:everything"]}`, func(name string) {
		if name == "tool_use_end" {
			syscall.Kill(pid, syscall.SIGSTOP)
		}
	})
	want := "the MCP server everything did not answer the call of trigger-long-running-operation within 1s"
	if text := answerText(evs); !strings.HasSuffix(text, "Tool tooluse_1_0 failed: "+want+".") {
		t.Errorf("answer %q", text)
	}
	st = waitMCP(t, base, "everything", "failing", isFailing)
	if st.Error != "did not answer a ping after a call ran out of time: no answer within 5s" {
		t.Errorf("status %+v", st)
	}
	if !mcptest.WaitGone(pid, 15*time.Second) {
		t.Errorf("the stopped server %d was not ended", pid)
	}
}

// A Streamable HTTP server built with the Go SDK, reached with the configured header:
// its tool is called; a tool it adds while genai runs is offered from the next request
// on, once its notifications/tools/list_changed arrives.
func TestMCPStreamableHTTPServerAndListChanged(t *testing.T) {
	srv, url := mcptest.Weather(t)
	bedrockUpstream(t, bedrocktest.Options{Reply: func(req *bedrocktest.Request) bedrocktest.Reply {
		if req.LastUserText() == "nowhere" {
			return callThenQuote("weather__forecast_today", `{"city":""}`)(req)
		}
		if req.ToolConfig != nil && len(req.ToolConfig.Tools) == 2 {
			return callThenQuote("weather__radar", `{}`)(req)
		}
		return bedrocktest.EchoReply(req)
	}})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"weather": map[string]any{"url": url, "headers": map[string]string{"Authorization": "Bearer " + mcptest.WeatherToken}}})})
	st := waitMCP(t, base, "weather", "connected", isConnected)
	if st.Transport != "http" || len(st.Tools) != 1 || st.Tools[0].Name != "weather__forecast_today" {
		t.Fatalf("status %+v", st)
	}
	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"Brest"}],"server_tools":["mcp:weather"]}`)
	if text := answerText(evs); text != "Calling weather__forecast_today.Tool tooluse_1_0 returned Sunny in Brest\n[an image of type image/svg+xml, 6 bytes, left out: not a PNG, JPEG, GIF or WebP image]." {
		t.Errorf("answer %q", text)
	}

	// isError reaches the model as an error result, with the server's own words.
	evs = agentChat(t, base, `{"messages":[{"role":"user","content":"nowhere"}],"server_tools":["mcp:weather"]}`)
	if r := eventData(evs, "tool_result"); len(r) != 1 || r[0]["is_error"] != true || answerText(evs) != "Calling weather__forecast_today.Tool tooluse_1_0 failed: no such city." {
		t.Errorf("an isError result: %v, answer %q", r, answerText(evs))
	}

	sdk.AddTool(srv, &sdk.Tool{Name: "radar", Description: "Rain radar"}, func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "rain at noon"}}}, nil, nil
	})
	st = waitMCP(t, base, "weather", "with the new tool", func(s genai.MCPServer) bool { return len(s.Tools) == 2 })
	if st.Tools[1] != (genai.ToolInfo{Name: "weather__radar", Description: "Rain radar"}) {
		t.Errorf("tools %+v", st.Tools)
	}
	evs = agentChat(t, base, `{"messages":[{"role":"user","content":"rain?"}],"server_tools":["mcp:weather"]}`)
	if text := answerText(evs); text != "Calling weather__radar.Tool tooluse_1_0 returned rain at noon." {
		t.Errorf("answer with the new tool %q", text)
	}
}

// A bad servers file stops the start with an error naming the entry.
func TestMCPServersFileIsCheckedAtStart(t *testing.T) {
	isolateAWS(t)
	m := NewMain()
	env := map[string]string{"GENAI_DATA_DIR": t.TempDir(), "GENAI_ADDR": "127.0.0.1:0",
		"GENAI_MCP_SERVERS": mcpFile(t, map[string]any{"fs": map[string]any{"command": "x", "cwd": "/"}})}
	if err := m.ParseFlags(nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
	}
	if err == nil || !strings.Contains(err.Error(), `GENAI_MCP_SERVERS: `) || !strings.Contains(err.Error(), `mcpServers.fs: unknown field "cwd"`) {
		t.Errorf("Run: %v", err)
	}
}

// TestMCPServeChild is not a test: run by TestMCPChildrenDieWithTheServer as a child,
// it is the binary's serve command, stopped by SIGTERM.
func TestMCPServeChild(t *testing.T) {
	if os.Getenv("GENAI_TEST_MCP_CHILD") != "1" {
		t.Skip("the child process of TestMCPChildrenDieWithTheServer")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{"serve"}); err != nil {
		t.Fatal(err)
	}
}

// TestMCPStuckServerChild is not a test: run as a stdio MCP server by
// TestMCPChildrenDieWithTheServer, it serves one tool, then, unlike the reference
// servers, neither exits when its stdin closes nor on SIGTERM, as a stuck server would.
func TestMCPStuckServerChild(t *testing.T) {
	if os.Getenv("GENAI_TEST_MCP_STUCK") != "1" {
		t.Skip("a stdio server of TestMCPChildrenDieWithTheServer")
	}
	signal.Ignore(syscall.SIGTERM)
	srv := sdk.NewServer(&sdk.Implementation{Name: "stuck", Version: "1"}, nil)
	sdk.AddTool(srv, &sdk.Tool{Name: "nothing"}, func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
		return &sdk.CallToolResult{}, nil, nil
	})
	srv.Run(context.Background(), &sdk.StdioTransport{})
	select {}
}

// No stdio server outlives genai: not after SIGTERM (Close ends it, with SIGKILL for one
// that ignores SIGTERM), nor after SIGKILL, which no cleanup survives (the kernel kills
// it: Pdeathsig), even one that does not exit when its stdin closes.
func TestMCPChildrenDieWithTheServer(t *testing.T) {
	isolateAWS(t)
	file := mcpFile(t, map[string]any{"everything": everything(t),
		"stuck": map[string]any{"command": os.Args[0], "args": []string{"-test.run=^TestMCPStuckServerChild$"}, "env": map[string]string{"GENAI_TEST_MCP_STUCK": "1"}}})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := freeAddr(t)
			child := exec.Command(os.Args[0], "-test.run=^TestMCPServeChild$")
			child.Env = append(os.Environ(), "GENAI_TEST_MCP_CHILD=1", "GENAI_ADDR="+addr, "GENAI_DATA_DIR="+t.TempDir(),
				"GENAI_PROVIDER=none", "GENAI_MCP_SERVERS="+file)
			child.Stderr = os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { child.Process.Kill(); child.Wait() })
			base := "http://" + addr
			waitHealthy(t, base)
			waitMCP(t, base, "everything", "connected", isConnected)
			waitMCP(t, base, "stuck", "connected", isConnected)
			servers := mcptest.Children(child.Process.Pid)
			if len(servers) != 2 {
				t.Fatalf("child processes %v, want the two servers", servers)
			}
			child.Process.Signal(sig)
			child.Wait()
			for _, pid := range servers {
				if !mcptest.WaitGone(pid, 10*time.Second) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("the MCP server %d outlived genai's %s", pid, sig)
				}
			}
		})
	}
}
