package opensearch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
	"genai/opensearch/opensearchtest"
	"genai/storetest"
)

const testRegion = "us-east-1"

var testCreds = aws.Credentials{AccessKeyID: "AKIDOPENSEARCHTEST", SecretAccessKey: "opensearchtest-secret", Source: "test"}

func awsTestConfig(creds aws.Credentials) *aws.Config {
	return &aws.Config{Region: testRegion, Credentials: credentials.StaticCredentialsProvider{Value: creds}}
}

var indexSeq atomic.Int64

// newIndexName returns an index name no other open in this process has used.
func newIndexName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, indexSeq.Add(1))
}

// fakeFor starts a fake endpoint for an auth mode of the store, and returns it with
// options that reach it.
func fakeFor(t *testing.T, auth string) (*opensearchtest.Server, Options) {
	t.Helper()
	var so opensearchtest.Options
	opts := Options{Auth: auth, Space: storetest.Space}
	switch auth {
	case AuthSigV4AOSS, AuthSigV4ES:
		so = opensearchtest.Options{Auth: opensearchtest.AuthSigV4, Service: "es", Region: testRegion, Credentials: testCreds}
		if auth == AuthSigV4AOSS {
			so.Service, so.Serverless = "aoss", true
		}
		opts.AWSConfig = awsTestConfig(testCreds)
	case AuthBasic:
		so = opensearchtest.Options{Auth: opensearchtest.AuthBasic, Username: "admin", Password: "s3cret!"}
		opts.Username, opts.Password = "admin", "s3cret!"
	}
	srv := opensearchtest.NewServer(so)
	t.Cleanup(srv.Close)
	opts.URL = srv.URL
	return srv, opts
}

func open(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	for _, auth := range []string{AuthSigV4AOSS, AuthSigV4ES, AuthBasic} {
		t.Run(auth, func(t *testing.T) {
			_, opts := fakeFor(t, auth)
			open := opener(opts, "conformance")
			storetest.TestNoteStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.NoteStore { return open(t, space) })
		})
	}
}

// opener returns a function that opens a store in a new index named after prefix.
func opener(opts Options, prefix string) func(t *testing.T, space genai.EmbeddingSpace) *Store {
	return func(t *testing.T, space genai.EmbeddingSpace) *Store {
		o := opts
		o.Space, o.Index = space, newIndexName(prefix)
		s, err := Open(context.Background(), o)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
}

// realCluster returns a function that opens a store in a new index of the real cluster
// named by GENAI_TEST_OPENSEARCH_URL, deleting its indexes after the test; without that
// variable the test is skipped, saying how to run it.
func realCluster(t *testing.T) func(t *testing.T, space genai.EmbeddingSpace) interface {
	genai.NoteStore
	genai.ChunkStore
} {
	endpoint := os.Getenv("GENAI_TEST_OPENSEARCH_URL")
	if endpoint == "" {
		t.Skip("set GENAI_TEST_OPENSEARCH_URL (and GENAI_TEST_OPENSEARCH_AUTH=sigv4-aoss|sigv4-es|basic|none, " +
			"GENAI_TEST_OPENSEARCH_USERNAME/PASSWORD for basic, AWS_REGION and AWS credentials for SigV4) " +
			"to run the conformance suites against a real OpenSearch cluster")
	}
	open := opener(Options{
		URL:      endpoint,
		Auth:     os.Getenv("GENAI_TEST_OPENSEARCH_AUTH"),
		Username: os.Getenv("GENAI_TEST_OPENSEARCH_USERNAME"),
		Password: os.Getenv("GENAI_TEST_OPENSEARCH_PASSWORD"),
	}, fmt.Sprintf("genai-test-%d", time.Now().UnixNano()))
	return func(t *testing.T, space genai.EmbeddingSpace) interface {
		genai.NoteStore
		genai.ChunkStore
	} {
		s := open(t, space)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			indexes := []string{s.index, s.documentsIndex(), s.chunksIndex(), s.sessionsIndex(), s.responsesIndex()}
			if _, err := s.client.Indices.Delete(ctx, opensearchapi.IndicesDeleteReq{Indices: indexes}); err != nil {
				t.Logf("delete test indexes %v: %v", indexes, err)
			}
		})
		if s.serverless {
			return settled{s}
		}
		return s
	}
}

