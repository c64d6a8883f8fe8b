package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"genai"
	"genai/storetest"
)

// searchChunks ranks r and loads the hits, as a retrieval does.
func searchChunks(ctx context.Context, db *DB, r genai.ChunkRanking) ([]genai.ChunkHit, error) {
	hits, err := db.RankChunks(ctx, r)
	if err != nil {
		return nil, err
	}
	return db.LoadChunks(ctx, hits)
}

func TestChunkConformance(t *testing.T) {
	storetest.TestChunkStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.ChunkStore {
		return openTest(t, filepath.Join(t.TempDir(), "genai.db"), space)
	})
}

func TestPutDocumentsIsAtomic(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "genai.db"), storetest.Space)
	defer db.Close()
	docs := []genai.Document{{ID: "a", Title: "A", CreatedAt: time.Now()}, {ID: "b", Title: "B", CreatedAt: time.Now()}}
	chunks := [][]genai.Chunk{{{ID: "a0", Text: "alpha"}}, {{ID: "a0", Text: "taken by a"}}}
	vecs := [][][]float32{{storetest.Vec(1)}, {storetest.Vec(0, 1)}}
	if err := db.PutDocuments(ctx, docs, chunks, vecs); genai.ErrorCode(err) != genai.EINVALID {
		t.Fatalf("PutDocuments with a chunk ID twice across documents: %v, want EINVALID", err)
	}
	if list, _ := db.ListDocuments(ctx); len(list) != 0 {
		t.Fatalf("a refused batch stored %v", list)
	}
	chunks[1][0].ID = "b0"
	if err := db.PutDocuments(ctx, docs, chunks, vecs); err != nil {
		t.Fatal(err)
	}
	hits, err := searchChunks(ctx, db, genai.ChunkRanking{Vector: storetest.Vec(0, 1), N: 5})
	if err != nil || len(hits) != 2 || hits[0].ID != "b0" {
		t.Fatalf("vector search after PutDocuments = %+v, %v", hits, err)
	}
}

// The Porter stemmer matches English word forms; the query's stop words are dropped
// unless they are all it has.
func TestChunkBM25English(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "genai.db"), storetest.Space)
	defer db.Close()
	chunks := []genai.Chunk{
		{ID: "c0", Text: "The runner runs daily; running strengthens the heart."},
		{ID: "c1", Text: "Café society of the nineteenth century."},
		{ID: "c2", Text: "To be or not to be."},
	}
	if err := db.PutDocument(ctx, genai.Document{ID: "d", Title: "Essays", CreatedAt: time.Now()}, chunks,
		[][]float32{storetest.Vec(1), storetest.Vec(0, 1), storetest.Vec(0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string]string{"ran runs": "c0", "hearts": "c0", "cafe": "c1", "centuries": "c1", "the heart of the matter": "c0", "to be": "c2"} {
		hits, err := searchChunks(ctx, db, genai.ChunkRanking{Text: query, N: 5})
		if err != nil || len(hits) == 0 || hits[0].ID != want {
			t.Errorf("bm25 %q = %+v, %v; want %s first", query, hits, err, want)
		}
	}
}

// A second handle on the file stands for another process: its chunk writes reach the
// first handle's vector search.
func TestChunkWritesOfAnotherProcessAreSearched(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "genai.db")
	server, cli := openTest(t, path, storetest.Space), openTest(t, path, storetest.Space)
	defer server.Close()
	defer cli.Close()
	search := func(db *DB) []genai.ChunkHit {
		hits, err := searchChunks(ctx, db, genai.ChunkRanking{Vector: storetest.Vec(1), N: 5})
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	search(server)
	if err := cli.PutDocument(ctx, genai.Document{ID: "d", CreatedAt: time.Now()}, []genai.Chunk{{ID: "c", Text: "x"}}, [][]float32{storetest.Vec(1)}); err != nil {
		t.Fatal(err)
	}
	if hits := search(server); len(hits) != 1 || hits[0].ID != "c" {
		t.Fatalf("the server does not find the command's chunk: %+v", hits)
	}
	if err := cli.DeleteDocument(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if hits := search(server); len(hits) != 0 {
		t.Fatalf("the server still finds the deleted chunk: %+v", hits)
	}
}

// Reembed re-embeds chunks too, from ChunkEmbeddingText, and searches then find them
// in the new space.
func TestReembedChunks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "genai.db")
	oldE := &hashEmbedder{space: genai.EmbeddingSpace{Model: "old", Dimensions: 16}}
	newE := &hashEmbedder{space: genai.EmbeddingSpace{Model: "new", Dimensions: 16}}
	db := openTest(t, path, oldE.space)
	doc := genai.Document{ID: "d", Title: "Zoology", CreatedAt: time.Now()}
	var chunks []genai.Chunk
	var texts []string
	for i := range 300 { // more than one batch
		c := genai.Chunk{ID: fmt.Sprintf("c%03d", i), Index: i, Headings: []string{"Part"}, Text: fmt.Sprintf("animal number%d", i)}
		chunks, texts = append(chunks, c), append(texts, c.EmbeddingText())
	}
	vecs, _ := oldE.Embed(ctx, texts)
	if err := db.PutDocument(ctx, doc, chunks, vecs); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err := OpenForReembed(ctx, path, Options{Space: newE.space})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := searchChunks(ctx, db, genai.ChunkRanking{Vector: make([]float32, 16), N: 1}); genai.ErrorCode(err) != genai.EUNAVAILABLE {
		t.Errorf("vector search before Reembed: %v, want EUNAVAILABLE", err)
	}
	if err := db.Reembed(ctx, newE, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openTest(t, path, newE.space)
	defer db.Close()
	q, _ := newE.Embed(ctx, []string{texts[123]})
	hits, err := searchChunks(ctx, db, genai.ChunkRanking{Vector: q[0], N: 1})
	if err != nil || len(hits) != 1 || hits[0].ID != "c123" {
		t.Errorf("vector search in the new space = %+v, %v; want c123", hits, err)
	}
	if n := db.chunks.vec.Load().len(); n != 300 {
		t.Errorf("%d chunk vectors in memory after Reembed, want 300", n)
	}
}
