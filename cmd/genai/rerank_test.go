package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"genai/bedrock/agentruntimetest"
)

// rerankUpstream starts agentruntimetest (its Rerank scores by the share of the query's
// words a passage holds) and points the SDK at it with test credentials.
func rerankUpstream(t *testing.T, opts agentruntimetest.Options) *agentruntimetest.Server {
	t.Helper()
	isolateAWS(t)
	up := agentruntimetest.NewServer(opts)
	t.Cleanup(up.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", up.URL)
	return up
}

func rerankOps(up *agentruntimetest.Server) []*agentruntimetest.Request {
	var out []*agentruntimetest.Request
	for _, r := range up.Requests() {
		if r.Operation == "Rerank" {
			out = append(out, r)
		}
	}
	return out
}

// The local knowledge base as the binary wires it with GENAI_RERANK_MODEL: retrieval
// comes in the reranker's order.
func TestKnowledgeBaseLocalRerank(t *testing.T) {
	up := rerankUpstream(t, agentruntimetest.Options{})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "none", "GENAI_RERANK_MODEL": "cohere.rerank-v3-5:0"})
	for _, d := range []struct{ title, text string }{
		{"Pumps", "Impeller impeller impeller, coolant coolant coolant."},
		{"Night shift", "When the night shift began at the plant, the operators walked the long hall past the turbines, the control desks and the old archive, read the gauges, wrote the readings in the book, checked the alarms, drank tea and talked about the weather until the impeller of the coolant loop seized and the crew fitted a spare."},
	} {
		body, _ := json.Marshal(map[string]string{"title": d.title, "text": d.text, "uri": d.title + ".txt"})
		resp, err := http.Post(base+"/api/kb/documents", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("ingest: %d %s", resp.StatusCode, b)
		}
	}
	resp, err := http.Post(base+"/api/kb/retrieve", "application/json", strings.NewReader(`{"query":"impeller coolant crew spare","k":2}`))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []struct {
			Title string
			Score float64
		}
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got.Results) != 2 || got.Results[0].Title != "Night shift" || got.Results[0].Score != 1 {
		t.Fatalf("retrieve: %+v, want Night shift first with the reranker's score 1", got)
	}
	reqs := rerankOps(up)
	if len(reqs) != 1 || reqs[0].RerankModelArn() != "arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0" {
		t.Fatalf("rerank requests: %+v", reqs)
	}
}

