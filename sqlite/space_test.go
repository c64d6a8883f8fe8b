package sqlite

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"genai"
)

// hashEmbedder makes deterministic unit vectors from the words of a text: each word
// adds to the dimensions its hash picks. Texts sharing words are similar.
type hashEmbedder struct {
	space genai.EmbeddingSpace
	calls int
}

func (e *hashEmbedder) Space() genai.EmbeddingSpace { return e.space }

func (e *hashEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.calls++
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, e.space.Dimensions)
		for _, w := range strings.Fields(strings.ToLower(t)) {
			h := fnv.New64a()
			h.Write([]byte(e.space.Model + w))
			s := h.Sum64()
			v[s%uint64(len(v))] += 1
			v[(s>>20)%uint64(len(v))] += 0.5
		}
		var sum float64
		for _, f := range v {
			sum += float64(f * f)
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(sum))
		}
		out[i] = v
	}
	return out, nil
}

func TestSpaceMismatch(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notes.db")
	oldE := &hashEmbedder{space: genai.EmbeddingSpace{Model: "local:hash-v1", Dimensions: 16}}
	newE := &hashEmbedder{space: genai.EmbeddingSpace{Model: "bedrock:amazon.titan-embed-text-v2:0", Dimensions: 32}}

	db := openTest(t, path, oldE.space)
	svc := genai.NoteService{Store: db, Embedder: oldE}
	var texts = []string{"otters hold hands while sleeping", "beavers build dams on rivers", "penguins huddle in the cold"}
	var added []genai.Note
	for _, text := range texts {
		n, err := svc.Add(ctx, []genai.Note{{Title: strings.Fields(text)[0], Text: text}})
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		added = append(added, n...)
	}
	db.Close()

	_, err := Open(ctx, path, Options{Space: newE.space})
	var mismatch *SpaceMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("Open in another space: error %v, want a *SpaceMismatchError", err)
	}
	for _, want := range []string{oldE.space.String(), newE.space.String(), "genai notes reembed", "GENAI_EMBEDDER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("mismatch error %q does not name %q", err, want)
		}
	}

	db, err = OpenForReembed(ctx, path, Options{Space: newE.space})
	if err != nil {
		t.Fatalf("OpenForReembed: %v", err)
	}
	defer db.Close()
	if _, err := db.SearchNotes(ctx, genai.NoteSearch{Query: "x", Mode: genai.SearchSemantic, K: 3}, make([]float32, 32)); genai.ErrorCode(err) != genai.EUNAVAILABLE {
		t.Errorf("search before Reembed: error %v, want EUNAVAILABLE", err)
	}
	if err := db.PutNotes(ctx, []genai.Note{{ID: "x", Text: "x"}}, [][]float32{make([]float32, 32)}); genai.ErrorCode(err) != genai.EUNAVAILABLE {
		t.Errorf("put before Reembed: error %v, want EUNAVAILABLE", err)
	}
	if _, err := db.GetNote(ctx, added[0].ID); err != nil {
		t.Errorf("GetNote before Reembed: %v", err)
	}
	if err := db.Reembed(ctx, oldE, nil); err == nil {
		t.Errorf("Reembed with an embedder of another space than the store was opened for: no error")
	}
	var calls [][2]int
	if err := db.Reembed(ctx, newE, func(done, total int) { calls = append(calls, [2]int{done, total}) }); err != nil {
		t.Fatalf("Reembed: %v", err)
	}
	if len(calls) == 0 || calls[len(calls)-1] != [2]int{3, 3} {
		t.Errorf("progress calls = %v, want the last to be [3 3]", calls)
	}
	svc = genai.NoteService{Store: db, Embedder: newE}
	hits, err := svc.Search(ctx, genai.NoteSearch{Query: "beavers build dams on rivers", Mode: genai.SearchSemantic, K: 3})
	if err != nil {
		t.Fatalf("Search after Reembed: %v", err)
	}
	if len(hits) != 3 || hits[0].ID != added[1].ID || hits[0].Score < 0.9 {
		t.Errorf("semantic search after Reembed = %+v, want %s first with score about 1", hits, added[1].ID)
	}
	if _, err := svc.Add(ctx, []genai.Note{{Text: "new note after the switch"}}); err != nil {
		t.Errorf("Add after Reembed: %v", err)
	}
	db.Close()

	// The store is now in the new space, and only in it.
	db2 := openTest(t, path, newE.space)
	defer db2.Close()
	if n := db2.notes.vec.Load().len(); n != 4 {
		t.Errorf("vectors after reopening = %d, want 4", n)
	}
	if _, err := Open(ctx, path, Options{Space: oldE.space}); !errors.As(err, &mismatch) {
		t.Errorf("Open in the old space after Reembed: error %v, want a mismatch", err)
	}
}

// TestReembedResumes checks that an interrupted Reembed leaves the store in its old
// space and that the next one completes, re-embedding notes changed meanwhile.
func TestReembedResumes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notes.db")
	oldE := &hashEmbedder{space: genai.EmbeddingSpace{Model: "old", Dimensions: 8}}
	newE := &hashEmbedder{space: genai.EmbeddingSpace{Model: "new", Dimensions: 8}}
	db := openTest(t, path, oldE.space)
	svc := genai.NoteService{Store: db, Embedder: oldE}
	var notes []genai.Note
	for i := range 300 {
		notes = append(notes, genai.Note{Title: "note", Text: "word" + string(rune('a'+i%26)) + " number " + time.Duration(i).String()})
	}
	if _, err := svc.Add(ctx, notes); err != nil {
		t.Fatalf("Add: %v", err)
	}
	db.Close()

	db, err := OpenForReembed(ctx, path, Options{Space: newE.space})
	if err != nil {
		t.Fatalf("OpenForReembed: %v", err)
	}
	failing := &failAfter{Embedder: newE, ok: 1}
	if err := db.Reembed(ctx, failing, nil); err == nil {
		t.Fatal("Reembed with a failing embedder: no error")
	}
	db.Close()
	if _, err := Open(ctx, path, Options{Space: newE.space}); err == nil {
		t.Fatal("an interrupted Reembed switched the space")
	}
	db, err = OpenForReembed(ctx, path, Options{Space: newE.space})
	if err != nil {
		t.Fatalf("OpenForReembed: %v", err)
	}
	defer db.Close()
	var first int
	if err := db.Reembed(ctx, newE, func(done, total int) {
		if first == 0 {
			first = done
		}
	}); err != nil {
		t.Fatalf("Reembed: %v", err)
	}
	if first != reembedBatch {
		t.Errorf("the second Reembed started at %d notes done, want %d (resumed)", first, reembedBatch)
	}
	var n int
	db.writer.QueryRow(`SELECT count(*) FROM vectors`).Scan(&n)
	if n != 300 || db.notes.vec.Load().len() != 300 {
		t.Errorf("vectors after Reembed: %d stored, %d in memory; want 300", n, db.notes.vec.Load().len())
	}
}

type failAfter struct {
	genai.Embedder
	ok int
}

func (f *failAfter) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if f.ok == 0 {
		return nil, errors.New("embedder down")
	}
	f.ok--
	return f.Embedder.Embed(ctx, texts)
}