// TestConformanceRealCluster runs the conformance suite against a real cluster when
// GENAI_TEST_OPENSEARCH_URL is set. Each store gets new indexes, deleted afterwards.
func TestConformanceRealCluster(t *testing.T) {
	open := realCluster(t)
	storetest.TestNoteStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.NoteStore { return open(t, space) })
}

// settled waits after each write on AOSS, which makes writes searchable only after
// about a second (it has no refresh), so that the suites' read-after-write checks
// test the store rather than the collection's refresh interval.
type settled struct{ *Store }

const aossVisibility = 2 * time.Second

func (s settled) PutNotes(ctx context.Context, notes []genai.Note, vectors [][]float32) error {
	err := s.Store.PutNotes(ctx, notes, vectors)
	time.Sleep(aossVisibility)
	return err
}

func (s settled) DeleteNote(ctx context.Context, id string) error {
	err := s.Store.DeleteNote(ctx, id)
	time.Sleep(aossVisibility)
	return err
}

func (s settled) PutDocument(ctx context.Context, doc genai.Document, chunks []genai.Chunk, vectors [][]float32) error {
	err := s.Store.PutDocument(ctx, doc, chunks, vectors)
	time.Sleep(aossVisibility)
	return err
}

func (s settled) DeleteDocument(ctx context.Context, id string) error {
	err := s.Store.DeleteDocument(ctx, id)
	time.Sleep(aossVisibility)
	return err
}

