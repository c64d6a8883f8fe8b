package opensearchtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const testMapping = `{
  "settings": {"index": {"knn": true}},
  "mappings": {
    "dynamic": "strict",
    "properties": {
      "id": {"type": "keyword"},
      "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
      "created_at": {"type": "date"},
      "embedding": {"type": "knn_vector", "dimension": 2,
        "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene"}}
    }
  }
}`

type result struct {
	status int
	body   map[string]any
}

func do(t *testing.T, srv *Server, method, path, contentType, body string) result {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return result{resp.StatusCode, m}
}

func errorType(r result) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

func newIndex(t *testing.T, opts Options) *Server {
	t.Helper()
	srv := NewServer(opts)
	t.Cleanup(srv.Close)
	if r := do(t, srv, "PUT", "/notes", "application/json", testMapping); r.status != 200 {
		t.Fatalf("create index: %d %v", r.status, r.body)
	}
	return srv
}

func TestStrictRequests(t *testing.T) {
	srv := newIndex(t, Options{})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		typ                      string
	}{
		{"unknown query", "POST", "/notes/_search", `{"query":{"query_string":{"query":"x"}}}`, 400, "parsing_exception"},
		{"unknown search key", "POST", "/notes/_search", `{"size":1,"highlight":{}}`, 400, "parsing_exception"},
		{"unknown knn key", "POST", "/notes/_search", `{"query":{"knn":{"embedding":{"vector":[1,0],"k":1,"filter":{}}}}}`, 400, "parsing_exception"},
		{"knn of the wrong dimension", "POST", "/notes/_search", `{"query":{"knn":{"embedding":{"vector":[1,0,0],"k":1}}}}`, 400, "illegal_argument_exception"},
		{"sort on text", "POST", "/notes/_search", `{"sort":[{"title":"desc"}]}`, 400, "illegal_argument_exception"},
		{"unknown parameter", "POST", "/notes/_search?scroll=1m", `{}`, 400, "illegal_argument_exception"},
		{"bulk without final newline", "POST", "/_bulk", `{"index":{"_index":"notes","_id":"a"}}` + "\n" + `{"id":"a"}`, 400, "illegal_argument_exception"},
		{"bad refresh", "POST", "/notes/_bulk?refresh=soon", `{"delete":{"_id":"a"}}` + "\n", 400, "illegal_argument_exception"},
		{"missing index", "GET", "/nope/_doc/a", "", 404, "index_not_found_exception"},
		{"index exists", "PUT", "/notes", testMapping, 400, "resource_already_exists_exception"},
		{"unknown mapping parameter", "PUT", "/other", `{"mappings":{"properties":{"v":{"type":"knn_vector","dimension":2,"similarity":"cosine"}}}}`, 400, "mapper_parsing_exception"},
		{"method without index.knn", "PUT", "/other", `{"mappings":{"properties":{"v":{"type":"knn_vector","dimension":2,"method":{"name":"hnsw"}}}}}`, 400, "mapper_parsing_exception"},
	} {
		r := do(t, srv, tc.method, tc.path, "application/json", tc.body)
		if r.status != tc.status || errorType(r) != tc.typ {
			t.Errorf("%s: %d %s, want %d %s (%v)", tc.name, r.status, errorType(r), tc.status, tc.typ, r.body)
		}
	}
}

func TestBulkValidatesDocuments(t *testing.T) {
	srv := newIndex(t, Options{})
	body := `{"index":{"_id":"ok"}}
{"id":"ok","title":"Fine","created_at":"2025-01-02T03:04:05.678Z","embedding":[1,0]}
{"index":{"_id":"extra"}}
{"id":"extra","colour":"red"}
{"index":{"_id":"short"}}
{"id":"short","embedding":[1]}
{"index":{"_id":"zero"}}
{"id":"zero","embedding":[0,0]}
{"index":{"_id":"date"}}
{"id":"date","created_at":"yesterday"}
`
	r := do(t, srv, "POST", "/notes/_bulk", "application/x-ndjson", body)
	if r.status != 200 || r.body["errors"] != true {
		t.Fatalf("bulk: %d %v", r.status, r.body)
	}
	want := []string{"", "strict_dynamic_mapping_exception", "mapper_parsing_exception", "mapper_parsing_exception", "mapper_parsing_exception"}
	items := r.body["items"].([]any)
	for i, it := range items {
		item := it.(map[string]any)["index"].(map[string]any)
		e, _ := item["error"].(map[string]any)
		got, _ := e["type"].(string)
		if got != want[i] {
			t.Errorf("item %d (%v): error %q, want %q", i, item["_id"], got, want[i])
		}
	}
}

