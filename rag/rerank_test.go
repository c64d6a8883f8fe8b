package rag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/agentruntimetest"
	"genai/rag"
	"genai/sqlite"
)

// newBedrockReranker returns Bedrock's Reranker talking to a new agentruntimetest
// server through the SDK: it scores each passage by the share of the query's words it
// holds.
func newBedrockReranker(t *testing.T, opts agentruntimetest.Options) (*bedrock.Reranker, *agentruntimetest.Server) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := agentruntimetest.NewServer(opts)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	r, err := bedrock.NewReranker(cfg, bedrock.RerankOptions{Model: bedrock.RerankAmazonV1, MaxAttempts: 2, MaxBackoff: time.Millisecond})
	must(t, err)
	return r, srv
}

// rerankCorpus is a store whose first-stage ranking for rerankQuery (Spare parts, Pump
// notes, Crew log) differs from the
// word-overlap order: "Pump notes" is short and repeats two query words (strong for
// BM25), the long others hold more of the query's words once each.
func rerankCorpus(t *testing.T) (*sqlite.DB, genai.Embedder) {
	ctx := t.Context()
	opts := evalOptions(t)
	db, err := openSQLite(ctx, t.TempDir(), opts.Embedder.Space())
	must(t, err)
	t.Cleanup(func() { db.(*sqlite.DB).Close() })
	in := &rag.Ingester{Store: db, Embedder: opts.Embedder}
	for _, d := range rerankDocs {
		_, err := in.IngestText(ctx, d.title, d.title+".txt", d.text)
		must(t, err)
	}
	return db.(*sqlite.DB), opts.Embedder
}

var rerankDocs = []struct{ title, text string }{
	{"Pump notes", "Impeller impeller impeller, coolant coolant coolant."},
	{"Crew log", "When the night shift began at the plant, the operators walked the long hall past the turbines, the control desks and the old archive, read the gauges, wrote the readings in the book, checked the alarms, drank tea and talked about the weather until the impeller of the coolant loop seized and the crew fitted a spare."},
	{"Spare parts", "The depot beside the yard, where vans unload on weekdays and the forklifts are parked at night, keeps a spare coolant valve for the crew."},
	{"Lighthouse", "Keepers wind the clockwork of the lens every four hours."},
}

const rerankQuery = "impeller coolant crew spare"

func titles(hits []genai.ChunkHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Title
	}
	return out
}

func TestRetrieverRerankReorders(t *testing.T) {
	db, emb := rerankCorpus(t)
	rr, srv := newBedrockReranker(t, agentruntimetest.Options{})
	q := genai.RetrieveQuery{Query: rerankQuery, K: 3, Mode: genai.RetrieveHybrid}

	first, err := (&rag.Retriever{Store: db, Embedder: emb}).Retrieve(t.Context(), q)
	must(t, err)
	if len(first) < 3 || first[2].Title != "Crew log" {
		t.Fatalf("first stage = %v; the test wants Crew log last", titles(first))
	}
	hits, err := (&rag.Retriever{Store: db, Embedder: emb, Reranker: rr}).Retrieve(t.Context(), q)
	must(t, err)
	// Crew log holds all four query words, Spare parts three (coolant, crew, spare),
	// Pump notes two.
	want := []string{"Crew log", "Spare parts", "Pump notes"}
	if fmt.Sprint(titles(hits)) != fmt.Sprint(want) {
		t.Fatalf("reranked = %v, want %v", titles(hits), want)
	}
	if hits[0].Score != 1 || hits[1].Score != 0.75 || hits[2].Score != 0.5 || hits[0].Text == "" {
		t.Errorf("scores = %v, %v, %v; want the reranker's 1, 0.75, 0.5, hits in full", hits[0].Score, hits[1].Score, hits[2].Score)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || len(reqs[0].Sources) != 4 {
		t.Fatalf("requests = %d, want one Rerank of the 4 candidates", len(reqs))
	}
}

func TestRetrieverRerankCandidates(t *testing.T) {
	db, emb := rerankCorpus(t)
	rr, srv := newBedrockReranker(t, agentruntimetest.Options{})
	r := &rag.Retriever{Store: db, Embedder: emb, Reranker: rr, Options: rag.RetrieverOptions{RerankCandidates: 2}}
	hits, err := r.Retrieve(t.Context(), genai.RetrieveQuery{Query: rerankQuery, K: 3, Mode: genai.RetrieveBM25})
	must(t, err)
	if reqs := srv.Requests(); len(reqs) != 1 || len(reqs[0].Sources) != 2 {
		t.Errorf("requests %+v; want one Rerank of RerankCandidates 2 passages", reqs)
	}
	if len(hits) != 3 {
		t.Errorf("hits = %v, want 3: the reranked 2, then the first stage's next", titles(hits))
	}
}

func TestRetrieverRerankFailureKeepsFirstStage(t *testing.T) {
	db, emb := rerankCorpus(t)
	rr, srv := newBedrockReranker(t, agentruntimetest.Options{ThrottleFirst: 100})
	q := genai.RetrieveQuery{Query: rerankQuery, K: 3, Mode: genai.RetrieveHybrid}
	first, err := (&rag.Retriever{Store: db, Embedder: emb}).Retrieve(t.Context(), q)
	must(t, err)

	hits, err := (&rag.Retriever{Store: db, Embedder: emb, Reranker: rr}).Retrieve(t.Context(), q)
	if err != nil {
		t.Fatalf("a throttled reranker failed the retrieval: %v", err)
	}
	if fmt.Sprint(titles(hits)) != fmt.Sprint(titles(first)) || hits[0].Score != first[0].Score {
		t.Errorf("hits = %v, want the first stage's %v", titles(hits), titles(first))
	}
	if srv.Stats().Throttled == 0 {
		t.Error("the reranker was not called")
	}

	// A reranker past its own deadline (GENAI_UPSTREAM_CALL_TIMEOUT) is a failure like
	// the others: the upstream call is cancelled and the first stage answers.
	slow, slowSrv := newBedrockReranker(t, agentruntimetest.Options{FirstEventDelay: time.Minute})
	bounded := genai.RerankerWithDeadline(slow, genai.Deadlines{Call: 50 * time.Millisecond})
	hits, err = (&rag.Retriever{Store: db, Embedder: emb, Reranker: bounded}).Retrieve(t.Context(), q)
	if err != nil || fmt.Sprint(titles(hits)) != fmt.Sprint(titles(first)) {
		t.Errorf("reranker past its deadline: %v, %v; want the first stage's %v", err, titles(hits), titles(first))
	}
	if _, err := bounded.Rerank(t.Context(), "q", []string{"a"}); genai.ErrorCode(err) != genai.ETIMEOUT {
		t.Errorf("bounded reranker: %v, want ETIMEOUT", err)
	}
	ctxw, cancelw := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancelw()
	if err := slowSrv.Wait(ctxw, func(s agentruntimetest.Stats) bool { return s.Canceled >= 2 }); err != nil {
		t.Errorf("the slow Rerank calls were not cancelled upstream: %v", err)
	}

	// The caller's own deadline is not degraded past: the work stops with its error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := (&rag.Retriever{Store: db, Embedder: emb, Reranker: rr}).Retrieve(ctx, q); err == nil {
		t.Error("a cancelled retrieval succeeded")
	}
}

