package rag_test

import (
	"context"
	"fmt"
	"testing"

	"genai"
	"genai/rag"
	"genai/sqlite"
)

// loadCounter is the sqlite store, counting the chunks it loads in full (its rankings
// load none).
type loadCounter struct {
	*sqlite.DB
	loaded int
}

func (s *loadCounter) LoadChunks(ctx context.Context, hits []genai.ChunkHit) ([]genai.ChunkHit, error) {
	s.loaded += len(hits)
	return s.DB.LoadChunks(ctx, hits)
}

// A retrieval loads only the passages its
// feedback reads and the K it returns, not the hundreds of candidates it fuses, and
// returns them in full.
func TestRetrieverLoadsOnlyWhatItKeeps(t *testing.T) {
	ctx := t.Context()
	opts := evalOptions(t)
	db, err := openSQLite(ctx, t.TempDir(), opts.Embedder.Space())
	must(t, err)
	defer db.(*sqlite.DB).Close()
	store := &loadCounter{DB: db.(*sqlite.DB)}
	in := &rag.Ingester{Store: store, Embedder: opts.Embedder}
	for i := range 300 {
		_, err := in.IngestText(ctx, fmt.Sprintf("Trial %d", i), fmt.Sprintf("t%d.txt", i), fmt.Sprintf("Aspirin trial %d lowered the risk of cancer in %d adults.", i, 10*i))
		must(t, err)
	}
	r := &rag.Retriever{Store: store, Embedder: opts.Embedder}
	for _, mode := range []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector, genai.RetrieveHybrid} {
		store.loaded = 0
		hits, err := r.Retrieve(ctx, genai.RetrieveQuery{Query: "aspirin cancer risk", K: 5, Mode: mode})
		must(t, err)
		if len(hits) != 5 || hits[0].Text == "" || hits[0].Title == "" || hits[0].URI == "" {
			t.Fatalf("%s: hits %+v, want 5 in full", mode, hits)
		}
		// The feedback passages, and twice the hits, so that k different passages
		// remain once near-duplicates collapse.
		if max := rag.DefaultFeedbackDocs + 2*5; store.loaded > max {
			t.Errorf("%s: loaded %d chunks for 5 hits; want at most %d", mode, store.loaded, max)
		}
	}
}