func TestCreateIndexMapping(t *testing.T) {
	srv, opts := fakeFor(t, AuthNone)
	opts.Index = "notes-mapping"
	opts.Space = genai.EmbeddingSpace{Model: "bedrock:amazon.titan-embed-text-v2:0", Dimensions: 256}
	open(t, opts)

	var mapping struct {
		Dynamic string `json:"dynamic"`
		Meta    struct {
			Genai indexMeta `json:"genai"`
		} `json:"_meta"`
		Properties map[string]struct {
			Type      string         `json:"type"`
			Index     *bool          `json:"index"`
			Dimension int            `json:"dimension"`
			Method    map[string]any `json:"method"`
			Fields    map[string]any `json:"fields"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(srv.Mapping("notes-mapping"), &mapping); err != nil {
		t.Fatalf("mapping: %v", err)
	}
	emb := mapping.Properties["embedding"]
	if emb.Type != "knn_vector" || emb.Dimension != 256 {
		t.Errorf("embedding = %s of %d dimensions, want knn_vector of 256", emb.Type, emb.Dimension)
	}
	if emb.Method["name"] != "hnsw" || emb.Method["space_type"] != "cosinesimil" || emb.Method["engine"] != DefaultEngine {
		t.Errorf("embedding method = %v, want hnsw, cosinesimil, %s", emb.Method, DefaultEngine)
	}
	if r := srv.Requests()[len(srv.Requests())-1]; r.Method != "PUT" || r.Path != "/notes-mapping" {
		t.Errorf("last request %s %s, want the PUT that creates the index", r.Method, r.Path)
	}
	if p := mapping.Properties["title"]; p.Type != "text" || p.Fields["keyword"] == nil {
		t.Errorf("title = %+v, want text with a keyword subfield", p)
	}
	if p := mapping.Properties["link"]; p.Type != "keyword" || p.Index == nil || *p.Index {
		t.Errorf("link = %+v, want a keyword that is not indexed", p)
	}
	if p := mapping.Properties["text"]; p.Type != "text" {
		t.Errorf("text = %+v, want text", p)
	}
	if p := mapping.Properties["created_at"]; p.Type != "date" {
		t.Errorf("created_at = %+v, want date", p)
	}
	if mapping.Dynamic != "strict" {
		t.Errorf("dynamic = %q, want strict", mapping.Dynamic)
	}
	if mapping.Meta.Genai.Space != opts.Space {
		t.Errorf("_meta records space %v, want %v", mapping.Meta.Genai.Space, opts.Space)
	}
	var settings map[string]any
	json.Unmarshal(srv.Settings("notes-mapping"), &settings)
	if settings["knn"] != true {
		t.Errorf("settings = %v, want index.knn true", settings)
	}

	// On AOSS the index is built with faiss.
	aoss, aossOpts := fakeFor(t, AuthSigV4AOSS)
	aossOpts.Index = "notes-aoss"
	open(t, aossOpts)
	if m := string(aoss.Mapping("notes-aoss")); !strings.Contains(m, `"engine":"`+ServerlessEngine+`"`) {
		t.Errorf("AOSS mapping %s, want engine %s", m, ServerlessEngine)
	}

	// Opening again finds the index and creates nothing.
	srv.ResetRequests()
	open(t, opts)
	for _, r := range srv.Requests() {
		if r.Method == "PUT" {
			t.Errorf("second Open sent PUT %s", r.Path)
		}
	}
}

func TestSpaceMismatchRefused(t *testing.T) {
	srv, opts := fakeFor(t, AuthSigV4ES)
	opts.Index = "notes-space"
	opts.Space = genai.EmbeddingSpace{Model: "local:hash-v1", Dimensions: 8}
	open(t, opts)

	for _, other := range []genai.EmbeddingSpace{
		{Model: "local:hash-v1", Dimensions: 16},
		{Model: "bedrock:amazon.titan-embed-text-v2:0", Dimensions: 8},
	} {
		o := opts
		o.Space = other
		_, err := Open(context.Background(), o)
		if genai.ErrorCode(err) != genai.EINVALID {
			t.Fatalf("Open in space %v: error %v, want EINVALID", other, err)
		}
		for _, want := range []string{opts.Space.String(), other.String(), "notes-space", "GENAI_OPENSEARCH_INDEX"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mismatch error %q does not mention %q", err, want)
			}
		}
	}

	// An index someone else made, with no recorded space, is refused too.
	if err := srv.CreateIndex("foreign", `{"mappings":{"properties":{"title":{"type":"text"}}}}`); err != nil {
		t.Fatal(err)
	}
	o := opts
	o.Index = "foreign"
	_, err := Open(context.Background(), o)
	if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(err.Error(), "not made by genai") {
		t.Errorf("Open on a foreign index: error %v, want EINVALID saying it was not made by genai", err)
	}
}

func TestBulkPartialFailure(t *testing.T) {
	for _, auth := range []string{AuthNone, AuthSigV4AOSS} {
		t.Run(auth, func(t *testing.T) { testBulkPartialFailure(t, auth) })
	}
}

func testBulkPartialFailure(t *testing.T, auth string) {
	srv, opts := fakeFor(t, auth)
	opts.Index = "notes-bulk"
	s := open(t, opts)
	ctx := context.Background()

	existing := genai.Note{ID: "n0", Title: "Kept", Text: "kept", CreatedAt: time.Now().UTC()}
	if err := s.PutNotes(ctx, []genai.Note{existing}, [][]float32{storetest.Vec(1)}); err != nil {
		t.Fatal(err)
	}
	srv.FailBulkItem("n2", opensearchtest.ItemFailure{Status: 429, Type: "es_rejected_execution_exception", Reason: "rejected execution of coordinating operation"})
	notes := []genai.Note{
		{ID: "n1", Title: "One", Text: "one", CreatedAt: time.Now().UTC()},
		{ID: "n2", Title: "Two", Text: "two", CreatedAt: time.Now().UTC()},
		{ID: "n3", Title: "Three", Text: "three", CreatedAt: time.Now().UTC()},
		{ID: "n0", Title: "Kept v2", Text: "kept", CreatedAt: time.Now().UTC()},
	}
	vecs := [][]float32{storetest.Vec(1), storetest.Vec(0, 1), storetest.Vec(0, 0, 1), storetest.Vec(1, 1)}
	err := s.PutNotes(ctx, notes, vecs)
	if genai.ErrorCode(err) != genai.ETHROTTLED {
		t.Fatalf("PutNotes with a rejected item: error %v, want ETHROTTLED", err)
	}
	for _, want := range []string{`"n2"`, "es_rejected_execution_exception", "rejected execution", "notes-bulk"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bulk error %q does not mention %s", err, want)
		}
	}
	// The notes the failed call created are gone again; the one it replaced stays.
	for _, id := range []string{"n1", "n2", "n3"} {
		if _, err := s.GetNote(ctx, id); genai.ErrorCode(err) != genai.ENOTFOUND {
			t.Errorf("GetNote(%s) after the failed bulk: %v, want not found", id, err)
		}
	}
	if _, err := s.GetNote(ctx, "n0"); err != nil {
		t.Errorf("GetNote(n0): %v", err)
	}
	if notes, _, err := s.ListNotes(ctx, 10, ""); err != nil || len(notes) != 1 {
		t.Errorf("ListNotes after the failed bulk = %d notes, %v; want just n0", len(notes), err)
	}
}

func TestRefreshPolicy(t *testing.T) {
	for _, tc := range []struct {
		auth    string
		refresh string
	}{{AuthSigV4AOSS, ""}, {AuthSigV4ES, "wait_for"}, {AuthNone, "wait_for"}} {
		srv, opts := fakeFor(t, tc.auth)
		opts.Index = "notes-refresh"
		s := open(t, opts)
		ctx := context.Background()
		if err := s.PutNotes(ctx, []genai.Note{{ID: "a", Text: "x", CreatedAt: time.Now()}}, [][]float32{storetest.Vec(1)}); err != nil {
			t.Fatalf("%s: PutNotes: %v", tc.auth, err)
		}
		if err := s.DeleteNote(ctx, "a"); err != nil {
			t.Fatalf("%s: DeleteNote: %v", tc.auth, err)
		}
		writes := 0
		for _, r := range srv.Requests() {
			if strings.HasSuffix(r.Path, "/_bulk") || r.Method == "DELETE" {
				writes++
				if got := r.Query.Get("refresh"); got != tc.refresh || r.Query.Has("refresh") != (tc.refresh != "") {
					t.Errorf("%s: %s %s has refresh=%q, want %q", tc.auth, r.Method, r.Path, got, tc.refresh)
				}
			}
		}
		if writes != 2 {
			t.Errorf("%s: saw %d writes, want 2", tc.auth, writes)
		}
	}
}

func TestSigV4Headers(t *testing.T) {
	for _, auth := range []string{AuthSigV4AOSS, AuthSigV4ES} {
		srv, opts := fakeFor(t, auth)
		s := open(t, opts)
		if err := s.PutNotes(context.Background(), []genai.Note{{ID: "a", Text: "x", CreatedAt: time.Now()}}, [][]float32{storetest.Vec(1)}); err != nil {
			t.Fatalf("%s: PutNotes: %v", auth, err)
		}
		service := strings.TrimPrefix(auth, "sigv4-")
		reqs := srv.Requests()
		if len(reqs) == 0 {
			t.Fatalf("%s: no requests recorded", auth)
		}
		for _, r := range reqs {
			if r.Status >= 400 && r.Status != 404 {
				t.Errorf("%s: %s %s answered %d", auth, r.Method, r.Path, r.Status)
			}
			a := r.Header.Get("Authorization")
			scope := "/" + testRegion + "/" + service + "/aws4_request"
			if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential="+testCreds.AccessKeyID+"/") || !strings.Contains(a, scope) ||
				!strings.Contains(a, "SignedHeaders=") || !strings.Contains(a, "Signature=") {
				t.Errorf("%s: %s %s: Authorization %q, want a SigV4 signature scoped to %s", auth, r.Method, r.Path, a, scope)
			}
			if r.Header.Get("X-Amz-Date") == "" {
				t.Errorf("%s: %s %s: no X-Amz-Date", auth, r.Method, r.Path)
			}
			sum := sha256.Sum256(r.Body)
			if got := r.Header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: %s %s: X-Amz-Content-Sha256 %q is not the SHA-256 of the body", auth, r.Method, r.Path, got)
			}
		}
	}
}

func TestSigV4Rejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server string // the store's auth the fake expects
		mutate func(*Options)
		want   string
	}{
		{"unsigned", AuthSigV4AOSS, func(o *Options) { o.Auth = AuthNone }, "not signed"},
		{"es signature at an aoss endpoint", AuthSigV4AOSS, func(o *Options) { o.Auth = AuthSigV4ES }, "service"},
		{"aoss signature at an es endpoint", AuthSigV4ES, func(o *Options) { o.Auth = AuthSigV4AOSS }, "service"},
		{"wrong region", AuthSigV4ES, func(o *Options) { o.Region = "eu-west-1" }, "region"},
		{"wrong secret", AuthSigV4AOSS, func(o *Options) {
			c := testCreds
			c.SecretAccessKey = "not-the-secret"
			o.AWSConfig = awsTestConfig(c)
		}, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opts := fakeFor(t, tc.server)
			tc.mutate(&opts)
			_, err := Open(context.Background(), opts)
			if err == nil {
				t.Fatal("Open succeeded, want the endpoint to refuse the request")
			}
			t.Logf("error: %v", err)
			if code := genai.ErrorCode(err); code != genai.EUPSTREAM {
				t.Errorf("code %q, want %q", code, genai.EUPSTREAM)
			}
			for _, want := range []string{"403", tc.want, "credentials"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestBasicAuth(t *testing.T) {
	_, opts := fakeFor(t, AuthBasic)
	open(t, opts)

	opts.Password = "wrong"
	_, err := Open(context.Background(), opts)
	if genai.ErrorCode(err) != genai.EUPSTREAM || !strings.Contains(err.Error(), "401") {
		t.Errorf("Open with a wrong password: error %v, want EUPSTREAM naming 401", err)
	}
	opts.Auth = AuthBasic
	opts.Username, opts.Password = "", ""
	if _, err := Open(context.Background(), opts); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("basic auth without a username: error %v, want EINVALID", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Open(context.Background(), Options{URL: addr, Space: storetest.Space})
	t.Logf("refused after %v: %v", time.Since(start), err)
	if genai.ErrorCode(err) != genai.EUNAVAILABLE {
		t.Fatalf("Open on a closed port: error %v, want EUNAVAILABLE", err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %q does not name the URL and the refusal", err)
	}
}

func TestOptionsChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no URL", Options{Space: storetest.Space}},
		{"bad URL", Options{URL: "localhost:9200", Space: storetest.Space}},
		{"no space", Options{URL: "http://localhost:9200"}},
		{"bad index", Options{URL: "http://localhost:9200", Index: "Notes", Space: storetest.Space}},
		{"bad auth", Options{URL: "http://localhost:9200", Auth: "kerberos", Space: storetest.Space}},
		{"sigv4 without region", Options{URL: "http://localhost:9200", Auth: AuthSigV4ES, Space: storetest.Space,
			AWSConfig: &aws.Config{Credentials: credentials.StaticCredentialsProvider{Value: testCreds}}}},
	} {
		if _, err := Open(context.Background(), tc.opts); genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("%s: error %v, want EINVALID", tc.name, err)
		}
	}
}

func TestInferAuthAndRegion(t *testing.T) {
	for _, tc := range []struct{ url, auth, region string }{
		{"https://abc123.us-east-1.aoss.amazonaws.com", AuthSigV4AOSS, "us-east-1"},
		{"https://search-notes-xyz.eu-west-1.es.amazonaws.com", AuthSigV4ES, "eu-west-1"},
		{"https://admin:pw@localhost:9200", AuthBasic, ""},
		{"http://localhost:9200", AuthNone, ""},
	} {
		u, _ := url.Parse(tc.url)
		if got := inferAuth(u); got != tc.auth {
			t.Errorf("inferAuth(%s) = %q, want %q", tc.url, got, tc.auth)
		}
		if got := regionFromHost(u.Hostname()); got != tc.region {
			t.Errorf("regionFromHost(%s) = %q, want %q", tc.url, got, tc.region)
		}
	}
}

func TestListCursorChecked(t *testing.T) {
	_, opts := fakeFor(t, AuthNone)
	s := open(t, opts)
	for _, c := range []string{"garbage!", "bm90IGpzb24", "WzEsMiwzXQ"} {
		if _, _, err := s.ListNotes(context.Background(), 5, c); genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("ListNotes(cursor %q): error %v, want EINVALID", c, err)
		}
	}
	if _, _, err := s.ListNotes(context.Background(), 0, ""); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("ListNotes(limit 0): error %v, want EINVALID", err)
	}
}

func TestFuseSharesRanksOfTies(t *testing.T) {
	hit := func(id string, score float64) genai.NoteHit {
		return genai.NoteHit{Note: genai.Note{ID: id}, Score: score}
	}
	// By words, "words" and "both" tie; by vector, "both" is above "words". A fusion
	// that let the word ranker's tie order decide would put "words" first.
	words := []genai.NoteHit{hit("words", 2), hit("both", 2)}
	vectors := []genai.NoteHit{hit("vector", 0.99), hit("both", 0.9), hit("words", 0.5)}
	got := fuse(3, vectors, words)
	var ids []string
	for _, h := range got {
		ids = append(ids, h.ID)
	}
	if strings.Join(ids, ",") != "both,words,vector" {
		t.Errorf("fused order %v, want [both words vector]", ids)
	}
	if want := 1.0/61 + 1.0/62; math.Abs(got[0].Score-want) > 1e-12 {
		t.Errorf("fused score of both = %v, want %v", got[0].Score, want)
	}
}

func TestIndexDeletedUnderneath(t *testing.T) {
	_, opts := fakeFor(t, AuthNone)
	opts.Index = "notes-gone"
	s := open(t, opts)
	// Point the open store at an index that does not exist.
	s.index = "missing-index"
	_, err := s.GetNote(context.Background(), "x")
	if genai.ErrorCode(err) != genai.EUNAVAILABLE || !strings.Contains(err.Error(), "index_not_found_exception") {
		t.Errorf("GetNote on a missing index: error %v, want EUNAVAILABLE naming index_not_found_exception", err)
	}
}

func TestBulkSplitsLargeRequests(t *testing.T) {
	srv, opts := fakeFor(t, AuthNone)
	s := open(t, opts)
	text := strings.Repeat("lorem ipsum ", genai.MaxNoteTextBytes/12)
	var notes []genai.Note
	var vecs [][]float32
	for i := range 40 { // about 10 MiB in all
		notes = append(notes, genai.Note{ID: fmt.Sprintf("big%02d", i), Text: text, CreatedAt: time.Now()})
		vecs = append(vecs, storetest.Vec(1, float64(i)))
	}
	srv.ResetRequests()
	if err := s.PutNotes(context.Background(), notes, vecs); err != nil {
		t.Fatalf("PutNotes: %v", err)
	}
	bulks := 0
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/_bulk") {
			bulks++
			if len(r.Body) > maxBulkBytes {
				t.Errorf("bulk request of %d bytes, over %d", len(r.Body), maxBulkBytes)
			}
		}
	}
	if bulks < 2 {
		t.Errorf("%d bulk requests, want the notes split over at least 2", bulks)
	}
	list, _, err := s.ListNotes(context.Background(), 100, "")
	if err != nil || len(list) != len(notes) {
		t.Errorf("ListNotes = %d notes, %v; want %d", len(list), err, len(notes))
	}
}
