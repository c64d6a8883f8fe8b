// Package mcptest runs MCP servers that genai did not write, for the tests of its MCP
// client: the npm reference servers @modelcontextprotocol/server-everything and
// @modelcontextprotocol/server-filesystem over stdio (pinned in package.json beside
// this file, installed by scripts/test with npm ci), and the processes they run as.
package mcptest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// dir is this package's directory, where node_modules is.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// script returns the path of a reference server's entry point, failing t when it is not
// installed unless GENAI_SKIP_NODE is set, which skips t.
func script(t testing.TB, pkg string) string {
	t.Helper()
	path := filepath.Join(dir(), "node_modules", "@modelcontextprotocol", pkg, "dist", "index.js")
	_, err := os.Stat(path)
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err != nil {
		if os.Getenv("GENAI_SKIP_NODE") != "" {
			t.Skip("GENAI_SKIP_NODE is set")
		}
		t.Fatalf("the reference MCP servers are not installed: run (cd mcptest && npm ci), or set GENAI_SKIP_NODE=1 (%v)", err)
	}
	return path
}

// WeatherToken is the bearer token Weather's server wants.
const WeatherToken = "sesame"

// Weather serves a Streamable HTTP MCP server built with the Go SDK, closed at t's end,
// and returns it, to add tools to, and its URL. It answers only requests with the
// header "Authorization: Bearer " + WeatherToken. Its tool forecast.today ({"city"})
// answers the text "Sunny in <city>" and an SVG image, or without a city, an isError
// result "no such city".
func Weather(t testing.TB) (*sdk.Server, string) {
	t.Helper()
	srv := sdk.NewServer(&sdk.Implementation{Name: "weather", Version: "1"}, nil)
	sdk.AddTool(srv, &sdk.Tool{Name: "forecast.today", Description: "Today's forecast"},
		func(_ context.Context, _ *sdk.CallToolRequest, in struct {
			City string `json:"city"`
		}) (*sdk.CallToolResult, any, error) {
			if in.City == "" {
				return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "no such city"}}}, nil, nil
			}
			return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "Sunny in " + in.City},
				&sdk.ImageContent{MIMEType: "image/svg+xml", Data: []byte("<svg/>")}}}, nil, nil
		})
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return srv }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+WeatherToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// Everything returns the command and arguments that run server-everything over stdio.
func Everything(t testing.TB) (string, []string) {
	return "node", []string{script(t, "server-everything"), "stdio"}
}

// Filesystem returns the command and arguments that run server-filesystem over stdio,
// allowed to read and write under root.
func Filesystem(t testing.TB, root string) (string, []string) {
	return "node", []string{script(t, "server-filesystem"), root}
}

// Children returns the ids of the running child processes of pid, from /proc.
func Children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil && Alive(n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Alive reports whether the process pid runs: it exists and is not a zombie.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may hold spaces.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// WaitGone waits up to d for the process pid to end, and reports whether it did.
func WaitGone(pid int, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !Alive(pid) {
			return true
		}
	}
	return !Alive(pid)
}
