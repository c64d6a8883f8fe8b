package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/server"
	"genai/sqlite"
)

// memDocs is an in-memory document store for the HTTP mechanics of the knowledge-base
// routes: it takes .txt and .md files as one chunk each and finds chunks by shared
// words. The real ingestion and retrieval are tested in package rag and end to end in
// TestKBOnTheStore.
type memDocs struct {
	mu   sync.Mutex
	docs []genai.Document
	text map[string]string
}

func (m *memDocs) IngestFile(ctx context.Context, name string, file io.Reader) (*genai.Ingested, error) {
	if !strings.HasSuffix(name, ".txt") && !strings.HasSuffix(name, ".md") {
		return nil, genai.Errorf(genai.EMEDIATYPE, "%s: not a format the knowledge base reads", name)
	}
	data, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", name, err)
	}
	return m.IngestText(ctx, strings.TrimSuffix(name, ".txt"), name, string(data))
}

func (m *memDocs) IngestText(ctx context.Context, title, uri, text string) (*genai.Ingested, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.text == nil {
		m.text = map[string]string{}
	}
	d := genai.Document{ID: fmt.Sprintf("doc%d", len(m.docs)+1), Title: title, URI: uri, Format: "text", Chunks: 1, Bytes: int64(len(text))}
	m.docs = append(m.docs, d)
	m.text[d.ID] = text
	return &genai.Ingested{Document: d}, nil
}

func (m *memDocs) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.docs), nil
}

func (m *memDocs) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.docs {
		if d.ID == id {
			return &d, nil
		}
	}
	return nil, genai.Errorf(genai.ENOTFOUND, "document %q: not found", id)
}

func (m *memDocs) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	if _, err := m.GetDocument(ctx, id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return []genai.Chunk{{ID: id + "#0", DocumentID: id, Text: m.text[id]}}, nil
}

func (m *memDocs) DeleteDocument(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.docs, func(d genai.Document) bool { return d.ID == id })
	if i < 0 {
		return genai.Errorf(genai.ENOTFOUND, "document %q: not found", id)
	}
	m.docs = slices.Delete(m.docs, i, i+1)
	delete(m.text, id)
	return nil
}

func (m *memDocs) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var hits []genai.ChunkHit
	for _, d := range m.docs {
		if q.DocumentID != "" && d.ID != q.DocumentID {
			continue
		}
		score := 0
		for _, w := range strings.Fields(strings.ToLower(q.Query)) {
			if len(w) > 3 && strings.Contains(strings.ToLower(m.text[d.ID]), strings.Trim(w, "?.,")) {
				score++
			}
		}
		if score > 0 {
			hits = append(hits, genai.ChunkHit{Chunk: genai.Chunk{ID: d.ID + "#0", DocumentID: d.ID, Text: m.text[d.ID]}, Title: d.Title, URI: d.URI, Score: float64(score)})
		}
	}
	slices.SortStableFunc(hits, func(a, b genai.ChunkHit) int { return int(b.Score - a.Score) })
	return hits[:min(len(hits), q.K)], nil
}

// kbModel is a ChatModel for the answer routes: Chat answers a rewriting call with
// rewrite, Stream plays events (then blocks until cancelled when block is set).
type kbModel struct {
	rewrite   string
	events    []genai.Event
	err       error
	block     bool
	cancelled chan struct{}

	mu   sync.Mutex
	reqs []*genai.ChatRequest
}

func (m *kbModel) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	m.record(req)
	return func(yield func(genai.Event, error) bool) {
		for _, ev := range m.events {
			if !yield(ev, nil) {
				return
			}
		}
		if m.block {
			<-ctx.Done()
			close(m.cancelled)
			yield(genai.Event{}, ctx.Err())
			return
		}
		if m.err != nil {
			yield(genai.Event{}, m.err)
		}
	}
}

func (m *kbModel) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	m.record(req)
	return &genai.ChatResponse{Text: m.rewrite, StopReason: "end_turn"}, nil
}

