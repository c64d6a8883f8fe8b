package rag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"genai"
)

// DefaultEvalChunkTokens is the chunk size Evaluate ingests with by default: large
// enough that an abstract of a BEIR corpus is one passage, as BEIR scores documents.
const DefaultEvalChunkTokens = 1024

// EvalOptions configure Evaluate.
type EvalOptions struct {
	// Embedder embeds the corpus and the queries; required.
	Embedder genai.Embedder
	// OpenStore opens a new, empty store in dir, a temporary directory that Evaluate
	// removes when done; required. Evaluate closes the store if it is an io.Closer.
	OpenStore func(ctx context.Context, dir string, space genai.EmbeddingSpace) (genai.ChunkStore, error)
	// Retriever tunes the retrieval measured; the zero value is the default.
	Retriever RetrieverOptions
	// Reranker, when set, is measured too: the hybrid ranking with its best
	// Retriever.RerankCandidates chunks reordered by it (Report.Reranked). A reranker
	// error fails the evaluation rather than degrading, so the figures are the
	// reranker's.
	Reranker genai.Reranker
	// ChunkTokens is the chunk size of ingestion; 0 means DefaultEvalChunkTokens.
	ChunkTokens int
	// Workers is the number of documents ingested and queries run at once; 0 means
	// GOMAXPROCS.
	Workers int
	// Progress, when not nil, gets a line as each stage ends.
	Progress io.Writer
}

// Report is the outcome of Evaluate: the figures of each retrieval mode, and the size
// and timing of the run. Its JSON is {"bm25":…,"vector":…,"hybrid":…}, with
// "hybrid+rerank":… when a reranker was measured.
type Report struct {
	BM25   Metrics `json:"bm25"`
	Vector Metrics `json:"vector"`
	Hybrid Metrics `json:"hybrid"`
	// Reranked is hybrid with the reranker's second stage; nil without one.
	Reranked *Metrics `json:"hybrid+rerank,omitempty"`

	Split     string        `json:"-"`
	Documents int           `json:"-"` // documents ingested
	Skipped   int           `json:"-"` // corpus entries with no text, left out
	Chunks    int           `json:"-"` // chunks they were split into
	Queries   int           `json:"-"` // judged queries run
	Ingest    time.Duration `json:"-"` // time to ingest the corpus: parse, chunk, embed, store
	Search    time.Duration `json:"-"` // time to run every query in every mode
}

