package rag_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

// TestIngestIntoSQLite runs ingestion against the real embedded store: ingest, find by
// words, re-ingest unchanged, change (old chunks gone from search), delete.
func TestIngestIntoSQLite(t *testing.T) {
	ctx := context.Background()
	emb, err := localembed.New(localembed.Options{Dimensions: 256})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kb.db"), sqlite.Options{Space: emb.Space()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := &rag.Ingester{Store: db, Embedder: emb, ChunkTokens: 40, OverlapTokens: 8}

	page := `<html><head><title>Zebra care</title></head><body>
<h1>Zebras</h1><p>Zebras eat grass and drink water daily. They live in herds on the savanna.</p>
<h2>Stripes</h2><p>Each zebra has a unique stripe pattern, like a fingerprint. Stripes may deter flies.</p>
<h2>Sleep</h2><p>Zebras sleep standing up, guarded by the herd. They rest a few hours a day.</p>
</body></html>`
	doc, err := in.Ingest(ctx, "/kb/zebra.html", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Title != "Zebra care" || doc.Chunks < 3 {
		t.Fatalf("ingested %+v", doc)
	}
	hits, err := retrieveFrom(ctx, db, emb, genai.RetrieveQuery{Query: "fingerprint stripe pattern", K: 3, Mode: genai.RetrieveBM25})
	if err != nil || len(hits) == 0 {
		t.Fatalf("search: %v, %d hits", err, len(hits))
	}
	if h := hits[0]; h.DocumentID != doc.ID || h.URI != "/kb/zebra.html" || strings.Join(h.Headings, "/") != "Zebras/Stripes" {
		t.Errorf("top hit %+v", h)
	}

	again, err := in.Ingest(ctx, "/kb/zebra.html", []byte(page))
	if err != nil || !again.Unchanged || again.ID != doc.ID {
		t.Fatalf("re-ingest: %+v, %v", again, err)
	}

	changed := strings.Replace(page, "fingerprint", "barcode", 1)
	doc2, err := in.Ingest(ctx, "/kb/zebra.html", []byte(changed))
	if err != nil || doc2.Unchanged || doc2.ID != doc.ID {
		t.Fatalf("changed: %+v, %v", doc2, err)
	}
	hits, _ = retrieveFrom(ctx, db, emb, genai.RetrieveQuery{Query: "fingerprint", K: 5, Mode: genai.RetrieveBM25})
	if len(hits) != 0 {
		t.Errorf("old text still found after replacing: %+v", hits)
	}
	docs, _ := db.ListDocuments(ctx)
	if len(docs) != 1 {
		t.Errorf("%d documents, want 1", len(docs))
	}
	if err := db.DeleteDocument(ctx, doc.ID); err != nil {
		t.Fatal(err)
	}
	hits, err = retrieveFrom(ctx, db, emb, genai.RetrieveQuery{Query: "barcode zebra", K: 5, Mode: genai.RetrieveHybrid})
	if err != nil || len(hits) != 0 {
		t.Errorf("after delete: %d chunks found, %v", len(hits), err)
	}
}

// retrieveFrom retrieves q from a store as the knowledge base does.
func retrieveFrom(ctx context.Context, store genai.ChunkSearcher, emb genai.Embedder, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	return (&rag.Retriever{Store: store, Embedder: emb}).Retrieve(ctx, q)
}