// writeRerankBEIR writes the rerank corpus as a BEIR data set, judging Crew log (last
// of the first stage) relevant to rerankQuery.
func writeRerankBEIR(t *testing.T) string {
	dir := t.TempDir()
	var corpus strings.Builder
	for i, d := range rerankDocs {
		line, _ := json.Marshal(map[string]string{"_id": fmt.Sprint("d", i), "title": d.title, "text": d.text})
		corpus.Write(line)
		corpus.WriteByte('\n')
	}
	must(t, os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(corpus.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id":"q1","text":"`+rerankQuery+`"}`+"\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "qrels"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\n"), 0o644))
	return dir
}

func TestEvaluateRerank(t *testing.T) {
	dir := writeRerankBEIR(t)
	rr, _ := newBedrockReranker(t, agentruntimetest.Options{})
	opts := evalOptions(t)
	opts.Reranker = rr
	rep, err := rag.Evaluate(t.Context(), dir, "test", opts)
	must(t, err)
	if rep.Reranked == nil {
		t.Fatal("no reranked figures")
	}
	// Crew log is third in the hybrid ranking (MRR 1/3) and first once reranked.
	if math.Abs(rep.Hybrid.MRR10-1.0/3) > 1e-9 || rep.Reranked.MRR10 != 1 || rep.Reranked.NDCG10 != 1 {
		t.Errorf("hybrid %+v, reranked %+v; want MRR@10 1/3 and 1", rep.Hybrid, *rep.Reranked)
	}
	b, err := json.Marshal(rep)
	must(t, err)
	if !strings.Contains(string(b), `"hybrid+rerank":{`) {
		t.Errorf("JSON %s has no hybrid+rerank", b)
	}

	// Without a reranker, no such figures; with a failing one, the evaluation fails
	// rather than report first-stage figures as the reranker's.
	rep, err = rag.Evaluate(t.Context(), dir, "test", evalOptions(t))
	must(t, err)
	if rep.Reranked != nil {
		t.Errorf("reranked figures %+v without a reranker", rep.Reranked)
	}
	failing, _ := newBedrockReranker(t, agentruntimetest.Options{ThrottleFirst: 100})
	opts.Reranker = failing
	if _, err := rag.Evaluate(t.Context(), dir, "test", opts); genai.ErrorCode(err) != genai.ETHROTTLED {
		t.Errorf("failing reranker: %v, want its throttling error", err)
	}
}
