package web_test

import (
	"context"
	"path/filepath"
	"testing"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

func init() {
	newKB = func(t *testing.T) (genai.KnowledgeBase, genai.DocumentService) {
		emb, err := localembed.New(localembed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kb.db"), sqlite.Options{Space: emb.Space()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		// No chat model: answers are extractive, which makes them deterministic.
		kb := &rag.Local{Retriever: &rag.Retriever{Store: db, Embedder: emb}, Sessions: &rag.Sessions{}}
		return kb, &rag.Ingester{Store: db, Embedder: emb}
	}
}
