package mcp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
	"genai/mcp"
	"genai/mcptest"
)

func TestParseConfig(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"TOKEN": "s3cret", "HOST": "mcp.example.com"}[k]
		return v, ok
	}
	got, err := mcp.ParseConfig([]byte(`{"mcpServers":{
	  "web":{"url":"https://mcp.example.com/mcp","headers":{"Authorization":"Bearer x"},"type":"http"},
	  "files":{"command":"npx","args":["-y","@modelcontextprotocol/server-filesystem","/tmp"],"env":{"DEBUG":"1"}}}}`), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "files" || got[0].Command != "npx" || got[0].Args[2] != "/tmp" || got[0].Env["DEBUG"] != "1" ||
		got[1].Name != "web" || got[1].URL != "https://mcp.example.com/mcp" || got[1].Headers["Authorization"] != "Bearer x" ||
		got[0].Transport() != "stdio" || got[1].Transport() != "http" {
		t.Errorf("parsed %+v", got)
	}
	// Variables, as in Claude Code's files.
	got, err = mcp.ParseConfig([]byte(`{"mcpServers":{"web":{"url":"https://${HOST}/mcp","headers":{"Authorization":"Bearer ${TOKEN}"}},
	  "files":{"command":"${NODE:-node}","args":["${HOME_DIR:-/srv}/x","$TOKEN"],"env":{"KEY":"${TOKEN}"}}}}`), env)
	if err != nil || got[1].URL != "https://mcp.example.com/mcp" || got[1].Headers["Authorization"] != "Bearer s3cret" ||
		got[0].Command != "node" || got[0].Args[0] != "/srv/x" || got[0].Args[1] != "$TOKEN" || got[0].Env["KEY"] != "s3cret" {
		t.Errorf("expanded %+v, %v", got, err)
	}
	for _, c := range []struct{ file, err string }{
		{`[]`, "not a JSON object"},
		{`{"servers":{}}`, `unknown field "servers"`},
		{`{"mcpServers":[]}`, "mcpServers: must be an object"},
		{`{"mcpServers":{"a b":{"command":"x"}}}`, "mcpServers.a b: the name must be"},
		{`{"mcpServers":{"a__b":{"command":"x"}}}`, "mcpServers.a__b: the name must be"},
		{`{"mcpServers":{"a_":{"command":"x"}}}`, "mcpServers.a_: the name must be"},
		{`{"mcpServers":{"fs":{"command":"x","cwd":"/"}}}`, `mcpServers.fs: unknown field "cwd"`},
		{`{"mcpServers":{"fs":{"command":"x","url":"http://h/"}}}`, "mcpServers.fs: has both command and url"},
		{`{"mcpServers":{"fs":{}}}`, "mcpServers.fs: needs a command (stdio) or a url"},
		{`{"mcpServers":{"fs":{"command":"x","args":"-y"}}}`, "mcpServers.fs: args: must be an array of strings"},
		{`{"mcpServers":{"fs":{"command":"x","env":{"A=B":"1"}}}}`, `mcpServers.fs: env: "A=B" is not a variable name`},
		{`{"mcpServers":{"fs":{"command":"x","headers":{"A":"1"}}}}`, "mcpServers.fs: headers: only with a url"},
		{`{"mcpServers":{"web":{"url":"ftp://h/"}}}`, `mcpServers.web: url: "ftp://h/" must be an absolute http`},
		{`{"mcpServers":{"web":{"url":"http://h/","type":"sse"}}}`, `mcpServers.web: type: "sse"`},
		{`{"mcpServers":{"web":{"url":"http://h/","headers":{"Bad Name":"1"}}}}`, `mcpServers.web: headers: "Bad Name" is not a valid header`},
		{`{"mcpServers":{"web":{"url":"http://h/","env":{"A":"1"}}}}`, "mcpServers.web: args and env: only with a command"},
		{`{"mcpServers":{"web":{"url":"http://h/","headers":{"A":"${NOPE}"}}}}`, "mcpServers.web: ${NOPE}: the variable is not set"},
	} {
		if _, err := mcp.ParseConfig([]byte(c.file), env); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: got %v, want an error with %q", c.file, err, c.err)
		}
	}
}