func (m *kbModel) record(req *genai.ChatRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = append(m.reqs, req)
}

func (m *kbModel) requests() []*genai.ChatRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.reqs)
}

const (
	metforminText = "Metformin is a medicine used to treat type 2 diabetes. Common side effects of metformin include nausea and diarrhoea."
	insulinText   = "Insulin is a hormone made by the pancreas."
)

// kbServer serves a local knowledge base over docs holding two documents, answered by
// model (nil for extractive answers).
func kbServer(t *testing.T, model genai.ChatModel, opts server.Options) (string, *memDocs) {
	t.Helper()
	docs := &memDocs{}
	docs.IngestText(context.Background(), "Metformin", "metformin.md", metforminText)
	docs.IngestText(context.Background(), "Insulin", "https://example.com/insulin", insulinText)
	kb := &rag.Local{Retriever: docs, Sessions: &rag.Sessions{}}
	if model != nil {
		kb.Chat = model
	}
	opts.KB, opts.KBName, opts.Ingest = kb, "local", docs
	return newServer(t, opts).URL, docs
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	decodeJSON(t, body, &e)
	if e.Error.Message == "" {
		t.Errorf("error without a message: %s", body)
	}
	return e.Error.Code
}

func TestKBDocumentsJSONListDelete(t *testing.T) {
	base, _ := kbServer(t, nil, server.Options{})
	status, body := do(t, "POST", base+"/api/kb/documents", `{"title":"Aspirin","text":"Aspirin relieves pain.","uri":"notes/aspirin"}`)
	var up struct {
		Documents []map[string]any
		Errors    []any
	}
	decodeJSON(t, body, &up)
	if status != 201 || len(up.Documents) != 1 || up.Errors != nil {
		t.Fatalf("upload: %d %s", status, body)
	}
	d := up.Documents[0]
	if d["id"] != "doc3" || d["title"] != "Aspirin" || d["uri"] != "notes/aspirin" || d["chunks"] != 1.0 {
		t.Errorf("document %v", d)
	}

	status, body = do(t, "GET", base+"/api/kb/documents", "")
	var list struct{ Documents []genai.Document }
	decodeJSON(t, body, &list)
	if status != 200 || len(list.Documents) != 3 {
		t.Fatalf("list: %d %s", status, body)
	}
	if status, body = do(t, "DELETE", base+"/api/kb/documents/doc3", ""); status != 204 || len(body) != 0 {
		t.Errorf("delete: %d %q", status, body)
	}
	if status, body = do(t, "DELETE", base+"/api/kb/documents/doc3", ""); status != 404 || errorCode(t, body) != "not_found" {
		t.Errorf("delete again: %d %s", status, body)
	}

	for _, tc := range []struct{ body, code string }{
		{`{"title":"x"}`, "invalid_request"},
		{`{"title":"x","text":"  "}`, "invalid_request"},
		{`{"title":`, "invalid_request"},
		{`{"text":5}`, "invalid_request"},
	} {
		if status, body := do(t, "POST", base+"/api/kb/documents", tc.body); status != 400 || errorCode(t, body) != tc.code {
			t.Errorf("%s: %d %s", tc.body, status, body)
		}
	}
}

type filePart struct{ field, name, content string }

