package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"genai"
)

func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	u, _ := normalize(v)
	return u
}

// TestANN checks the move from exact search to the HNSW graph past the threshold, the
// graph saved at Close and loaded at Open, and a rebuild when the saved graph is stale.
func TestANN(t *testing.T) {
	ctx := context.Background()
	space := genai.EmbeddingSpace{Model: "test", Dimensions: 16}
	path := filepath.Join(t.TempDir(), "notes.db")
	opts := Options{Space: space, ExactThreshold: 100}
	db, err := Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var notes []genai.Note
	var vecs [][]float32
	for i := range 300 {
		notes = append(notes, genai.Note{ID: fmt.Sprintf("n%03d", i), Title: "t", Text: "x"})
		vecs = append(vecs, randomUnit(r, 16))
	}
	for i := 0; i < len(notes); i += 50 {
		if err := db.PutNotes(ctx, notes[i:i+50], vecs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	if db.notes.vec.Load().ann.Load() == nil {
		t.Fatal("300 notes past a threshold of 100 are not in the HNSW graph")
	}
	if err := db.DeleteNote(ctx, "n007"); err != nil {
		t.Fatal(err)
	}
	checkSelf := func(db *DB, what string) {
		t.Helper()
		for i, v := range vecs {
			hits, err := db.SearchNotes(ctx, genai.NoteSearch{Query: "q", Mode: genai.SearchSemantic, K: 1}, v)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case i == 7 && len(hits) > 0 && hits[0].ID == "n007":
				t.Errorf("%s: the deleted note is found", what)
			case i != 7 && (len(hits) != 1 || hits[0].ID != notes[i].ID):
				t.Errorf("%s: search by the vector of %s = %v", what, notes[i].ID, hits)
			}
		}
	}
	checkSelf(db, "after the move")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".hnsw"); err != nil {
		t.Fatalf("Close saved no graph: %v", err)
	}

	db, err = Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if db.loadANN(ctx, &db.notes, 299) == nil {
		t.Error("the graph saved at Close does not load")
	}
	checkSelf(db, "after reopening")
	if err := db.PutNotes(ctx, notes[7:8], vecs[7:8]); err != nil {
		t.Fatal(err)
	}
	// Close the connections without saving, as kill -9 would.
	db.reader.Close()
	db.writer.Close()

	db, err = Open(ctx, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.loadANN(ctx, &db.notes, 300) != nil {
		t.Error("a stale saved graph loads")
	}
	if n := db.notes.vec.Load().len(); n != 300 {
		t.Errorf("rebuilt graph has %d vectors, want 300", n)
	}
	hits, err := db.SearchNotes(ctx, genai.NoteSearch{Query: "q", Mode: genai.SearchSemantic, K: 1}, vecs[7])
	if err != nil || len(hits) != 1 || hits[0].ID != "n007" {
		t.Errorf("search for the note written after the save = %v, %v", hits, err)
	}
}
