package rag_test

import (
	"context"
	"path/filepath"
	"testing"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

// TestRetrieveCollapsesNearDuplicates stores the same licence paragraph in five files
// (one with a word changed and different spacing) beside two other passages: a query
// for it gets the paragraph once, and the other k-1 results are other passages.
func TestRetrieveCollapsesNearDuplicates(t *testing.T) {
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
	in := &rag.Ingester{Store: db, Embedder: emb}
	licence := "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files, to deal in the software without restriction."
	for i, text := range []string{licence, licence, licence, licence,
		"Permission is hereby granted, free of charge, to any person obtaining a copy of this software and  associated documentation files, to deal in the Software without limitation."} {
		if _, err := in.IngestText(ctx, "", "licence"+string(rune('a'+i))+".txt", text); err != nil {
			t.Fatal(err)
		}
	}
	in.IngestText(ctx, "", "fees.txt", "The software licence carries a fee for each copy sold to a person.")
	in.IngestText(ctx, "", "docs.txt", "Documentation files describe how to obtain the software.")
	r := &rag.Retriever{Store: db, Embedder: emb}
	for _, mode := range []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector, genai.RetrieveHybrid} {
		hits, err := r.Retrieve(ctx, genai.RetrieveQuery{Query: "permission granted free of charge copy of the software", K: 3, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		licences := 0
		for _, h := range hits {
			if len(h.Text) > 100 {
				licences++
			}
		}
		if len(hits) != 3 || licences != 1 {
			t.Errorf("mode %s: %d hits, %d of them the licence; want 3 hits, the licence once: %+v", mode, len(hits), licences, hits)
		}
	}
}