// startClient starts a client of servers with short timeouts, closed at the test's end.
func startClient(t *testing.T, opts mcp.ClientOptions, servers ...mcp.ServerConfig) *mcp.Client {
	t.Helper()
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.RestartMin == 0 {
		opts.RestartMin, opts.RestartMax = 100*time.Millisecond, 400*time.Millisecond
	}
	c := mcp.StartClient(servers, opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// waitStatus waits for the first server's status to satisfy ok.
func waitStatus(t *testing.T, c *mcp.Client, what string, ok func(genai.MCPServer) bool) genai.MCPServer {
	t.Helper()
	var st genai.MCPServer
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if st = c.Status()[0]; ok(st) {
			return st
		}
	}
	t.Fatalf("the server is not %s: %+v", what, st)
	return st
}

func connected(st genai.MCPServer) bool { return st.State == genai.MCPConnected }

// tool returns the runner named name of group.
func tool(t *testing.T, c *mcp.Client, group, name string) genai.ToolRunner {
	t.Helper()
	var names []string
	for _, r := range c.Groups()[group]() {
		if r.Tool().Name == name {
			return r
		}
		names = append(names, r.Tool().Name)
	}
	t.Fatalf("no tool %s in %s: %v", name, group, names)
	return nil
}

func run(t *testing.T, r genai.ToolRunner, input string) *genai.ToolOutput {
	t.Helper()
	out, err := r.Run(context.Background(), json.RawMessage(input))
	if err != nil {
		t.Fatalf("%s: %v", r.Tool().Name, err)
	}
	return out
}

// The reference server's tools, named for the model, and their results as the model
// gets them: text, and an image with the text around it.
func TestEverythingOverStdio(t *testing.T) {
	cmd, args := mcptest.Everything(t)
	c := startClient(t, mcp.ClientOptions{}, mcp.ServerConfig{Name: "everything", Command: cmd, Args: args})
	st := waitStatus(t, c, "connected", connected)
	var names []string
	for _, tl := range st.Tools {
		names = append(names, tl.Name)
	}
	if st.Transport != "stdio" || !slices.Contains(names, "everything__echo") || !slices.Contains(names, "everything__get-tiny-image") {
		t.Fatalf("status %+v", st)
	}
	echo := tool(t, c, "mcp:everything", "everything__echo")
	if !strings.Contains(string(echo.Tool().InputSchema), `"message"`) || echo.Tool().Description != "Echoes back the input string" {
		t.Errorf("echo's spec %+v", echo.Tool())
	}
	if out := run(t, echo, `{"message":"tides"}`); out.IsError || len(out.Content) != 1 || out.Content[0].Text != "Echo: tides" {
		t.Errorf("echo: %+v", out)
	}
	out := run(t, tool(t, c, "mcp:everything", "everything__get-tiny-image"), `{}`)
	if len(out.Content) != 3 || out.Content[0].Text != "Here's the image you requested:" || out.Content[1].Type != genai.BlockImage ||
		out.Content[1].Image.Format != "png" || !bytes.HasPrefix(out.Content[1].Image.Data, []byte("\x89PNG")) || out.Content[2].Text != "The image above is the MCP logo." {
		t.Errorf("get-tiny-image: %+v", out)
	}
	// The arguments' schema is the server's to check; its refusal reaches the model.
	if out := run(t, echo, `{"message":7}`); !out.IsError || !strings.Contains(out.Content[0].Text, "message") {
		t.Errorf("echo with a number: %+v", out)
	}
}

// serverPID returns the process id of the client's one stdio server.
func serverPID(t *testing.T) int {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if kids := mcptest.Children(os.Getpid()); len(kids) == 1 {
			return kids[0]
		}
	}
	t.Fatalf("no one child process: %v", mcptest.Children(os.Getpid()))
	return 0
}