// A managed knowledge base passes the reranking model in its retrieval configuration.
func TestKnowledgeBaseBedrockRerank(t *testing.T) {
	up := rerankUpstream(t, agentruntimetest.Options{KnowledgeBaseID: "KB12345678", Passages: []agentruntimetest.Passage{
		{Text: "Bedrock Knowledge Bases connect models to your data.", Location: agentruntimetest.Location{URI: "s3://docs/bedrock.md"}, Score: 0.9},
	}})
	_, base := start(t, map[string]string{"GENAI_KB": "bedrock", "GENAI_BEDROCK_KB_ID": "KB12345678", "GENAI_PROVIDER": "none",
		"GENAI_RERANK_MODEL": "amazon.rerank-v1:0"})
	resp, err := http.Post(base+"/api/kb/retrieve", "application/json", strings.NewReader(`{"query":"what are knowledge bases","k":3}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("retrieve: %d %s", resp.StatusCode, b)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].VectorSearch() == nil || reqs[0].VectorSearch().RerankingConfiguration == nil {
		t.Fatalf("requests %+v: no rerankingConfiguration", reqs)
	}
	v := reqs[0].VectorSearch()
	b2 := v.RerankingConfiguration.BedrockRerankingConfiguration
	if b2.ModelConfiguration.ModelArn != "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0" || *b2.NumberOfRerankedResults != 3 || *v.NumberOfResults != 100 {
		t.Errorf("reranking %q of %d keeping %d", b2.ModelConfiguration.ModelArn, *v.NumberOfResults, *b2.NumberOfRerankedResults)
	}
}

// writeEvalBEIR writes a data set whose relevant document the first stage ranks last
// and the word-overlap reranker first.
func writeEvalBEIR(t *testing.T) string {
	dir := t.TempDir()
	corpus := `{"_id":"d0","title":"Pumps","text":"Impeller impeller impeller, coolant coolant coolant."}
{"_id":"d1","title":"Night shift","text":"When the night shift began at the plant, the operators walked the long hall past the turbines, the control desks and the old archive, read the gauges, wrote the readings in the book, checked the alarms, drank tea and talked about the weather until the impeller of the coolant loop seized and the crew fitted a spare."}
{"_id":"d2","title":"Depot","text":"The depot beside the yard, where vans unload on weekdays and the forklifts are parked at night, keeps a spare coolant valve for the crew."}
`
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(corpus), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id":"q1","text":"impeller coolant crew spare"}`+"\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "qrels"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvalRerank(t *testing.T) {
	up := rerankUpstream(t, agentruntimetest.Options{})
	dir := writeEvalBEIR(t)
	env := map[string]string{"GENAI_RERANK_MODEL": "amazon.rerank-v1:0"}
	getenv := func(k string) string { return env[k] }
	var out, errs bytes.Buffer
	if err := evalCommand(t.Context(), []string{dir, "-split", "test", "-json", "-rerank"}, getenv, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	var rep map[string]map[string]float64
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if rep["hybrid+rerank"]["mrr@10"] != 1 || rep["hybrid"]["mrr@10"] >= 1 {
		t.Errorf("report %s: want hybrid below 1 and hybrid+rerank at MRR@10 1", out.String())
	}
	if len(rerankOps(up)) != 1 {
		t.Errorf("%d Rerank calls, want 1 (one query)", len(rerankOps(up)))
	}

	out.Reset()
	if err := evalCommand(t.Context(), []string{dir, "-split", "test", "-rerank"}, getenv, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "hybrid+rerank   1.0000") || !strings.Contains(out.String(), "reranker amazon.rerank-v1:0") {
		t.Errorf("table:\n%s", out.String())
	}

	// Without -rerank, no reranking; -rerank without a model is an error naming the setting.
	out.Reset()
	if err := evalCommand(t.Context(), []string{dir, "-split", "test", "-json"}, getenv, &out, &errs); err != nil || strings.Contains(out.String(), "rerank") {
		t.Errorf("without -rerank: %v %s", err, out.String())
	}
	err := evalCommand(t.Context(), []string{dir, "-rerank"}, func(string) string { return "" }, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "GENAI_RERANK_MODEL") {
		t.Errorf("-rerank without a model: %v", err)
	}
}

// TestEvalRerankSciFact measures "genai eval -rerank" on a BEIR data set in
// GENAI_EVAL_RERANK_DIR (such as SciFact; split GENAI_EVAL_RERANK_SPLIT, default train)
// with agentruntimetest as the reranker: its word-overlap scores, not a Bedrock model's,
// so the figures show the stage works end to end, not what Bedrock's rerankers achieve.
// Reranking reorders only the best 100 passages, so Recall@100 must not change.
func TestEvalRerankSciFact(t *testing.T) {
	dir := os.Getenv("GENAI_EVAL_RERANK_DIR")
	if dir == "" {
		t.Skip("GENAI_EVAL_RERANK_DIR is not set")
	}
	split := cmp.Or(os.Getenv("GENAI_EVAL_RERANK_SPLIT"), "train")
	rerankUpstream(t, agentruntimetest.Options{})
	env := map[string]string{"GENAI_RERANK_MODEL": "amazon.rerank-v1:0"}
	var out, errs bytes.Buffer
	if err := evalCommand(t.Context(), []string{dir, "-split", split, "-rerank"}, func(k string) string { return env[k] }, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	t.Log("\n" + out.String())
	var hybrid, reranked [3]float64
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && (f[0] == "hybrid" || f[0] == "hybrid+rerank") {
			dst := &hybrid
			if f[0] != "hybrid" {
				dst = &reranked
			}
			for i := range 3 {
				fmt.Sscan(f[i+1], &dst[i])
			}
		}
	}
	if hybrid[1] == 0 || reranked[1] != hybrid[1] {
		t.Errorf("Recall@100 hybrid %v, reranked %v; want equal and above 0", hybrid[1], reranked[1])
	}
}
