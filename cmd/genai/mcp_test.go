package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai/rag"
)

// The official MCP Go SDK's client against genai's MCP server, over Streamable HTTP at
// /mcp and over stdio ("genai mcp"): the same tools, resources and errors both ways.

const (
	mcpKeyA = "mcp-test-key-aaaaaaaaaaaa"
	mcpKeyB = "mcp-test-key-bbbbbbbbbbbb"
)

// bearer adds a key to every request of an HTTP client, as an MCP client configured
// with a header does.
type bearer struct{ key string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return http.DefaultTransport.RoundTrip(r)
}

func mcpConnect(t *testing.T, transport sdk.Transport) *sdk.ClientSession {
	t.Helper()
	client := sdk.NewClient(&sdk.Implementation{Name: "genai-test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), transport, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func callText(t *testing.T, cs *sdk.ClientSession, name string, args any) (string, *sdk.CallToolResult) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res
}

// exerciseMCP runs what an assistant does with the server: list the tools, ingest a
// document and find its passage cited, add a note and find it, list and read the
// documents as resources, and get a bad call back as a tool error.
func exerciseMCP(t *testing.T, cs *sdk.ClientSession) {
	ctx := t.Context()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		if schema, _ := tool.InputSchema.(map[string]any); schema["type"] != "object" {
			t.Errorf("%s: input schema %v", tool.Name, tool.InputSchema)
		}
	}
	for _, want := range []string{"search_knowledge_base", "list_documents", "ingest_document", "search_notes", "add_note"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("tools %v: no %s", names, want)
		}
	}

	text, res := callText(t, cs, "ingest_document", map[string]any{"title": "Heat pumps", "uri": "heat-pumps.md",
		"text": "# Heat pumps\n\nA heat pump moves heat from cold outdoor air into the house, using a refrigerant loop.\n\n" +
			"# Defrosting\n\nIn frost the outdoor coil ices over, so the pump reverses for a few minutes to melt it."})
	if res.IsError || !strings.Contains(text, "Ingested") {
		t.Fatalf("ingest_document: %q (isError %v)", text, res.IsError)
	}
	docID := rag.DocumentID("heat-pumps.md")

	text, res = callText(t, cs, "search_knowledge_base", map[string]any{"query": "why does the outdoor coil ice over and reverse", "k": 2})
	if res.IsError || !strings.HasPrefix(text, "[1] ") || !strings.Contains(text, "reverses for a few minutes") {
		t.Errorf("search_knowledge_base: %q", text)
	}
	var cited struct {
		Citations []struct {
			N          int    `json:"n"`
			DocumentID string `json:"document_id"`
			URI        string `json:"uri"`
		} `json:"citations"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if json.Unmarshal(raw, &cited); len(cited.Citations) == 0 || cited.Citations[0].N != 1 || cited.Citations[0].DocumentID != docID {
		t.Errorf("structured citations: %s", raw)
	}

	if text, res = callText(t, cs, "add_note", map[string]any{"title": "Bike lock", "text": "The bike lock code is 4711."}); res.IsError {
		t.Fatalf("add_note: %q", text)
	}
	for _, mode := range []string{"semantic", "title", "hybrid"} {
		text, res = callText(t, cs, "search_notes", map[string]any{"query": "bike lock", "mode": mode})
		if res.IsError || !strings.Contains(text, "4711") {
			t.Errorf("search_notes %s: %q", mode, text)
		}
	}

	resources, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	uri := "genai://kb/documents/" + docID
	if len(resources.Resources) != 1 || resources.Resources[0].URI != uri || resources.Resources[0].Title != "Heat pumps" {
		raw, _ := json.Marshal(resources)
		t.Errorf("resources/list: %s", raw)
	}
	read, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	if len(read.Contents) != 1 || !strings.Contains(read.Contents[0].Text, "using a refrigerant loop") ||
		!strings.Contains(read.Contents[0].Text, "Defrosting") {
		raw, _ := json.Marshal(read)
		t.Errorf("resources/read: %s", raw)
	}
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: "genai://kb/documents/0123456789abcdef0123456789abcdef"}); err == nil {
		t.Error("resources/read of an unknown document: no error")
	}

	// A bad call is the tool's error, for the client's model to correct, not a failure
	// of the protocol.
	text, res = callText(t, cs, "search_knowledge_base", map[string]any{"query": "heat", "k": 500})
	if !res.IsError || !strings.Contains(text, "k: must be") {
		t.Errorf("k 500: %q (isError %v)", text, res.IsError)
	}
	text, res = callText(t, cs, "add_note", map[string]any{"text": "x", "colour": "red"})
	if !res.IsError || !strings.Contains(text, "colour") {
		t.Errorf("unknown field: %q (isError %v)", text, res.IsError)
	}
}

func TestMCPOverHTTP(t *testing.T) {
	isolateAWS(t)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "none", "GENAI_API_KEYS": mcpKeyA + "," + mcpKeyB})
	cs := mcpConnect(t, &sdk.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: bearer{mcpKeyA}}})
	exerciseMCP(t, cs)

	post := func(key, origin, session, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if k, ok := strings.CutPrefix(key, "X-API-Key "); ok {
			req.Header.Set("X-API-Key", k)
		} else if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const list = `{"jsonrpc":"2.0","id":99,"method":"tools/list"}`
	if cs.ID() == "" {
		t.Fatal("the session has no Mcp-Session-Id")
	}
	if code, body := post(mcpKeyA, "", cs.ID(), list); code != 200 || !strings.Contains(body, "search_notes") {
		t.Errorf("tools/list on the session with its own key: %d %s", code, body)
	}
	if code, body := post("X-API-Key "+mcpKeyA, "", cs.ID(), list); code != 200 || !strings.Contains(body, "search_notes") {
		t.Errorf("tools/list on the session with its key as X-API-Key: %d %s", code, body)
	}
	if code, body := post("X-API-Key "+mcpKeyB, "", cs.ID(), list); code != 403 {
		t.Errorf("tools/list on the session with another key as X-API-Key: %d %s", code, body)
	}
	if code, body := post(mcpKeyB, "", cs.ID(), list); code != 403 || !strings.Contains(body, `"code":"forbidden"`) {
		t.Errorf("tools/list on the session with another key: %d %s, want 403 forbidden", code, body)
	}
	if code, body := post(mcpKeyA, "", "no-such-session", list); code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("an unknown session: %d %s, want 404 not_found", code, body)
	}
	if code, body := post("", "", cs.ID(), list); code != 401 {
		t.Errorf("no key: %d %s", code, body)
	}
	if code, body := post(mcpKeyA, "https://evil.example", cs.ID(), list); code != 403 || !strings.Contains(body, "cross-origin") {
		t.Errorf("cross-origin: %d %s", code, body)
	}
}

// TestMCPStdioChild is "genai mcp" when run by TestMCPOverStdio as a child process.
func TestMCPStdioChild(t *testing.T) {
	if os.Getenv("GENAI_TEST_MCP_CHILD") != "1" {
		t.Skip("runs only as the child of TestMCPOverStdio")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := mcpCommand(ctx, nil, os.Getenv); err != nil {
		t.Fatal(err)
	}
}

func TestMCPOverStdio(t *testing.T) {
	isolateAWS(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestMCPStdioChild$")
	cmd.Env = append(os.Environ(), "GENAI_TEST_MCP_CHILD=1", "GENAI_DATA_DIR="+t.TempDir(), "GENAI_PROVIDER=none")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cs := mcpConnect(t, &sdk.CommandTransport{Command: cmd})
	exerciseMCP(t, cs)
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if !strings.Contains(stderr.String(), "genai MCP server on stdio") {
		t.Errorf("the log is not on stderr: %q", stderr.String())
	}
}

// An MCP client's open event stream (GET /mcp) does not hold the server's shutdown to
// its 30-second grace period: the sessions are closed first.
func TestMCPSessionDoesNotHoldShutdown(t *testing.T) {
	isolateAWS(t)
	m, base := start(t, map[string]string{"GENAI_PROVIDER": "none"})
	cs := mcpConnect(t, &sdk.StreamableClientTransport{Endpoint: base + "/mcp"})
	if err := cs.Ping(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("close with an MCP session open: %v", err)
	}
}
