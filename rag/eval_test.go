package rag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

func openSQLite(ctx context.Context, dir string, space genai.EmbeddingSpace) (genai.ChunkStore, error) {
	return sqlite.Open(ctx, filepath.Join(dir, "genai.db"), sqlite.Options{Space: space})
}

func evalOptions(t testing.TB) rag.EvalOptions {
	e, err := localembed.New(localembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rag.EvalOptions{Embedder: e, OpenStore: openSQLite}
}

// writeBEIR writes a tiny data set in the BEIR layout to a new directory.
func writeBEIR(t *testing.T) string {
	dir := t.TempDir()
	corpus := []struct{ id, title, text string }{
		{"d1", "Aspirin and colorectal cancer", "Daily aspirin lowers the risk of colorectal cancer in adults over fifty."},
		{"d2", "Vitamin D and bone density", "Vitamin D supplements increase bone mineral density in older women."},
		{"d3", "Sleep and memory", "Sleep deprivation impairs the consolidation of memory in students."},
		{"d4", "Exercise and depression", "Aerobic exercise reduces symptoms of depression in randomised trials."},
		{"d5", "Statins and heart disease", "Statins lower cholesterol and the risk of heart attacks."},
		{"d6", "", ""}, // no text: left out
	}
	var b strings.Builder
	for _, d := range corpus {
		line, _ := json.Marshal(map[string]string{"_id": d.id, "title": d.title, "text": d.text})
		b.Write(line)
		b.WriteByte('\n')
	}
	must(t, os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(b.String()), 0o644))
	queries := `{"_id":"q1","text":"Does aspirin prevent colorectal cancer?"}
{"_id":"q2","text":"sleep loss harms memory"}
{"_id":"q3","text":"statins cholesterol"}
{"_id":"q4","text":"unjudged query"}
`
	must(t, os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(queries), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "qrels"), 0o755))
	qrels := "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t2\nq3\td5\t1\nq3\td2\t0\n"
	must(t, os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte(qrels), 0o644))
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEvaluateTinyBEIR(t *testing.T) {
	dir := writeBEIR(t)
	rep, err := rag.Evaluate(t.Context(), dir, "test", evalOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Queries != 3 || rep.Documents != 5 || rep.Skipped != 1 || rep.Chunks != 5 {
		t.Errorf("report counts = %d queries, %d documents, %d skipped, %d chunks; want 3, 5, 1, 5", rep.Queries, rep.Documents, rep.Skipped, rep.Chunks)
	}
	// Each query's one relevant document shares its words and should come first.
	for name, m := range map[string]rag.Metrics{"bm25": rep.BM25, "vector": rep.Vector, "hybrid": rep.Hybrid} {
		if m.NDCG10 != 1 || m.Recall100 != 1 || m.MRR10 != 1 {
			t.Errorf("%s = %+v, want all 1", name, m)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var shape map[string]map[string]float64
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatalf("JSON %s: %v", b, err)
	}
	if len(shape) != 3 {
		t.Errorf("JSON %s: want exactly bm25, vector and hybrid", b)
	}
	for _, mode := range []string{"bm25", "vector", "hybrid"} {
		if len(shape[mode]) != 3 || shape[mode]["ndcg@10"] != 1 || shape[mode]["recall@100"] != 1 || shape[mode]["mrr@10"] != 1 {
			t.Errorf("JSON %s: %s = %v", b, mode, shape[mode])
		}
	}
}

func TestEvaluateMissingSplit(t *testing.T) {
	dir := writeBEIR(t)
	_, err := rag.Evaluate(t.Context(), dir, "dev", evalOptions(t))
	if err == nil || !strings.Contains(err.Error(), filepath.Join("qrels", "dev.tsv")) {
		t.Errorf("error %v, want one naming qrels/dev.tsv", err)
	}
}

// sciFactDir finds SciFact: GENAI_SCIFACT_DIR, else ../../shared/data/scifact.
func sciFactDir(b *testing.B) string {
	dir := os.Getenv("GENAI_SCIFACT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "scifact")
	}
	if _, err := os.Stat(filepath.Join(dir, "corpus.jsonl")); err != nil {
		b.Skipf("SciFact data not found (set GENAI_SCIFACT_DIR): %v", err)
	}
	return dir
}

// BenchmarkSciFact runs Evaluate on SciFact's train split with the local embedder and
// prints its figures, ingest rate included:
//
//	go test -run '^$' -bench BenchmarkSciFact -benchtime 1x ./rag
func BenchmarkSciFact(b *testing.B) {
	dir := sciFactDir(b)
	opts := evalOptions(b)
	opts.Progress = os.Stdout
	for b.Loop() {
		rep, err := rag.Evaluate(b.Context(), dir, "train", opts)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("%-8s %8s %11s %8s\n", "mode", "nDCG@10", "Recall@100", "MRR@10")
		for _, row := range []struct {
			name string
			m    rag.Metrics
		}{{"bm25", rep.BM25}, {"vector", rep.Vector}, {"hybrid", rep.Hybrid}} {
			fmt.Printf("%-8s %8.4f %11.4f %8.4f\n", row.name, row.m.NDCG10, row.m.Recall100, row.m.MRR10)
		}
	}
}

type line struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

func readLines(b *testing.B, path string) []line {
	data, err := os.ReadFile(path)
	must(b, err)
	var out []line
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var x line
		must(b, json.Unmarshal([]byte(l), &x))
		out = append(out, x)
	}
	return out
}

func TestRetrieverModesAndFilter(t *testing.T) {
	ctx := t.Context()
	opts := evalOptions(t)
	store, err := openSQLite(ctx, t.TempDir(), opts.Embedder.Space())
	must(t, err)
	defer store.(*sqlite.DB).Close()
	in := &rag.Ingester{Store: store, Embedder: opts.Embedder}
	a, err := in.IngestText(ctx, "Aspirin", "a.txt", "Aspirin lowers the risk of colorectal cancer.")
	must(t, err)
	_, err = in.IngestText(ctx, "Statins", "b.txt", "Statins lower cholesterol and the risk of heart attacks.")
	must(t, err)
	r := &rag.Retriever{Store: store, Embedder: opts.Embedder}
	for _, mode := range []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector, genai.RetrieveHybrid, ""} {
		hits, err := r.Retrieve(ctx, genai.RetrieveQuery{Query: "aspirin cancer", Mode: mode})
		must(t, err)
		if len(hits) == 0 || hits[0].DocumentID != a.ID {
			t.Errorf("mode %q: hits %+v, want the aspirin document first", mode, hits)
		}
		hits, err = r.Retrieve(ctx, genai.RetrieveQuery{Query: "aspirin cancer risk", Mode: mode, DocumentID: a.ID, K: 1})
		must(t, err)
		if len(hits) != 1 || hits[0].DocumentID != a.ID {
			t.Errorf("mode %q filtered: hits %+v", mode, hits)
		}
	}
}
