package web_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/server"
	"genai/sqlite"
)

func init() {
	newKB = func(t *testing.T) (genai.KnowledgeBase, server.KBDocuments) {
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
		return kb, kbDocs{&rag.Ingester{Store: db, Embedder: emb}, db}
	}
}

// kbDocs is the document service of the server over the rag ingester and the store.
type kbDocs struct {
	in    *rag.Ingester
	store genai.ChunkStore
}

func (d kbDocs) IngestFile(ctx context.Context, name string, file io.Reader) (*rag.Ingested, error) {
	return d.in.IngestReader(ctx, name, file)
}

func (d kbDocs) IngestText(ctx context.Context, title, uri, text string) (*rag.Ingested, error) {
	return d.in.IngestText(ctx, title, uri, text)
}

func (d kbDocs) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	return d.store.ListDocuments(ctx)
}

func (d kbDocs) DeleteDocument(ctx context.Context, id string) error {
	return d.store.DeleteDocument(ctx, id)
}

func (d kbDocs) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	return d.store.GetDocument(ctx, id)
}

func (d kbDocs) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	return d.store.DocumentChunks(ctx, id)
}
