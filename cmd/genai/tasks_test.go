package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai/bedrock/bedrocktest"
	"genai/opensearch/opensearchtest"
)

func del(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Two genai processes on one embedded store (one GENAI_DATA_DIR) answer each other's
// follow-ups: a knowledge-base session started on A is continued on B, and a response
// created on A is continued, read and deleted on B.
func TestTwoProcessesOnOneDataDir(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	env := map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_DATA_DIR": t.TempDir()}
	a := startChild(t, env)
	b := startChild(t, env)
	testFollowUpsAcrossTasks(t, up, a, b)
}

// Two genai processes on one OpenSearch, each with a data directory of its own, answer
// each other's follow-ups, and neither keeps a conversation on its disk.
func TestTwoProcessesOnOneOpenSearch(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	search := opensearchtest.NewServer(opensearchtest.Options{})
	t.Cleanup(search.Close)
	dirA, dirB := t.TempDir(), t.TempDir()
	env := func(dir string) map[string]string {
		return map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_DATA_DIR": dir,
			"GENAI_STORE": "opensearch", "GENAI_OPENSEARCH_URL": search.URL, "GENAI_OPENSEARCH_AUTH": "none"}
	}
	a := startChild(t, env(dirA))
	b := startChild(t, env(dirB))
	testFollowUpsAcrossTasks(t, up, a, b)
	for _, dir := range []string{dirA, dirB} {
		if _, err := os.Stat(filepath.Join(dir, responsesFile)); err == nil {
			t.Errorf("%s is on a task's disk with GENAI_STORE=opensearch", filepath.Join(dir, responsesFile))
		}
	}
}

func testFollowUpsAcrossTasks(t *testing.T, up *bedrocktest.Server, a, b string) {
	t.Helper()
	if status, out := post(t, a+"/api/kb/documents", `{"title":"Tides","text":"The moon's gravity pulls the oceans, raising two tides a day. When sun and moon align, spring tides are the highest."}`); status != 201 {
		t.Fatalf("upload on A: %d %s", status, out)
	}

	// B searches what A wrote (an embedded store reloads its in-memory indexes when
	// another process has written).
	if status, out := post(t, b+"/api/kb/retrieve", `{"query":"moon gravity tides","k":2}`); status != 200 || !strings.Contains(out, "moon's gravity") {
		t.Errorf("retrieve on B of A's upload: %d %s", status, out)
	}

	// The knowledge base: a question on A, its follow-up by session_id on B.
	status, out := post(t, a+"/api/kb/answer", `{"query":"What causes the highest tides?","stream":false}`)
	var first struct {
		SessionID string `json:"session_id"`
	}
	json.Unmarshal([]byte(out), &first)
	if status != 200 || first.SessionID == "" {
		t.Fatalf("question on A: %d %s", status, out)
	}
	before := len(up.Requests())
	status, out = post(t, b+"/api/kb/answer", `{"query":"And how often do they come?","session_id":"`+first.SessionID+`","stream":false}`)
	if status != 200 || !strings.Contains(out, first.SessionID) {
		t.Fatalf("follow-up on B: %d %s", status, out)
	}
	var rewrite bool
	for _, r := range up.Requests()[before:] {
		for _, m := range r.Messages {
			for _, c := range m.Content {
				if strings.Contains(c.Text, "What causes the highest tides?") && strings.Contains(c.Text, "And how often do they come?") {
					rewrite = true
				}
			}
		}
	}
	if !rewrite {
		t.Errorf("B's calls to the model do not carry A's question: the follow-up was not understood as one")
	}
	if status, out := post(t, b+"/api/kb/answer", `{"query":"And then?","session_id":"kbs_00000000000000000000000000000000","stream":false}`); status != 200 {
		t.Errorf("an unknown session on B: %d %s", status, out)
	}

	// The Responses API: created on A; continued, read and deleted on B.
	status, out = post(t, a+"/v1/responses", `{"model":"`+DefaultBedrockModel+`","input":"hello there"}`)
	var resp struct{ ID string }
	json.Unmarshal([]byte(out), &resp)
	if status != 200 || !strings.HasPrefix(resp.ID, "resp_") {
		t.Fatalf("response on A: %d %s", status, out)
	}
	status, out = post(t, b+"/v1/responses", `{"model":"`+DefaultBedrockModel+`","previous_response_id":"`+resp.ID+`","input":"say more"}`)
	if status != 200 {
		t.Fatalf("continued on B: %d %s", status, out)
	}
	reqs := up.Requests()
	last := reqs[len(reqs)-1]
	if len(last.Messages) != 3 || last.Messages[0].Content[0].Text != "hello there" || last.Messages[2].Content[0].Text != "say more" {
		t.Errorf("the continuation on B upstream: %+v", last.Messages)
	}
	if got := getStatus(t, b+"/v1/responses/"+resp.ID); got != 200 {
		t.Errorf("GET on B of A's response: %d", got)
	}
	if got := del(t, b+"/v1/responses/"+resp.ID); got != 200 {
		t.Errorf("DELETE on B of A's response: %d", got)
	}
	if got := getStatus(t, a+"/v1/responses/"+resp.ID); got != 404 {
		t.Errorf("GET on A after the DELETE on B: %d, want 404", got)
	}
}

