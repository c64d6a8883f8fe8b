package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"genai"
	"genai/rag"
	"genai/sqlite"
)

// evalCommand runs "genai eval DIR [-split test] [-json] [-rerank]": it measures
// retrieval on a BEIR data set in DIR with the configured embedder, in a fresh
// temporary embedded store, and prints nDCG@10, Recall@100 and MRR@10 of BM25, vector
// and hybrid search, and with -rerank of hybrid reranked by GENAI_RERANK_MODEL.
func evalCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("genai eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: genai eval DIR [-split test] [-json] [-rerank]\n\nDIR holds corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv (the BEIR layout).")
		fs.PrintDefaults()
	}
	c, err := configFlags(fs, getenv)
	if err != nil {
		return err
	}
	split := fs.String("split", "test", "judgements to evaluate: qrels/SPLIT.tsv")
	asJSON := fs.Bool("json", false, `print one JSON object {"bm25":{"ndcg@10":…,"recall@100":…,"mrr@10":…},"vector":{…},"hybrid":{…}}, and "hybrid+rerank":{…} with -rerank`)
	withRerank := fs.Bool("rerank", false, "measure hybrid search reranked by GENAI_RERANK_MODEL too, beside it without")
	// DIR may come before or after the flags.
	var dir string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if dir == "" || fs.NArg() > 0 {
		return errors.New("eval: want one directory: genai eval DIR [-split test] [-json] [-rerank]")
	}
	if err := c.validate(); err != nil {
		return err
	}
	if *withRerank && c.RerankModel == "" {
		return errors.New("eval -rerank: needs GENAI_RERANK_MODEL (-rerank-model), such as amazon.rerank-v1:0")
	}
	m := NewMain()
	m.Config = c
	e, err := m.embedder(ctx)
	if err != nil {
		return err
	}
	var rr genai.Reranker
	if *withRerank {
		if rr, err = m.reranker(ctx); err != nil {
			return err
		}
	}
	rep, err := rag.Evaluate(ctx, dir, *split, rag.EvalOptions{
		Embedder: e,
		OpenStore: func(ctx context.Context, dir string, space genai.EmbeddingSpace) (genai.ChunkStore, error) {
			return sqlite.Open(ctx, filepath.Join(dir, sqliteFile), sqlite.Options{Space: space})
		},
		Reranker: rr,
		Progress: stderr,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%s, split %s: %d documents (%d chunks), %d judged queries; embedder %s\n",
		dir, rep.Split, rep.Documents, rep.Chunks, rep.Queries, e.Space())
	if rr != nil {
		fmt.Fprintf(stdout, "reranker %s on the best %d hybrid passages\n", c.RerankModel, rag.DefaultRerankCandidates)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "%-13s %8s %11s %8s\n", "mode", "nDCG@10", "Recall@100", "MRR@10")
	for _, row := range []struct {
		name string
		m    rag.Metrics
	}{{"bm25", rep.BM25}, {"vector", rep.Vector}, {"hybrid", rep.Hybrid}} {
		fmt.Fprintf(stdout, "%-13s %8.4f %11.4f %8.4f\n", row.name, row.m.NDCG10, row.m.Recall100, row.m.MRR10)
	}
	if m := rep.Reranked; m != nil {
		fmt.Fprintf(stdout, "%-13s %8.4f %11.4f %8.4f\n", "hybrid+rerank", m.NDCG10, m.Recall100, m.MRR10)
	}
	modes := 3
	if rep.Reranked != nil {
		modes = 4
	}
	fmt.Fprintf(stdout, "\ningest %.1fs (%.0f docs/s, %.0f chunks/s); search %.1fs for %d queries × %d modes\n",
		rep.Ingest.Seconds(), float64(rep.Documents)/rep.Ingest.Seconds(), float64(rep.Chunks)/rep.Ingest.Seconds(),
		rep.Search.Seconds(), rep.Queries, modes)
	return nil
}
