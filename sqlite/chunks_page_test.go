package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"genai"
	"genai/storetest"
)

// TestChunkPagesKept stores chunks with their page numbers and reads them back, also
// after the store is opened again.
func TestChunkPagesKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "genai.db")
	db := openTest(t, path, storetest.Space)
	chunks := []genai.Chunk{{ID: "m0", Index: 0, Page: 1, Text: "on the first page"}, {ID: "m1", Index: 1, Page: 12, Text: "on page twelve"}}
	if err := db.PutDocument(ctx, genai.Document{ID: "m", Title: "Manual", CreatedAt: time.Now()}, chunks, [][]float32{storetest.Vec(1), storetest.Vec(0, 1)}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openTest(t, path, storetest.Space)
	defer db.Close()
	got, err := db.DocumentChunks(ctx, "m")
	if err != nil || len(got) != 2 || got[0].Page != 1 || got[1].Page != 12 {
		t.Fatalf("DocumentChunks = %+v, %v; want pages 1 and 12", got, err)
	}
}