// roundRobin sends each request to the next of several servers, as a load balancer
// without stickiness does, and counts the requests each got.
type roundRobin struct {
	mu    sync.Mutex
	hosts []string
	next  int
	got   map[string]int
}

func (rr *roundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	rr.mu.Lock()
	host := rr.hosts[rr.next%len(rr.hosts)]
	rr.next++
	rr.got[host]++
	rr.mu.Unlock()
	r = r.Clone(r.Context())
	r.URL.Host, r.Host = host, host
	return http.DefaultTransport.RoundTrip(r)
}

// With GENAI_MCP_STATELESS, an MCP client behind a load balancer that sends each of its
// requests to another of two genai processes (on one data directory) gets through a
// whole session: tools listed, a document ingested and found, a note added and found,
// resources read.
func TestMCPStatelessAcrossTwoProcesses(t *testing.T) {
	isolateAWS(t)
	env := map[string]string{"GENAI_PROVIDER": "none", "GENAI_DATA_DIR": t.TempDir(), "GENAI_MCP_STATELESS": "true"}
	a, b := startChild(t, env), startChild(t, env)
	rr := &roundRobin{hosts: []string{strings.TrimPrefix(a, "http://"), strings.TrimPrefix(b, "http://")}, got: map[string]int{}}
	cs := mcpConnect(t, &sdk.StreamableClientTransport{Endpoint: a + "/mcp", HTTPClient: &http.Client{Transport: rr}})
	exerciseMCP(t, cs)
	for _, h := range rr.hosts {
		if rr.got[h] < 3 {
			t.Errorf("%s got %d requests of the session; the test must spread them", h, rr.got[h])
		}
	}
}

// Stateless, /mcp issues no session and still checks the key of every request: a
// tools/list needs no initialize before it, GET (the session's event stream) is 405, and
// a request without a key is 401.
func TestMCPStatelessChecksEveryRequest(t *testing.T) {
	isolateAWS(t)
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "none", "GENAI_API_KEYS": mcpKeyA, "GENAI_MCP_STATELESS": "true"})
	send := func(method, key, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, base+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`
	code, h, body := send("POST", mcpKeyA, list)
	if code != 200 || !strings.Contains(body, "search_notes") || h.Get("Mcp-Session-Id") != "" {
		t.Errorf("tools/list on its own: %d (session %q) %s", code, h.Get("Mcp-Session-Id"), body)
	}
	if code, _, body := send("GET", mcpKeyA, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /mcp: %d %s, want 405", code, body)
	}
	if code, _, body := send("POST", "", list); code != http.StatusUnauthorized {
		t.Errorf("without a key: %d %s, want 401", code, body)
	}
}
