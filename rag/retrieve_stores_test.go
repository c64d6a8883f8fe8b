package rag_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"genai"
	"genai/localembed"
	"genai/opensearch"
	"genai/opensearch/opensearchtest"
	"genai/rag"
	"genai/sqlite"
)

// The hybrid retrieval runs on both stores through the one store contract
// (genai.ChunkSearcher), and finds the same passages in full: the embedded store and
// OpenSearch, driven through its official client against opensearchtest.
func TestRetrieverOnBothStores(t *testing.T) {
	ctx := context.Background()
	emb, err := localembed.New(localembed.Options{})
	must(t, err)
	stores := map[string]func(t *testing.T) genai.ChunkStore{
		"sqlite": func(t *testing.T) genai.ChunkStore {
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "genai.db"), sqlite.Options{Space: emb.Space()})
			must(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		},
		"opensearch": func(t *testing.T) genai.ChunkStore {
			srv := opensearchtest.NewServer(opensearchtest.Options{})
			t.Cleanup(srv.Close)
			s, err := opensearch.Open(ctx, opensearch.Options{URL: srv.URL, Auth: opensearch.AuthNone, Index: "kb", Space: emb.Space()})
			must(t, err)
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			in := &rag.Ingester{Store: store, Embedder: emb}
			var pump string
			for i, text := range []string{
				"The turbine was inspected in January and its bearings were greased.",
				"In February the coolant pump failed and the crew replaced it with a spare pump.",
				"The control room moved to the new building in March.",
				"Lighthouse keepers wind the clockwork of the lens every four hours.",
			} {
				doc, err := in.IngestText(ctx, fmt.Sprintf("Log %d", i), fmt.Sprintf("log%d.txt", i), text)
				must(t, err)
				if i == 1 {
					pump = doc.ID
				}
			}
			r := &rag.Retriever{Store: store, Embedder: emb}
			for _, mode := range []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector, genai.RetrieveHybrid} {
				hits, err := r.Retrieve(ctx, genai.RetrieveQuery{Query: "coolant pump failure", K: 2, Mode: mode})
				must(t, err)
				if len(hits) == 0 || hits[0].DocumentID != pump || hits[0].Title != "Log 1" || hits[0].URI != "log1.txt" || hits[0].Text == "" {
					t.Errorf("%s: hits %+v, want the pump's log first, in full", mode, hits)
				}
				if len(hits) > 2 {
					t.Errorf("%s: %d hits for k 2", mode, len(hits))
				}
				hits, err = r.Retrieve(ctx, genai.RetrieveQuery{Query: "turbine bearings", K: 5, Mode: mode, DocumentID: pump})
				must(t, err)
				for _, h := range hits {
					if h.DocumentID != pump {
						t.Errorf("%s filtered by %s: hit %+v", mode, pump, h)
					}
				}
			}
		})
	}
}
