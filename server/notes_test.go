package server_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai"
	"genai/localembed"
	"genai/server"
	"genai/sqlite"
)

// notesServer serves genai with the embedded store and the local embedder: the real
// parts of the offline default.
func notesServer(t *testing.T) string {
	t.Helper()
	e, err := localembed.New(localembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "genai.db"), sqlite.Options{Space: e.Space()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ts := httptest.NewServer(server.New(server.Options{Notes: &genai.NoteService{Store: db, Embedder: e}, Store: "sqlite"}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type hitsBody struct{ Hits []genai.NoteHit }

func TestNotesLifecycle(t *testing.T) {
	base := notesServer(t)
	status, body := do(t, "POST", base+"/api/notes", `{"title":"Go maps in action","link":"https://go.dev/blog/maps","text":"A map is a hash table that maps keys to values."}`)
	var note genai.Note
	json.Unmarshal(body, &note)
	if status != 201 || note.ID == "" || note.CreatedAt.IsZero() || note.Title != "Go maps in action" {
		t.Fatalf("create: %d %s", status, body)
	}
	do(t, "POST", base+"/api/notes/bulk", `{"notes":[{"title":"Sourdough bread","text":"Flour, water, salt and a starter."},{"title":"Tides","text":"The moon pulls the oceans."}]}`)

	if status, body := do(t, "GET", base+"/api/notes/"+note.ID, ""); status != 200 || !strings.Contains(string(body), "hash table") {
		t.Errorf("get: %d %s", status, body)
	}
	var page struct {
		Notes      []genai.Note
		NextCursor string `json:"next_cursor"`
	}
	_, body = do(t, "GET", base+"/api/notes?limit=2", "")
	json.Unmarshal(body, &page)
	if len(page.Notes) != 2 || page.NextCursor == "" {
		t.Errorf("first page: %s", body)
	}
	for _, mode := range []string{"semantic", "title", "hybrid"} {
		status, body := do(t, "POST", base+"/api/notes/search", `{"query":"maps","mode":"`+mode+`","k":3}`)
		var hits hitsBody
		json.Unmarshal(body, &hits)
		if status != 200 || len(hits.Hits) == 0 || hits.Hits[0].ID != note.ID || hits.Hits[0].Score <= 0 {
			t.Errorf("search %s: %d %s", mode, status, body)
		}
	}
	if status, _ := do(t, "DELETE", base+"/api/notes/"+note.ID, ""); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, body := do(t, "GET", base+"/api/notes/"+note.ID, ""); status != 404 || !strings.Contains(string(body), "not_found") {
		t.Errorf("get after delete: %d %s", status, body)
	}
	_, body = do(t, "POST", base+"/api/notes/search", `{"query":"maps","mode":"title"}`)
	if strings.Contains(string(body), note.ID) {
		t.Errorf("a deleted note is still found: %s", body)
	}
}

func TestNotesRejectBadInput(t *testing.T) {
	base := notesServer(t)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"missing text", "POST", "/api/notes", `{"title":"t"}`, 400, "text: required"},
		{"10 MB text", "POST", "/api/notes", `{"text":"` + strings.Repeat("a", 10<<20) + `"}`, 413, "text: 10485760 bytes"},
		{"link of two lines", "POST", "/api/notes", `{"text":"x","link":"a\nb"}`, 400, "link:"},
		{"invalid UTF-8", "POST", "/api/notes", "{\"text\":\"\xff\xfe\"}", 400, "not valid UTF-8"},
		{"wrong type", "POST", "/api/notes", `{"text":42}`, 400, "text: expected a string"},
		{"bulk bad note", "POST", "/api/notes/bulk", `{"notes":[{"text":"ok"},{"title":"no text"}]}`, 400, "notes[1].text: required"},
		{"bulk empty", "POST", "/api/notes/bulk", `{"notes":[]}`, 400, "at least one note"},
		{"k=0", "POST", "/api/notes/search", `{"query":"x","k":0}`, 400, "k: must be from 1 to 100, got 0"},
		{"k=10000", "POST", "/api/notes/search", `{"query":"x","k":10000}`, 400, "k: must be from 1 to 100, got 10000"},
		{"unknown mode", "POST", "/api/notes/search", `{"query":"x","mode":"fuzzy"}`, 400, `is not \"semantic\", \"title\" or \"hybrid\"`},
		{"empty query", "POST", "/api/notes/search", `{"query":"  "}`, 400, "query: required"},
		{"bad limit", "GET", "/api/notes?limit=abc", ``, 400, "limit:"},
		{"unknown id", "DELETE", "/api/notes/nope", ``, 404, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, base+tc.path, tc.body)
			if status != tc.status || !strings.Contains(string(body), tc.msg) {
				t.Errorf("got %d %s; want %d containing %q", status, body, tc.status, tc.msg)
			}
		})
	}
}