// A server that dies loses its tools at once, says why, and is restarted; one that
// runs a call when it dies fails that call with an error naming the server. Close ends
// the server's process.
func TestCrashedServerIsRestarted(t *testing.T) {
	cmd, args := mcptest.Everything(t)
	c := startClient(t, mcp.ClientOptions{}, mcp.ServerConfig{Name: "everything", Command: cmd, Args: args})
	waitStatus(t, c, "connected", connected)
	pid := serverPID(t)
	long := tool(t, c, "mcp:everything", "everything__trigger-long-running-operation")
	failed := make(chan error, 1)
	go func() {
		_, err := long.Run(context.Background(), json.RawMessage(`{"duration":30,"steps":30}`))
		failed <- err
	}()
	time.Sleep(time.Second) // the call is on its way
	syscall.Kill(pid, syscall.SIGKILL)
	select {
	case err := <-failed:
		if genai.ErrorCode(err) != genai.EUNAVAILABLE || !strings.Contains(genai.ErrorMessage(err), "the MCP server everything stopped during the call") {
			t.Errorf("the call's error: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end when its server died")
	}
	st := waitStatus(t, c, "failing", func(st genai.MCPServer) bool { return st.State == genai.MCPFailing })
	if len(st.Tools) != 0 || len(c.Groups()["mcp:everything"]()) != 0 || !strings.Contains(st.Error, "signal: killed") {
		t.Errorf("status after the crash %+v", st)
	}
	st = waitStatus(t, c, "restarted", connected)
	if st.Restarts != 1 || len(st.Tools) == 0 {
		t.Errorf("status after the restart %+v", st)
	}
	again := serverPID(t)
	if again == pid {
		t.Errorf("the same process %d", pid)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !os.IsNotExist(err) {
		t.Errorf("the crashed server %d was not reaped: %v", pid, err) // a zombie
	}
	c.Close()
	if !mcptest.WaitGone(again, 10*time.Second) {
		t.Errorf("the server %d outlived Close", again)
	}
}

// A server that never answers initialize is failing with the reason and its process
// is killed; each retry starts a new one, with backoff.
func TestServerThatNeverAnswers(t *testing.T) {
	c := startClient(t, mcp.ClientOptions{StartTimeout: 300 * time.Millisecond, RestartMin: 200 * time.Millisecond, RestartMax: time.Second},
		mcp.ServerConfig{Name: "silent", Command: "sleep", Args: []string{"600"}})
	st := waitStatus(t, c, "failing", func(st genai.MCPServer) bool { return st.State == genai.MCPFailing })
	if !strings.Contains(st.Error, "did not start: no answer within 300ms") || len(c.Groups()["mcp:silent"]()) != 0 {
		t.Errorf("status %+v", st)
	}
	waitStatus(t, c, "retried twice", func(st genai.MCPServer) bool { return st.Restarts >= 2 })
	if kids := mcptest.Children(os.Getpid()); len(kids) > 1 {
		t.Errorf("processes of failed starts are left: %v", kids)
	}
	c.Close()
	for _, pid := range mcptest.Children(os.Getpid()) {
		t.Errorf("child %d outlived Close", pid)
	}
}

// Streamable HTTP with the configured headers; a tool name made valid; isError and an
// image no model takes, kept as they are and noted; a tool added by the server is
// offered once its list_changed arrives; a call that runs out of time.
func TestStreamableHTTPServer(t *testing.T) {
	srv, url := mcptest.Weather(t)
	c := startClient(t, mcp.ClientOptions{CallTimeout: 2 * time.Second},
		mcp.ServerConfig{Name: "weather", URL: url, Headers: map[string]string{"Authorization": "Bearer " + mcptest.WeatherToken}})
	st := waitStatus(t, c, "connected", connected)
	if st.Transport != "http" || len(st.Tools) != 1 || st.Tools[0].Name != "weather__forecast_today" {
		t.Fatalf("status %+v", st)
	}
	f := tool(t, c, "mcp:weather", "weather__forecast_today")
	out := run(t, f, `{"city":"Brest"}`)
	if out.IsError || len(out.Content) != 1 || out.Content[0].Text != "Sunny in Brest\n[an image of type image/svg+xml, 6 bytes, left out: not a PNG, JPEG, GIF or WebP image]" {
		t.Errorf("forecast: %+v", out)
	}
	if out := run(t, f, `{"city":""}`); !out.IsError || out.Content[0].Text != "no such city" {
		t.Errorf("forecast of nowhere: %+v", out)
	}

	release := make(chan struct{})
	defer close(release)
	sdk.AddTool(srv, &sdk.Tool{Name: "radar"}, func(ctx context.Context, _ *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "late"}}}, nil, nil
	})
	st = waitStatus(t, c, "showing the new tool", func(st genai.MCPServer) bool { return len(st.Tools) == 2 })
	if st.Tools[1].Name != "weather__radar" || st.Tools[1].Description != "The tool radar of the MCP server weather." {
		t.Errorf("tools after list_changed %+v", st.Tools)
	}
	_, err := tool(t, c, "mcp:weather", "weather__radar").Run(context.Background(), json.RawMessage(`{}`))
	if genai.ErrorCode(err) != genai.ETIMEOUT || genai.ErrorMessage(err) != "the MCP server weather did not answer the call of radar within 2s" {
		t.Errorf("a call past its time: %v", err)
	}
	// The server answers its ping: slow, not hung, so it stays.
	time.Sleep(200 * time.Millisecond)
	if st := c.Status()[0]; st.State != genai.MCPConnected || st.Restarts != 0 {
		t.Errorf("status after the timeout %+v", st)
	}

	// A result is bounded: text cut at MaxResultText, images past MaxResultImages noted.
	png, _ := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
	sdk.AddTool(srv, &sdk.Tool{Name: "big"}, func(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, any, error) {
		res := &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.Repeat("é", 40000)}}}
		for range 5 {
			res.Content = append(res.Content, &sdk.ImageContent{MIMEType: "image/png", Data: png})
		}
		return res, nil, nil
	})
	waitStatus(t, c, "showing the tool big", func(st genai.MCPServer) bool { return len(st.Tools) == 3 })
	out = run(t, tool(t, c, "mcp:weather", "weather__big"), `{}`)
	if len(out.Content) != 6 || len(out.Content[0].Text) != mcp.MaxResultText || out.Content[4].Image == nil ||
		out.Content[5].Text != "[a png image left out: a result holds at most 4 images]\n[14464 more bytes of text cut: a result holds at most 65536]" {
		t.Errorf("a big result: %d blocks, the last %+v", len(out.Content), out.Content[len(out.Content)-1])
	}

	// A request that ends cancels its call on the server (notifications/cancelled).
	started, cancelled := make(chan struct{}), make(chan struct{})
	sdk.AddTool(srv, &sdk.Tool{Name: "wait"}, func(ctx context.Context, _ *sdk.CallToolRequest, _ struct{}) (*sdk.CallToolResult, any, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, nil, ctx.Err()
	})
	waitStatus(t, c, "showing the tool wait", func(st genai.MCPServer) bool { return len(st.Tools) == 4 })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	if _, err := tool(t, c, "mcp:weather", "weather__wait").Run(ctx, json.RawMessage(`{}`)); err != context.Canceled {
		t.Errorf("a cancelled call: %v", err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the server's handler was not cancelled")
	}
}