func TestSearchSeesRefreshedWrites(t *testing.T) {
	srv := newIndex(t, Options{})
	doc := `{"index":{"_id":"a"}}` + "\n" + `{"id":"a","title":"Hello world","embedding":[1,0]}` + "\n"
	do(t, srv, "POST", "/notes/_bulk", "application/x-ndjson", doc)
	search := `{"query":{"match":{"title":{"query":"hello"}}}}`
	hits := func() int {
		r := do(t, srv, "POST", "/notes/_search", "application/json", search)
		return len(r.body["hits"].(map[string]any)["hits"].([]any))
	}
	if n := hits(); n != 0 {
		t.Errorf("search before refresh found %d hits, want 0", n)
	}
	if r := do(t, srv, "GET", "/notes/_doc/a", "", ""); r.status != 200 || r.body["found"] != true {
		t.Errorf("GET before refresh: %d %v, want found (GET is realtime)", r.status, r.body)
	}
	do(t, srv, "POST", "/notes/_refresh", "", "")
	if n := hits(); n != 1 {
		t.Errorf("search after refresh found %d hits, want 1", n)
	}
}

func TestServerlessRefusesRefresh(t *testing.T) {
	srv := newIndex(t, Options{Serverless: true})
	r := do(t, srv, "POST", "/notes/_bulk?refresh=wait_for", "application/x-ndjson", `{"delete":{"_id":"a"}}`+"\n")
	if r.status != 400 {
		t.Errorf("bulk with refresh on serverless: %d, want 400", r.status)
	}
	if r := do(t, srv, "POST", "/notes/_refresh", "", ""); r.status != 400 {
		t.Errorf("_refresh on serverless: %d, want 400", r.status)
	}
	if r := do(t, srv, "PUT", "/sharded", "application/json", `{"settings":{"index":{"number_of_shards":2}}}`); r.status != 400 {
		t.Errorf("shard count on serverless: %d, want 400", r.status)
	}
}

func TestSigV4ChecksBodyHash(t *testing.T) {
	creds := aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}
	srv := NewServer(Options{Auth: AuthSigV4, Service: "aoss", Region: "us-west-2", Credentials: creds})
	defer srv.Close()
	send := func(signedBody, sentBody string, omitHash bool) int {
		req, _ := http.NewRequest("POST", srv.URL+"/_bulk", strings.NewReader(signedBody))
		req.Header.Set("Content-Type", "application/x-ndjson")
		sum := sha256.Sum256([]byte(signedBody))
		hash := hex.EncodeToString(sum[:])
		if !omitHash {
			req.Header.Set("X-Amz-Content-Sha256", hash)
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "aoss", "us-west-2", time.Now()); err != nil {
			t.Fatal(err)
		}
		req.Body = io.NopCloser(strings.NewReader(sentBody))
		req.ContentLength = int64(len(sentBody))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"delete":{"_index":"x","_id":"a"}}` + "\n"
	tampered := `{"delete":{"_index":"y","_id":"a"}}` + "\n"
	if got := send(body, body, false); got != 200 {
		t.Errorf("correctly signed request: %d, want 200", got)
	}
	if got := send(body, tampered, false); got != 403 {
		t.Errorf("body that does not match X-Amz-Content-Sha256: %d, want 403", got)
	}
	if got := send(body, body, true); got != 403 {
		t.Errorf("aoss request without X-Amz-Content-Sha256: %d, want 403", got)
	}
}

// PUT _mapping adds a field to a strict index, takes a field sent again unchanged, and
// refuses to change a mapped field's type, as OpenSearch does.
func TestPutMapping(t *testing.T) {
	srv := NewServer(Options{})
	defer srv.Close()
	if r := do(t, srv, "PUT", "/idx", "application/json", testMapping); r.status != 200 {
		t.Fatalf("create: %v", r)
	}
	doc := `{"index":{"_index":"idx","_id":"1"}}` + "\n" + `{"id":"1","page":3}` + "\n"
	if r := do(t, srv, "POST", "/_bulk?refresh=true", "application/x-ndjson", doc); r.body["errors"] != true {
		t.Fatalf("a field the strict mapping lacks was taken: %v", r)
	}
	for range 2 {
		if r := do(t, srv, "PUT", "/idx/_mapping", "application/json", `{"properties":{"page":{"type":"integer","index":false}}}`); r.status != 200 || r.body["acknowledged"] != true {
			t.Fatalf("put mapping: %v", r)
		}
	}
	if r := do(t, srv, "POST", "/_bulk?refresh=true", "application/x-ndjson", doc); r.body["errors"] != false {
		t.Errorf("the added field was refused: %v", r)
	}
	if r := do(t, srv, "GET", "/idx/_mapping", "", ""); !strings.Contains(jsonOf(r.body), `"page":{"index":false,"type":"integer"}`) {
		t.Errorf("mapping after the put: %v", r.body)
	}
	if r := do(t, srv, "PUT", "/idx/_mapping", "application/json", `{"properties":{"page":{"type":"keyword"}}}`); r.status != 400 || errorType(r) != "illegal_argument_exception" {
		t.Errorf("changing a field's type: %v, want 400 illegal_argument_exception", r)
	}
	if r := do(t, srv, "PUT", "/nope/_mapping", "application/json", `{"properties":{}}`); r.status != 404 {
		t.Errorf("put mapping of a missing index: %v", r)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