func TestWorkshopNoteRoutes(t *testing.T) {
	base := notesServer(t)
	status, body := do(t, "POST", base+"/aoss-index-backend", `{"title":"Amazon Bedrock","link":"https://aws.amazon.com/bedrock/","text":"A managed service for foundation models."}`)
	var idx struct {
		Result struct {
			ID     string `json:"_id"`
			Result string `json:"result"`
		}
	}
	json.Unmarshal(body, &idx)
	if status != 200 || idx.Result.Result != "created" || idx.Result.ID == "" {
		t.Fatalf("index: %d %s", status, body)
	}
	status, body = do(t, "POST", base+"/aoss-query-backend", `{"query":"bedrock"}`)
	var q struct{ Result []genai.NoteHit }
	json.Unmarshal(body, &q)
	if status != 200 || len(q.Result) != 1 || q.Result[0].Title != "Amazon Bedrock" {
		t.Errorf("query: %d %s", status, body)
	}
}

func TestOpenAISDKEmbeddings(t *testing.T) {
	base := notesServer(t)
	client := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx := context.Background()
	models, err := client.Models.List(ctx)
	if err != nil || len(models.Data) == 0 {
		t.Fatalf("models: %v", err)
	}
	model := models.Data[len(models.Data)-1].ID // the embedder, listed after the chat models
	resp, err := client.Embeddings.New(ctx, oai.EmbeddingNewParams{
		Model: model,
		Input: oai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hash tables", "sourdough bread"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 2 || len(resp.Data[0].Embedding) == 0 || resp.Data[1].Index != 1 || resp.Usage.PromptTokens != 5 { // hash, tables, sourdough (9 letters: 2), bread
		t.Errorf("embeddings: %d items, usage %+v", len(resp.Data), resp.Usage)
	}

	// base64, what the openai npm client asks for by default: little-endian float32s,
	// the same vector as the floats.
	status, body := do(t, "POST", base+"/v1/embeddings", `{"model":"`+model+`","input":"hash tables","encoding_format":"base64"}`)
	var b64 struct {
		Data []struct{ Embedding string }
	}
	json.Unmarshal(body, &b64)
	if status != 200 || len(b64.Data) != 1 {
		t.Fatalf("base64: %d %s", status, body)
	}
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 4*len(resp.Data[0].Embedding) {
		t.Fatalf("base64 embedding: %d bytes, %v", len(raw), err)
	}
	for i, f := range resp.Data[0].Embedding {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != float32(f) {
			t.Fatalf("dimension %d: base64 %v, float %v", i, got, f)
		}
	}
	for body, want := range map[string]string{
		`{"model":"text-embedding-3-small","input":"x"}`:       "model:",
		`{"model":"` + model + `","input":"x","dimensions":7}`: "dimensions:",
		`{"input":"x","encoding_format":"int8"}`:               "encoding_format:",
	} {
		if status, got := do(t, "POST", base+"/v1/embeddings", body); status != 400 || !strings.Contains(string(got), want) {
			t.Errorf("%s: %d %s, want 400 naming %s", body, status, got, want)
		}
	}
}

// A link is whatever the user typed: a path, an s3:// URI, plain words or a URL.
func TestNoteLinksKeepAnyText(t *testing.T) {
	base := notesServer(t)
	for _, link := range []string{"docs/tea.md", "s3://bucket/key", "the green notebook, p. 4", "javascript:alert(1)", "https://go.dev/blog/maps"} {
		status, body := do(t, "POST", base+"/api/notes", `{"text":"x","link":`+strconv.Quote(link)+`}`)
		var n genai.Note
		if status != 201 || json.Unmarshal(body, &n) != nil || n.Link != link {
			t.Errorf("link %q: %d %s, want 201 with the link kept", link, status, body)
		}
	}
}

func TestModelsListCapabilities(t *testing.T) {
	base := notesServer(t)
	_, body := do(t, "GET", base+"/v1/models", "")
	var list struct {
		Data []struct {
			ID           string
			Capabilities struct {
				Chat, Embeddings bool
				Dimensions       int
			}
		}
	}
	json.Unmarshal(body, &list)
	var embedders int
	for _, m := range list.Data {
		if m.Capabilities.Embeddings {
			embedders++
			if m.Capabilities.Chat || m.Capabilities.Dimensions == 0 {
				t.Errorf("embedder %+v", m)
			}
		}
	}
	if embedders != 1 {
		t.Errorf("models %s: want one embedder", body)
	}
}

// A field a route does not take is refused by name: an id for a new note is the
// server's to give.
func TestNoteFieldsNotTakenAreRefused(t *testing.T) {
	base := notesServer(t)
	for path, body := range map[string]string{
		"/api/notes":        `{"id":"mine","text":"x"}`,
		"/api/notes/search": `{"query":"x","limit":3}`,
	} {
		status, got := do(t, "POST", base+path, body)
		if status != 400 || !strings.Contains(string(got), "not supported") {
			t.Errorf("%s %s: %d %s, want 400 naming the field", path, body, status, got)
		}
	}
}