// Evaluate measures retrieval on a data set in the BEIR layout in dir: corpus.jsonl
// ({"_id","title","text"} a line), queries.jsonl ({"_id","text"}) and qrels/SPLIT.tsv
// (a header, then query-id, corpus-id and grade separated by tabs).
//
// It ingests the corpus into a fresh store in a temporary directory through the
// Ingester, as a user's documents are (each entry a Markdown document headed by its
// title, chunked by the Ingester at EvalOptions.ChunkTokens), runs each judged query of the split, and scores the
// rankings of BM25 alone, vectors alone and hybrid, as the Retriever makes them (and
// hybrid reranked, with EvalOptions.Reranker), by
// nDCG@10, Recall@100 and MRR@10 (see Metrics). Documents are ranked by their best
// chunk. A missing split file is an error that names it.
func Evaluate(ctx context.Context, dir, split string, opts EvalOptions) (*Report, error) {
	if opts.Embedder == nil || opts.OpenStore == nil {
		return nil, errors.New("eval: EvalOptions.Embedder and OpenStore are required")
	}
	set, err := loadBEIR(dir, split)
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tmp, err := os.MkdirTemp("", "genai-eval-*")
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer os.RemoveAll(tmp)
	store, err := opts.OpenStore(ctx, tmp, opts.Embedder.Space())
	if err != nil {
		return nil, fmt.Errorf("eval: open a store in %s: %w", tmp, err)
	}
	if c, ok := store.(io.Closer); ok {
		defer c.Close()
	}
	rep := &Report{Split: split, Queries: len(set.queries)}
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}

	// Ingest.
	start := time.Now()
	chunkTokens := opts.ChunkTokens
	if chunkTokens <= 0 {
		chunkTokens = DefaultEvalChunkTokens
	}
	in := &Ingester{Store: store, Embedder: opts.Embedder, ChunkTokens: chunkTokens}
	corpusID := make(map[string]string, len(set.corpus)) // document ID → corpus ID
	for _, d := range set.corpus {
		corpusID[DocumentID(evalURI(d.ID))] = d.ID
	}
	var chunks, skipped atomic.Int64
	err = parallel(ctx, workers, len(set.corpus), func(i int) error {
		d := set.corpus[i]
		text := d.Text
		if isBlank(text) {
			text = d.Title
		}
		if isBlank(text) {
			skipped.Add(1)
			return nil
		}
		// As Markdown under its title, so that the title heads its passage: embedded
		// with it (EmbeddingText) and matched by BM25 in the headings as well.
		if !isBlank(d.Title) {
			text = "# " + d.Title + "\n\n" + text
		}
		got, err := in.IngestText(ctx, d.Title, evalURI(d.ID), text)
		if err != nil {
			return fmt.Errorf("eval: ingest corpus entry %q: %w", d.ID, err)
		}
		chunks.Add(int64(got.Chunks))
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Ingest = time.Since(start)
	rep.Skipped = int(skipped.Load())
	rep.Documents, rep.Chunks = len(set.corpus)-rep.Skipped, int(chunks.Load())
	progress("ingested %d documents (%d chunks) in %.1fs: %.0f docs/s, %.0f chunks/s",
		rep.Documents, rep.Chunks, rep.Ingest.Seconds(),
		float64(rep.Documents)/rep.Ingest.Seconds(), float64(rep.Chunks)/rep.Ingest.Seconds())

	// Search.
	start = time.Now()
	r := &Retriever{Store: store, Embedder: opts.Embedder, Options: opts.Retriever}
	o := r.Options.withDefaults()
	per := make([][4]Metrics, len(set.queries))
	err = parallel(ctx, workers, len(set.queries), func(i int) error {
		q := set.queries[i]
		rk, err := r.rankings(ctx, q.Text, "", "")
		if err != nil {
			return fmt.Errorf("eval: query %q: %w", q.ID, err)
		}
		rel := set.qrels[q.ID]
		hybrid := fuseByScore(rk.lexical, rk.vector, o.VectorWeight)
		per[i] = [4]Metrics{
			score(documentRanking(rk.lexical, corpusID), rel),
			score(documentRanking(rk.vector, corpusID), rel),
			score(documentRanking(hybrid, corpusID), rel),
		}
		if opts.Reranker != nil {
			// As Retrieve does: the best candidates reordered, then the rest of the
			// first stage (they count for Recall@100).
			n := min(len(hybrid), o.RerankCandidates)
			loaded, err := r.load(ctx, hybrid[:n])
			if err != nil {
				return fmt.Errorf("eval: query %q: %w", q.ID, err)
			}
			reranked, err := rerank(ctx, opts.Reranker, q.Text, loaded)
			if err != nil {
				return fmt.Errorf("eval: query %q: rerank: %w", q.ID, err)
			}
			per[i][3] = score(documentRanking(append(reranked, hybrid[n:]...), corpusID), rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Search = time.Since(start)
	modes := []*Metrics{&rep.BM25, &rep.Vector, &rep.Hybrid}
	if opts.Reranker != nil {
		rep.Reranked = &Metrics{}
		modes = append(modes, rep.Reranked)
	}
	for mode, m := range modes {
		ms := make([]Metrics, len(per))
		for i := range per {
			ms[i] = per[i][mode]
		}
		*m = mean(ms)
	}
	progress("ran %d queries in %d modes in %.1fs", rep.Queries, len(modes), rep.Search.Seconds())
	return rep, nil
}

// evalURI is the URI a corpus entry is ingested under.
func evalURI(id string) string { return "beir:" + id + ".md" }

// documentRanking turns ranked chunks into ranked corpus IDs, each document at the
// place of its best chunk.
func documentRanking(hits []genai.ChunkHit, corpusID map[string]string) []string {
	seen := make(map[string]bool, len(hits))
	out := make([]string, 0, len(hits))
	for _, h := range hits {
		if id := corpusID[h.DocumentID]; !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func isBlank(s string) bool { return len(words(s)) == 0 }

// parallel runs fn(0..n-1) on up to workers goroutines and returns the first error,
// after which the rest are not started.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					errs[w] = err
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(slices.DeleteFunc(errs, func(e error) bool { return e == nil })...); err != nil {
		return err
	}
	return ctx.Err()
}