// A command that cannot run, and one that exits at once, are failing with the reason.
func TestServerThatCannotStart(t *testing.T) {
	for _, c := range []struct {
		cfg  mcp.ServerConfig
		want string
	}{
		{mcp.ServerConfig{Name: "missing", Command: "/nonexistent/mcp-server"}, "did not start: fork/exec /nonexistent/mcp-server: no such file or directory"},
		{mcp.ServerConfig{Name: "exits", Command: "sh", Args: []string{"-c", "echo boom >&2; exit 3"}}, "did not start: the process ended: exit status 3"},
	} {
		cl := startClient(t, mcp.ClientOptions{}, c.cfg)
		st := waitStatus(t, cl, "failing", func(st genai.MCPServer) bool { return st.State == genai.MCPFailing })
		if st.Error != c.want || st.RetryAt == nil {
			t.Errorf("%s: %+v, want the error %q", c.cfg.Name, st, c.want)
		}
		cl.Close()
	}
}

// A Streamable HTTP server that refuses us is failing with its answer.
func TestStreamableHTTPServerRefusing(t *testing.T) {
	_, url := mcptest.Weather(t)
	c := startClient(t, mcp.ClientOptions{}, mcp.ServerConfig{Name: "weather", URL: url, Headers: map[string]string{"Authorization": "Bearer wrong"}})
	st := waitStatus(t, c, "failing", func(st genai.MCPServer) bool { return st.State == genai.MCPFailing })
	if !strings.HasPrefix(st.Error, "did not start: ") || !strings.Contains(st.Error, "Unauthorized") {
		t.Errorf("status %+v", st)
	}
}