func multipartBody(t *testing.T, parts ...filePart) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.name == "" {
			w, err = mw.CreateFormField(p.field)
		} else {
			w, err = mw.CreateFormFile(p.field, p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.content)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func postMultipart(t *testing.T, url string, parts ...filePart) (int, []byte) {
	t.Helper()
	ct, body := multipartBody(t, parts...)
	resp, err := http.Post(url, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type uploadBody struct {
	Documents []genai.Document
	Errors    []struct {
		File  string
		Error struct{ Code, Message string }
	}
	Error struct{ Code, Message string }
}

func TestKBUploadMultipartGoesOnPastBadFiles(t *testing.T) {
	base, docs := kbServer(t, nil, server.Options{MaxFileBytes: 100})
	status, body := postMultipart(t, base+"/api/kb/documents",
		filePart{"file", "junk.bin", "\x00\x01\x02"},
		filePart{"note", "", "a form field, ignored"},
		filePart{"file", "good.txt", "Aspirin relieves pain."},
		filePart{"file", "big.txt", strings.Repeat("x", 101)},
		filePart{"file", "also.md", "# Also\n\nFine."},
	)
	var up uploadBody
	decodeJSON(t, body, &up)
	if status != 201 || len(up.Documents) != 2 || up.Documents[0].URI != "good.txt" || up.Documents[1].URI != "also.md" {
		t.Fatalf("%d %s", status, body)
	}
	if len(up.Errors) != 2 || up.Errors[0].File != "junk.bin" || up.Errors[0].Error.Code != "unsupported_media_type" ||
		up.Errors[1].File != "big.txt" || up.Errors[1].Error.Code != "too_large" || !strings.Contains(up.Errors[1].Error.Message, "100 bytes per file") {
		t.Errorf("errors %+v", up.Errors)
	}
	if list, _ := docs.ListDocuments(context.Background()); len(list) != 4 {
		t.Errorf("%d documents stored, want 4", len(list))
	}

	// When every file fails, the status is the first failure's.
	status, body = postMultipart(t, base+"/api/kb/documents", filePart{"file", "big.txt", strings.Repeat("x", 101)}, filePart{"file", "a.bin", "x"})
	decodeJSON(t, body, &up)
	if status != 413 || up.Error.Code != "too_large" || len(up.Errors) != 2 {
		t.Errorf("all failed: %d %s", status, body)
	}
	status, body = postMultipart(t, base+"/api/kb/documents", filePart{"title", "", "no files"})
	if status != 400 || errorCode(t, body) != "invalid_request" {
		t.Errorf("no file parts: %d %s", status, body)
	}
}

func TestKBUploadOverTotalLimit(t *testing.T) {
	base, _ := kbServer(t, nil, server.Options{MaxFileBytes: 100, MaxUploadBytes: 1000})
	parts := []filePart{{"file", "first.txt", "Fine."}}
	for i := range 20 {
		parts = append(parts, filePart{"file", fmt.Sprintf("f%d.txt", i), strings.Repeat("y", 90)})
	}
	// Declared length over the limit: refused before reading.
	status, body := postMultipart(t, base+"/api/kb/documents", parts...)
	if status != 413 || errorCode(t, body) != "too_large" {
		t.Errorf("declared: %d %s", status, body)
	}
	// Chunked, so the limit is found while reading: the files before it are kept.
	ct, buf := multipartBody(t, parts...)
	req, _ := http.NewRequest("POST", base+"/api/kb/documents", io.MultiReader(buf))
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var up uploadBody
	json.NewDecoder(resp.Body).Decode(&up)
	if resp.StatusCode != 201 || len(up.Documents) == 0 || up.Documents[0].URI != "first.txt" ||
		len(up.Errors) != 1 || up.Errors[0].Error.Code != "too_large" || !strings.Contains(up.Errors[0].Error.Message, "all files together") {
		t.Errorf("chunked: %d %+v", resp.StatusCode, up)
	}
}

func TestKBRetrieve(t *testing.T) {
	base, _ := kbServer(t, nil, server.Options{})
	status, body := do(t, "POST", base+"/api/kb/retrieve", `{"query":"metformin side effects"}`)
	var res struct{ Results []map[string]any }
	decodeJSON(t, body, &res)
	if status != 200 || len(res.Results) != 1 {
		t.Fatalf("%d %s", status, body)
	}
	r := res.Results[0]
	for _, k := range []string{"chunk_id", "document_id", "title", "uri", "text", "score"} {
		if _, ok := r[k]; !ok {
			t.Errorf("result lacks %q: %v", k, r)
		}
	}
	status, body = do(t, "POST", base+"/api/kb/retrieve", `{"query":"metformin insulin","k":6,"filter":{"document_id":"doc2"}}`)
	decodeJSON(t, body, &res)
	if status != 200 || len(res.Results) != 1 || res.Results[0]["document_id"] != "doc2" {
		t.Errorf("filtered: %d %s", status, body)
	}
	status, body = do(t, "POST", base+"/api/kb/retrieve", `{"query":"nothing matches this"}`)
	if status != 200 || string(body) != "{\"results\":[]}\n" {
		t.Errorf("no hits: %d %s", status, body)
	}
	for _, tc := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"query":"x","k":0}`, 400, "k: must be from 1 to 100, got 0"},
		{`{"query":"x","k":101}`, 400, "k: must be from 1 to 100"},
		{`{"query":" "}`, 400, "query: required"},
		{`{}`, 400, "query: required"},
		{`{"query":"x","mode":"magic"}`, 400, "mode:"},
		{`{"query":`, 400, "body: malformed JSON"},
		{`{"query":"` + strings.Repeat("a", genai.MaxQueryBytes+1) + `"}`, 413, "query:"},
	} {
		status, body := do(t, "POST", base+"/api/kb/retrieve", tc.body)
		if status != tc.status || !strings.Contains(string(body), tc.msg) {
			t.Errorf("%.60s: %d %s", tc.body, status, body)
		}
	}
}

func TestKBAnswerStreamsCitationsDeltasDone(t *testing.T) {
	m := &kbModel{rewrite: "metformin side effects", events: []genai.Event{{Text: "Type 2 "}, {Text: "diabetes [1]."}, {Done: true, StopReason: "end_turn", Usage: genai.Usage{InputTokens: 50, OutputTokens: 4}}}}
	base, _ := kbServer(t, m, server.Options{})
	resp := post(t, base+"/api/kb/answer", `{"query":"What is metformin used for?"}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := readSSE(t, resp.Body)
	var names []string
	for _, e := range evs {
		names = append(names, e.name)
	}
	if strings.Join(names, ",") != "citations,delta,delta,done" {
		t.Fatalf("events %v", names)
	}
	cs := evs[0].data["citations"].([]any)
	c := cs[0].(map[string]any)
	if len(cs) != 1 || c["n"] != 1.0 || c["chunk_id"] != "doc1#0" || c["document_id"] != "doc1" || c["title"] != "Metformin" || c["uri"] != "metformin.md" || c["text"] != metforminText {
		t.Errorf("citations %v", cs)
	}
	done := evs[3].data
	sid, _ := done["session_id"].(string)
	if sid == "" || done["stop_reason"] != "end_turn" || done["extractive"] != false || done["usage"].(map[string]any)["output_tokens"] != 4.0 {
		t.Errorf("done %v", done)
	}
	if evs[1].data["text"] != "Type 2 " {
		t.Errorf("delta %v", evs[1].data)
	}

	// The follow-up names only the session: it is rewritten, and the model sees the
	// earlier exchange.
	resp = post(t, base+"/api/kb/answer", `{"query":"And its side effects?","session_id":"`+sid+`","k":3}`)
	evs = readSSE(t, resp.Body)
	if len(evs) != 4 || evs[3].data["session_id"] != sid {
		t.Fatalf("follow-up events %v", evs)
	}
	reqs := m.requests()
	if len(reqs) != 3 || !strings.Contains(reqs[1].Messages[0].Text(), "User: What is metformin used for?") {
		t.Fatalf("model calls %d; rewriting call %+v", len(reqs), reqs[1])
	}
	last := reqs[2]
	if len(last.Messages) != 3 || last.Messages[1].Text() != "Type 2 diabetes [1]." || !strings.Contains(last.Messages[2].Text(), "[1] Metformin — Metformin is a medicine") {
		t.Errorf("answer call %+v", last.Messages)
	}
}

func TestKBAnswerMessagesAndNotStreamed(t *testing.T) {
	base, _ := kbServer(t, nil, server.Options{})
	status, body := do(t, "POST", base+"/api/kb/answer", `{"messages":[{"role":"user","content":"What are the side effects of metformin?"}],"stream":false}`)
	var a struct {
		Answer     string
		Citations  []genai.Citation
		SessionID  string `json:"session_id"`
		Extractive bool
	}
	decodeJSON(t, body, &a)
	if status != 200 || !a.Extractive || a.SessionID == "" || len(a.Citations) != 1 || a.Citations[0].ChunkID != "doc1#0" {
		t.Fatalf("%d %s", status, body)
	}
	if !strings.HasPrefix(a.Answer, "Extractive answer (no model configured): ") || !strings.Contains(a.Answer, "Common side effects of metformin include nausea and diarrhoea. [1]") {
		t.Errorf("answer %q", a.Answer)
	}
	// Nothing relevant: an answer that says so, with no citations.
	status, body = do(t, "POST", base+"/api/kb/answer", `{"query":"How tall is the Eiffel tower?","stream":false}`)
	decodeJSON(t, body, &a)
	if status != 200 || len(a.Citations) != 0 || !strings.Contains(a.Answer, "no passage") {
		t.Errorf("no sources: %d %s", status, body)
	}
	// Streamed, the extractive flag is on the first event too.
	resp := post(t, base+"/api/kb/answer", `{"query":"metformin side effects"}`)
	evs := readSSE(t, resp.Body)
	if len(evs) != 3 || evs[0].name != "citations" || evs[0].data["extractive"] != true || evs[2].data["extractive"] != true {
		t.Errorf("events %v", evs)
	}
}

func TestKBAnswerRequestErrors(t *testing.T) {
	base, _ := kbServer(t, &kbModel{}, server.Options{})
	for _, tc := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{}`, 400, "query: required"},
		{`{"query":""}`, 400, "query: required"},
		{`{"query":"x","messages":[{"role":"user","content":"y"}]}`, 400, "send one of them, not both"},
		{`{"query":"x","k":0}`, 400, "k: must be from 1 to 100, got 0"},
		{`{"query":"x","k":"six"}`, 400, "k: expected a number"},
		{`{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}`, 400, "messages[1].role: the last message must be the user's question"},
		{`{"messages":[{"role":"assistant","content":"a"}]}`, 400, "messages[0].role"},
		{`{"messages":[]}`, 400, "messages:"},
		{`{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/gif","data":"R0lGODlhAQABAAAAACw="}}]}]}`, 400, "messages[0].content: the question has no text"},
		{`{"query":"x","session_id":"a b"}`, 400, "session_id:"},
		{`{"query":"x","stream":"yes"}`, 400, "stream:"},
		{`not json`, 400, "body: malformed JSON"},
	} {
		status, body := do(t, "POST", base+"/api/kb/answer", tc.body)
		if status != tc.status || !strings.Contains(string(body), tc.msg) {
			t.Errorf("%s: %d %s", tc.body, status, body)
		}
	}
}

func TestKBAnswerErrorsBeforeAndAfterFirstByte(t *testing.T) {
	throttled := &genai.Error{Code: genai.ETHROTTLED, Message: "slow down", RetryAfter: 2 * time.Second}
	base, _ := kbServer(t, &kbModel{err: throttled}, server.Options{})
	resp := post(t, base+"/api/kb/answer", `{"query":"metformin"}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("before the first byte: %d", resp.StatusCode)
	}
	if code, _ := decodeError(t, resp); code != "throttled" {
		t.Errorf("code %q", code)
	}

	base, _ = kbServer(t, &kbModel{events: []genai.Event{{Text: "Part"}}, err: genai.Errorf(genai.EUPSTREAM, "model broke")}, server.Options{})
	evs := readSSE(t, post(t, base+"/api/kb/answer", `{"query":"metformin"}`).Body)
	if len(evs) != 3 || evs[0].name != "citations" || evs[1].name != "delta" || evs[2].name != "error" ||
		evs[2].data["error"].(map[string]any)["code"] != "upstream_error" {
		t.Errorf("after the first byte: %v", evs)
	}
}

func TestKBAnswerDisconnectCancelsModel(t *testing.T) {
	m := &kbModel{events: []genai.Event{{Text: "Hel"}}, block: true, cancelled: make(chan struct{})}
	base, _ := kbServer(t, m, server.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/kb/answer", strings.NewReader(`{"query":"metformin"}`))
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
	cancel()
	resp.Body.Close()
	select {
	case <-m.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the model's context was not cancelled after the client went away")
	}
}

// managedKB is a knowledge base whose sources arrive with the text, as Amazon Bedrock's
// RetrieveAndGenerateStream reports them.
type managedKB struct{}

func (managedKB) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	return []genai.ChunkHit{{Chunk: genai.Chunk{ID: "s3chunk", DocumentID: "s3://bucket/a.pdf", Text: "From S3."}, URI: "s3://bucket/a.pdf", Score: 0.8}}, nil
}

func (managedKB) Answer(ctx context.Context, req *genai.AnswerRequest) (*genai.Answer, error) {
	return &genai.Answer{SessionID: "bedrock-session", Events: func(yield func(genai.Event, error) bool) {
		_ = yield(genai.Event{Text: "From S3."}, nil) &&
			yield(genai.Event{Citations: []genai.Citation{{N: 1, ChunkID: "s3chunk", URI: "s3://bucket/a.pdf", Text: "From S3."}}}, nil) &&
			yield(genai.Event{Text: " [1]"}, nil) &&
			yield(genai.Event{Done: true, StopReason: "end_turn"}, nil)
	}}, nil
}

func TestKBManagedMode(t *testing.T) {
	base := newServer(t, server.Options{KB: managedKB{}, KBName: "bedrock"}).URL
	evs := readSSE(t, post(t, base+"/api/kb/answer", `{"query":"what is in the bucket?"}`).Body)
	var names []string
	for _, e := range evs {
		names = append(names, e.name)
	}
	if strings.Join(names, ",") != "citations,delta,citations,delta,done" || len(evs[0].data["citations"].([]any)) != 0 ||
		evs[2].data["citations"].([]any)[0].(map[string]any)["chunk_id"] != "s3chunk" || evs[4].data["session_id"] != "bedrock-session" {
		t.Errorf("events %v", evs)
	}
	status, body := do(t, "POST", base+"/api/kb/answer", `{"query":"what is in the bucket?","stream":false}`)
	var a struct {
		Answer    string
		Citations []genai.Citation
	}
	decodeJSON(t, body, &a)
	if status != 200 || a.Answer != "From S3. [1]" || len(a.Citations) != 1 {
		t.Errorf("not streamed: %d %s", status, body)
	}

	status, body = do(t, "POST", base+"/api/kb/documents", `{"text":"x"}`)
	if status != 400 || !strings.Contains(string(body), "managed in Amazon Bedrock") {
		t.Errorf("upload: %d %s", status, body)
	}
	if status, body = do(t, "DELETE", base+"/api/kb/documents/x", ""); status != 400 || !strings.Contains(string(body), "managed in Amazon Bedrock") {
		t.Errorf("delete: %d %s", status, body)
	}
	status, body = do(t, "GET", base+"/api/kb/documents", "")
	if status != 200 || !strings.Contains(string(body), `"documents":[]`) || !strings.Contains(string(body), `"managed_by":"bedrock"`) {
		t.Errorf("list: %d %s", status, body)
	}
	_, body = do(t, "GET", base+"/api/config", "")
	var cfg struct {
		KnowledgeBase string `json:"knowledge_base"`
		Features      map[string]bool
	}
	decodeJSON(t, body, &cfg)
	if cfg.KnowledgeBase != "bedrock" || !cfg.Features["kb"] || cfg.Features["kb_upload"] {
		t.Errorf("config %s", body)
	}
}

func TestKBNotConfigured(t *testing.T) {
	base := newServer(t, server.Options{}).URL
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/kb/answer", `{"query":"x"}`},
		{"POST", "/api/kb/retrieve", `{"query":"x"}`},
		{"GET", "/api/kb/documents", ""},
		{"POST", "/api/kb/documents", `{"text":"x"}`},
		{"POST", "/knowledge-base-retrieve", hi},
		{"POST", "/knowledge-base-retrieve-and-generate", hi},
	} {
		if status, body := do(t, r.method, base+r.path, r.body); status != 503 || errorCode(t, body) != "unavailable" {
			t.Errorf("%s %s: %d %s", r.method, r.path, status, body)
		}
	}
	_, body := do(t, "GET", base+"/api/config", "")
	if strings.Contains(string(body), "knowledge_base") || !strings.Contains(string(body), `"kb":false`) {
		t.Errorf("config %s", body)
	}
}

func TestWorkshopKnowledgeBaseRetrieve(t *testing.T) {
	base, _ := kbServer(t, nil, server.Options{})
	status, body := do(t, "POST", base+"/knowledge-base-retrieve",
		`{"messages":[{"role":"user","content":"insulin"},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"text","text":"What does the pancreas make?"}]}]}`)
	var res struct {
		RetrievalResults []struct {
			Content  struct{ Text string }
			Location map[string]any
			Metadata map[string]string
			Score    float64
		}
	}
	decodeJSON(t, body, &res)
	if status != 200 || len(res.RetrievalResults) != 1 {
		t.Fatalf("%d %s", status, body)
	}
	r := res.RetrievalResults[0]
	if r.Content.Text != insulinText || r.Location["type"] != "WEB" || r.Location["webLocation"].(map[string]any)["url"] != "https://example.com/insulin" ||
		r.Metadata["x-amz-bedrock-kb-title"] != "Insulin" || r.Score <= 0 {
		t.Errorf("result %+v", r)
	}
	if status, body := do(t, "POST", base+"/knowledge-base-retrieve", `{"messages":[]}`); status != 400 {
		t.Errorf("no messages: %d %s", status, body)
	}
}

func TestWorkshopKnowledgeBaseRetrieveAndGenerate(t *testing.T) {
	m := &kbModel{events: []genai.Event{{Text: "Metformin treats type 2 diabetes [1]. It may cause nausea [1][9]. Ask a doctor."}, {Done: true, StopReason: "end_turn"}}}
	base, _ := kbServer(t, m, server.Options{})
	status, body := do(t, "POST", base+"/knowledge-base-retrieve-and-generate", `{"messages":[{"role":"user","content":"What is metformin for?"}]}`)
	type part struct {
		Text string
		Span struct{ Start, End int }
	}
	var res struct {
		Output    struct{ Text string }
		Citations []struct {
			GeneratedResponsePart struct{ TextResponsePart part }
			RetrievedReferences   []struct {
				Content  struct{ Text string }
				Location map[string]any
				Metadata map[string]string
			}
		}
	}
	decodeJSON(t, body, &res)
	const want = "Metformin treats type 2 diabetes. It may cause nausea. Ask a doctor."
	if status != 200 || res.Output.Text != want || len(res.Citations) != 2 {
		t.Fatalf("%d %s", status, body)
	}
	for i, wantPart := range []string{"Metformin treats type 2 diabetes.", "It may cause nausea."} {
		c := res.Citations[i]
		p := c.GeneratedResponsePart.TextResponsePart
		if p.Text != wantPart || want[p.Span.Start:p.Span.End+1] != wantPart {
			t.Errorf("citation %d: part %+v", i, p)
		}
		if len(c.RetrievedReferences) != 1 || c.RetrievedReferences[0].Content.Text != metforminText ||
			c.RetrievedReferences[0].Location["type"] != "CUSTOM" || c.RetrievedReferences[0].Metadata["x-amz-bedrock-kb-source-uri"] != "metformin.md" {
			t.Errorf("citation %d: references %+v", i, c.RetrievedReferences)
		}
	}
}

// TestKBOnTheStore runs the routes on the real parts of the offline default: the
// ingester, the embedded SQLite store, the local embedder and hybrid retrieval.
func TestKBOnTheStore(t *testing.T) {
	e, err := localembed.New(localembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "genai.db"), sqlite.Options{Space: e.Space()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	kb := &rag.Local{Retriever: &rag.Retriever{Store: db, Embedder: e}, Sessions: &rag.Sessions{}}
	base := newServer(t, server.Options{KB: kb, KBName: "local", Ingest: &rag.Ingester{Store: db, Embedder: e}}).URL

	status, body := postMultipart(t, base+"/api/kb/documents",
		filePart{"file", "metformin.md", "# Metformin\n\nMetformin treats type 2 diabetes.\n\n## Side effects\n\nCommon side effects of metformin include nausea and diarrhoea."},
		filePart{"file", "broken.pdf", "%PDF-1.7 this is not really a PDF"},
		filePart{"file", "insulin.txt", "Insulin is a hormone made by the pancreas."},
	)
	var up uploadBody
	decodeJSON(t, body, &up)
	if status != 201 || len(up.Documents) != 2 || up.Documents[0].Chunks < 1 || len(up.Errors) != 1 || up.Errors[0].File != "broken.pdf" {
		t.Fatalf("upload: %d %s", status, body)
	}
	status, body = do(t, "POST", base+"/api/kb/retrieve", `{"query":"side effects of metformin","k":1}`)
	var res struct{ Results []genai.ChunkHit }
	decodeJSON(t, body, &res)
	if status != 200 || len(res.Results) != 1 || res.Results[0].URI != "metformin.md" || !strings.Contains(res.Results[0].Text, "nausea") {
		t.Fatalf("retrieve: %d %s", status, body)
	}
	evs := readSSE(t, post(t, base+"/api/kb/answer", `{"query":"What are the side effects of metformin?"}`).Body)
	if len(evs) != 3 || evs[0].name != "citations" || evs[2].name != "done" ||
		!strings.Contains(evs[1].data["text"].(string), "Common side effects of metformin include nausea and diarrhoea. [1]") {
		t.Fatalf("answer: %v", evs)
	}
	id := up.Documents[0].ID
	if status, body = do(t, "DELETE", base+"/api/kb/documents/"+id, ""); status != 204 {
		t.Fatalf("delete: %d %s", status, body)
	}
	if status, body = do(t, "DELETE", base+"/api/kb/documents/"+id, ""); status != 404 || errorCode(t, body) != "not_found" {
		t.Errorf("delete again: %d %s", status, body)
	}
	_, body = do(t, "POST", base+"/api/kb/retrieve", `{"query":"side effects of metformin"}`)
	if strings.Contains(string(body), "metformin.md") {
		t.Errorf("a deleted document is still found: %s", body)
	}
	_, body = do(t, "GET", base+"/api/kb/documents", "")
	var list struct{ Documents []genai.Document }
	decodeJSON(t, body, &list)
	if len(list.Documents) != 1 || list.Documents[0].URI != "insulin.txt" {
		t.Errorf("list %s", body)
	}
}

// A knowledge-base session is bound to the API key that started it.
func TestKBSessionsBoundToTheirKey(t *testing.T) {
	const alice, mallory = "alice-key-0123456789", "mallory-key-0123456789"
	base, _ := kbServer(t, nil, server.Options{APIKeys: []string{alice, mallory}})
	answer := func(key, body string) (int, map[string]any) {
		resp := post(t, base+"/api/kb/answer", body, "Authorization", "Bearer "+key)
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, first := answer(alice, `{"query":"what is metformin used for?","stream":false}`)
	id, _ := first["session_id"].(string)
	if status != 200 || id == "" {
		t.Fatalf("first answer: %d %v", status, first)
	}
	follow := `{"query":"and its side effects?","stream":false,"session_id":"` + id + `"}`
	if status, out := answer(mallory, follow); status != 404 {
		t.Errorf("another key continued the session: %d %v, want 404", status, out)
	}
	if status, out := answer(alice, follow); status != 200 || out["session_id"] != id {
		t.Errorf("the owner's follow-up: %d %v", status, out)
	}
}
