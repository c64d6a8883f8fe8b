// Package storetest is the conformance suite of genai.NoteStore: one set of tests that
// every store (sqlite, opensearch, …) runs against itself, so that they all keep the
// same contract.
//
// A store's test calls TestNoteStore with a function that opens a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.TestNoteStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.NoteStore {
//			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "notes.db"), sqlite.Options{Space: space})
//			…
//		})
//	}
package storetest

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
)

// Space is the embedding space the suite opens stores in: small hand-made vectors.
var Space = genai.EmbeddingSpace{Model: "storetest:hand", Dimensions: Dim}

// Dim is the number of dimensions of the suite's vectors.
const Dim = 8

// TestNoteStore runs the conformance suite of genai.NoteStore as subtests of t. Each
// call of open must return a fresh, empty store in the given space; the suite closes it.
func TestNoteStore(t *testing.T, open func(t *testing.T, space genai.EmbeddingSpace) genai.NoteStore) {
	runSuite(t, open, []suiteTest[genai.NoteStore]{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"PutReplaces", testPutReplaces},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"ListPaging", testListPaging},
		{"SemanticRanking", testSemanticRanking},
		{"TitleSearch", testTitleSearch},
		{"HybridSearch", testHybridSearch},
		{"SearchK", testSearchK},
		{"EmptyStore", testEmptyStore},
		{"QueryIsText", testQueryIsText},
		{"InvalidInput", testInvalidInput},
		{"Concurrency", testConcurrency},
	})
}

// suiteTest is one test of a conformance suite, run on a fresh store.
type suiteTest[S any] struct {
	name string
	run  func(t *testing.T, s S)
}

// runSuite runs each test as a subtest of t on a fresh store from open, which it
// closes after the test when the store has a Close method (io.Closer).
func runSuite[S any](t *testing.T, open func(t *testing.T, space genai.EmbeddingSpace) S, tests []suiteTest[S]) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, Space)
			if c, ok := any(s).(io.Closer); ok {
				t.Cleanup(func() {
					if err := c.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
			}
			tt.run(t, s)
		})
	}
}

// Vec returns the unit vector of Dim floats pointing along x (normalised; x need not
// have Dim entries, missing ones are zero).
func Vec(x ...float64) []float32 {
	v := make([]float32, Dim)
	var sum float64
	for i, f := range x {
		sum += f * f
		v[i] = float32(f)
	}
	norm := float32(math.Sqrt(sum))
	for i := range v {
		v[i] /= norm
	}
	return v
}

// axis returns the unit vector along dimension i.
func axis(i int) []float32 {
	v := make([]float32, Dim)
	v[i%Dim] = 1
	return v
}

// at returns a fixed UTC time plus n minutes and 123 ms, so that milliseconds matter.
func at(n int) time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 123_000_000, time.UTC).Add(time.Duration(n) * time.Minute)
}

func note(id, title, text string, n int) genai.Note {
	return genai.Note{ID: id, Title: title, Link: "https://example.com/" + id, Text: text, CreatedAt: at(n)}
}

func put(t *testing.T, s genai.NoteStore, notes []genai.Note, vectors [][]float32) {
	t.Helper()
	if err := s.PutNotes(context.Background(), notes, vectors); err != nil {
		t.Fatalf("PutNotes: %v", err)
	}
}

func search(t *testing.T, s genai.NoteStore, mode genai.SearchMode, query string, k int, vector []float32) []genai.NoteHit {
	t.Helper()
	hits, err := s.SearchNotes(context.Background(), genai.NoteSearch{Query: query, Mode: mode, K: k}, vector)
	if err != nil {
		t.Fatalf("SearchNotes(%s %q k=%d): %v", mode, query, k, err)
	}
	return hits
}

func ids(hits []genai.NoteHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// sameNote reports whether two notes are equal, comparing times as instants.
func sameNote(a, b genai.Note) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Link == b.Link && a.Text == b.Text && a.CreatedAt.Equal(b.CreatedAt)
}

func checkNote(t *testing.T, what string, got, want genai.Note) {
	t.Helper()
	if !sameNote(got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := genai.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func testPutGetRoundTrip(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	want := genai.Note{
		ID:        "note-utf8",
		Title:     "Café ☕ and 日本語 🚀",
		Link:      "https://example.com/a?b=c&d=é#frag",
		Text:      "Ünïcödé text with emoji 🎉👩‍💻, tabs\tand\nnew lines, quotes \" ' and a NUL-free ∑ line.",
		CreatedAt: time.Date(2024, 2, 29, 23, 59, 58, 987_000_000, time.UTC),
	}
	plain := note("note-plain", "Plain", "plain text", 1)
	put(t, s, []genai.Note{want, plain}, [][]float32{axis(0), axis(1)})
	got, err := s.GetNote(ctx, want.ID)
	if err != nil {
		t.Fatalf("GetNote: %v", err)
	}
	checkNote(t, "GetNote", *got, want)
	if got.CreatedAt.UnixMilli() != want.CreatedAt.UnixMilli() {
		t.Errorf("created_at = %v, want %v to the millisecond", got.CreatedAt, want.CreatedAt)
	}
	got, err = s.GetNote(ctx, plain.ID)
	if err != nil {
		t.Fatalf("GetNote: %v", err)
	}
	checkNote(t, "GetNote", *got, plain)

	// Hits carry the whole note.
	hits := search(t, s, genai.SearchSemantic, "anything", 1, axis(0))
	if len(hits) != 1 {
		t.Fatalf("semantic hits = %v, want 1", ids(hits))
	}
	checkNote(t, "semantic hit", hits[0].Note, want)
	hits = search(t, s, genai.SearchTitle, "plain", 5, nil)
	if len(hits) != 1 {
		t.Fatalf("title hits = %v, want [note-plain]", ids(hits))
	}
	checkNote(t, "title hit", hits[0].Note, plain)
}

func testPutReplaces(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	old := note("n1", "Walrus migration", "old text", 1)
	other := note("n2", "Other", "other text", 2)
	put(t, s, []genai.Note{old, other}, [][]float32{axis(0), axis(1)})
	repl := note("n1", "Penguin colonies", "new text", 3)
	put(t, s, []genai.Note{repl}, [][]float32{axis(2)})

	got, err := s.GetNote(ctx, "n1")
	if err != nil {
		t.Fatalf("GetNote: %v", err)
	}
	checkNote(t, "GetNote after replace", *got, repl)
	if hits := search(t, s, genai.SearchTitle, "walrus", 5, nil); len(hits) != 0 {
		t.Errorf("title search for the old title found %v, want nothing", ids(hits))
	}
	if hits := search(t, s, genai.SearchTitle, "penguin", 5, nil); len(hits) != 1 || hits[0].ID != "n1" {
		t.Errorf("title search for the new title found %v, want [n1]", ids(hits))
	}
	hits := search(t, s, genai.SearchSemantic, "q", 5, axis(2))
	if len(hits) == 0 || hits[0].ID != "n1" {
		t.Errorf("semantic search by the new vector = %v, want n1 first", ids(hits))
	}
	if n := strings.Count(strings.Join(ids(hits), ","), "n1"); n != 1 {
		t.Errorf("semantic hits %v hold n1 %d times, want once", ids(hits), n)
	}
	notes, _, err := s.ListNotes(ctx, 10, "")
	if err != nil {
		t.Fatalf("ListNotes: %v", err)
	}
	if len(notes) != 2 {
		t.Errorf("ListNotes after replace = %d notes, want 2", len(notes))
	}
}

func testNotFound(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	put(t, s, []genai.Note{note("here", "Here", "text", 1)}, [][]float32{axis(0)})
	_, err := s.GetNote(ctx, "missing")
	wantCode(t, "GetNote(missing)", err, genai.ENOTFOUND)
	wantCode(t, "DeleteNote(missing)", s.DeleteNote(ctx, "missing"), genai.ENOTFOUND)
}

func testDelete(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	notes := []genai.Note{
		note("keep1", "Otter facts", "otters hold hands", 1),
		note("gone", "Otter habitats", "rivers and coasts", 2),
		note("keep2", "Beaver dams", "beavers build", 3),
	}
	put(t, s, notes, [][]float32{axis(0), axis(1), axis(2)})
	if err := s.DeleteNote(ctx, "gone"); err != nil {
		t.Fatalf("DeleteNote: %v", err)
	}
	_, err := s.GetNote(ctx, "gone")
	wantCode(t, "GetNote after delete", err, genai.ENOTFOUND)
	wantCode(t, "second DeleteNote", s.DeleteNote(ctx, "gone"), genai.ENOTFOUND)
	list, _, err := s.ListNotes(ctx, 10, "")
	if err != nil {
		t.Fatalf("ListNotes: %v", err)
	}
	for _, n := range list {
		if n.ID == "gone" {
			t.Errorf("ListNotes still returns the deleted note")
		}
	}
	if len(list) != 2 {
		t.Errorf("ListNotes = %d notes, want 2", len(list))
	}
	for _, mode := range []genai.SearchMode{genai.SearchSemantic, genai.SearchTitle, genai.SearchHybrid} {
		var v []float32
		if mode != genai.SearchTitle {
			v = axis(1)
		}
		hits := search(t, s, mode, "otter habitats", 10, v)
		if slices.Contains(ids(hits), "gone") {
			t.Errorf("%s search still finds the deleted note: %v", mode, ids(hits))
		}
		if len(hits) == 0 {
			t.Errorf("%s search found nothing, want the remaining notes", mode)
		}
	}
}

func testListPaging(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	var notes []genai.Note
	var vectors [][]float32
	for i := range 23 {
		n := note(fmt.Sprintf("p%02d", i), fmt.Sprintf("Page note %d", i), "text", i)
		if i >= 20 { // three notes of the same instant: ties must page correctly too
			n.CreatedAt = at(19)
		}
		notes = append(notes, n)
		vectors = append(vectors, axis(i))
	}
	// Insertion order is not time order.
	put(t, s, notes[10:], vectors[10:])
	put(t, s, notes[:10], vectors[:10])

	seen := map[string]int{}
	var all []genai.Note
	cursor := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatalf("paging did not end after %d pages", page)
		}
		got, next, err := s.ListNotes(ctx, 5, cursor)
		if err != nil {
			t.Fatalf("ListNotes(5, %q): %v", cursor, err)
		}
		if len(got) > 5 {
			t.Fatalf("ListNotes(5) returned %d notes", len(got))
		}
		for _, n := range got {
			seen[n.ID]++
		}
		all = append(all, got...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != len(notes) {
		t.Errorf("paging visited %d notes, want %d", len(all), len(notes))
	}
	for _, n := range notes {
		if seen[n.ID] != 1 {
			t.Errorf("paging visited %s %d times, want once", n.ID, seen[n.ID])
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Errorf("ListNotes not newest first: %s (%v) after %s (%v)", all[i].ID, all[i].CreatedAt, all[i-1].ID, all[i-1].CreatedAt)
		}
	}
	if len(all) > 0 && all[len(all)-1].ID != "p00" {
		t.Errorf("oldest note last = %s, want p00", all[len(all)-1].ID)
	}
	byID := map[string]genai.Note{}
	for _, n := range notes {
		byID[n.ID] = n
	}
	for _, n := range all {
		checkNote(t, "listed note", n, byID[n.ID])
	}

	got, next, err := s.ListNotes(ctx, 100, "")
	if err != nil {
		t.Fatalf("ListNotes(100): %v", err)
	}
	if len(got) != len(notes) || next != "" {
		t.Errorf("ListNotes(100) = %d notes, cursor %q; want %d and \"\"", len(got), next, len(notes))
	}
}

func testSemanticRanking(t *testing.T, s genai.NoteStore) {
	// Cosine similarity with the query axis(0): 1, 0.8, 0.6, 0, -0.6.
	notes := []genai.Note{
		note("c60", "a", "x", 1), note("c100", "b", "x", 2), note("cneg", "c", "x", 3),
		note("c0", "d", "x", 4), note("c80", "e", "x", 5),
	}
	vectors := [][]float32{Vec(0.6, 0.8), Vec(1), Vec(-0.6, 0, 0.8), Vec(0, 0, 0, 1), Vec(0.8, 0, 0, 0, 0.6)}
	put(t, s, notes, vectors)
	hits := search(t, s, genai.SearchSemantic, "query text", 5, axis(0))
	want := []string{"c100", "c80", "c60", "c0", "cneg"}
	if !slices.Equal(ids(hits), want) {
		t.Fatalf("semantic ranking = %v, want %v", ids(hits), want)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score >= hits[i-1].Score {
			t.Errorf("scores not descending: %s %v then %s %v", hits[i-1].ID, hits[i-1].Score, hits[i].ID, hits[i].Score)
		}
	}
	// A query between two notes finds the nearer one first.
	hits = search(t, s, genai.SearchSemantic, "query text", 2, Vec(0.5, 0.9))
	if got := ids(hits); !slices.Equal(got, []string{"c60", "c80"}) && !slices.Equal(got, []string{"c60", "c100"}) {
		t.Errorf("semantic search near c60 = %v, want c60 first", got)
	}
}

func testTitleSearch(t *testing.T, s genai.NoteStore) {
	notes := []genai.Note{
		note("t1", "Concurrency patterns in Go", "goroutines and channels", 1),
		note("t2", "Cooking pasta", "concurrency is not mentioned in this title", 2),
		note("t3", "Go modules explained", "versions and proxies", 3),
		note("t4", "Sourdough starter", "flour water patience", 4),
	}
	put(t, s, notes, [][]float32{axis(0), axis(1), axis(2), axis(3)})
	hits := search(t, s, genai.SearchTitle, "concurrency", 5, nil)
	if !slices.Equal(ids(hits), []string{"t1"}) {
		t.Errorf("title search %q = %v, want [t1] (a word only in the text must not match)", "concurrency", ids(hits))
	}
	hits = search(t, s, genai.SearchTitle, "Sourdough", 5, nil)
	if !slices.Equal(ids(hits), []string{"t4"}) {
		t.Errorf("title search %q = %v, want [t4]", "Sourdough", ids(hits))
	}
	// Words are OR-ed: a note with more of them ranks first.
	hits = search(t, s, genai.SearchTitle, "go patterns", 5, nil)
	if len(hits) != 2 || hits[0].ID != "t1" || hits[1].ID != "t3" {
		t.Errorf("title search %q = %v, want [t1 t3]", "go patterns", ids(hits))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("title scores not descending: %v then %v", hits[i-1].Score, hits[i].Score)
		}
	}
	if hits := search(t, s, genai.SearchTitle, "nothingmatchesthis", 5, nil); len(hits) != 0 {
		t.Errorf("title search for an unknown word = %v, want nothing", ids(hits))
	}
}

func testHybridSearch(t *testing.T, s genai.NoteStore) {
	q := axis(0)
	notes := []genai.Note{
		note("words", "Zebra stripes", "pattern on the hide", 1),        // matches by words only
		note("vector", "Savanna animals", "grazing herds", 2),           // matches by vector only
		note("both", "Zebra herds", "a dazzle of zebra", 3),             // matches both
		note("neither1", "Tax returns", "forms and deadlines", 4),       // matches neither
		note("neither2", "Garden hoses", "watering the lawn daily", 5),  // matches neither
		note("neither3", "Piano tuning", "strings and hammers", 6),      // matches neither
		note("neither4", "Bicycle repair", "chains and derailleurs", 7), // matches neither
	}
	vectors := [][]float32{
		Vec(-0.5, 1), // far from q: the last of all by vector
		Vec(1),       // q itself
		Vec(0.95, 0.3),
		Vec(0.2, 0, 1), Vec(0.15, 0, 0, 1), Vec(0.1, 0, 0, 0, 1), Vec(0.05, 0, 0, 0, 0, 1),
	}
	put(t, s, notes, vectors)
	hits := search(t, s, genai.SearchHybrid, "zebra", 3, q)
	got := ids(hits)
	if len(got) != 3 || got[0] != "both" || !slices.Contains(got, "words") || !slices.Contains(got, "vector") {
		t.Errorf("hybrid search = %v, want [both] first, then words and vector", got)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("hybrid scores not descending: %v then %v", hits[i-1].Score, hits[i].Score)
		}
	}
}

func testSearchK(t *testing.T, s genai.NoteStore) {
	var notes []genai.Note
	var vectors [][]float32
	for i := range 12 {
		notes = append(notes, note(fmt.Sprintf("k%02d", i), fmt.Sprintf("Lighthouse %d", i), "keeper", i))
		vectors = append(vectors, Vec(1, float64(i)/4))
	}
	put(t, s, notes, vectors)
	for _, tc := range []struct {
		mode genai.SearchMode
		k    int
	}{{genai.SearchSemantic, 3}, {genai.SearchTitle, 2}, {genai.SearchHybrid, 4}, {genai.SearchSemantic, 1}, {genai.SearchHybrid, 12}} {
		var v []float32
		if tc.mode != genai.SearchTitle {
			v = axis(0)
		}
		hits := search(t, s, tc.mode, "lighthouse", tc.k, v)
		if len(hits) != tc.k {
			t.Errorf("%s search k=%d returned %d hits", tc.mode, tc.k, len(hits))
		}
		seen := map[string]bool{}
		for _, h := range hits {
			if seen[h.ID] {
				t.Errorf("%s search k=%d returned %s twice", tc.mode, tc.k, h.ID)
			}
			seen[h.ID] = true
		}
	}
	if hits := search(t, s, genai.SearchSemantic, "x", 3, axis(0)); len(hits) > 0 && hits[0].ID != "k00" {
		t.Errorf("semantic search best = %s, want k00", hits[0].ID)
	}
	// k larger than the store returns everything.
	if hits := search(t, s, genai.SearchSemantic, "x", 100, axis(0)); len(hits) != len(notes) {
		t.Errorf("semantic search k=100 returned %d hits, want %d", len(hits), len(notes))
	}
}

func testEmptyStore(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	for _, mode := range []genai.SearchMode{genai.SearchSemantic, genai.SearchTitle, genai.SearchHybrid} {
		var v []float32
		if mode != genai.SearchTitle {
			v = axis(0)
		}
		if hits := search(t, s, mode, "anything at all", 5, v); len(hits) != 0 {
			t.Errorf("%s search on an empty store = %v", mode, ids(hits))
		}
	}
	notes, next, err := s.ListNotes(ctx, 10, "")
	if err != nil || len(notes) != 0 || next != "" {
		t.Errorf("ListNotes on an empty store = %d notes, %q, %v; want none", len(notes), next, err)
	}
}

// testQueryIsText checks that a query's words are only ever words: no query syntax of
// the underlying engine gets through, and no query fails.
func testQueryIsText(t *testing.T, s genai.NoteStore) {
	put(t, s, []genai.Note{
		note("q1", "AND or NEAR and NOT", "operators as words", 1),
		note("q2", "Quoted \"title\" (with) parens: col*", "x", 2),
	}, [][]float32{axis(0), axis(1)})
	for _, query := range []string{
		`AND (`, `"`, `NEAR`, `NEAR(a b)`, `title:foo`, `a OR`, `*`, `-`, `^x`, `{title}: x`,
		`"unbalanced`, `)(`, `col*`, `'; DROP TABLE notes; --`, `\`, `+ - && || ! ( ) { } [ ] ^ " ~ * ? : \ /`,
	} {
		for _, mode := range []genai.SearchMode{genai.SearchTitle, genai.SearchHybrid} {
			var v []float32
			if mode == genai.SearchHybrid {
				v = axis(0)
			}
			if _, err := s.SearchNotes(context.Background(), genai.NoteSearch{Query: query, Mode: mode, K: 5}, v); err != nil {
				t.Errorf("%s search %q: %v", mode, query, err)
			}
		}
	}
	if hits := search(t, s, genai.SearchTitle, "NEAR", 5, nil); !slices.Contains(ids(hits), "q1") {
		t.Errorf("title search %q = %v, want q1 (the word itself)", "NEAR", ids(hits))
	}
	if hits := search(t, s, genai.SearchTitle, `"title"`, 5, nil); !slices.Contains(ids(hits), "q2") {
		t.Errorf("title search %q = %v, want q2", `"title"`, ids(hits))
	}
}

func testInvalidInput(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	good := note("good", "Good", "good text", 1)
	short := make([]float32, Dim-1)
	short[0] = 1

	err := s.PutNotes(ctx, []genai.Note{good}, [][]float32{short})
	wantCode(t, "PutNotes with a short vector", err, genai.EINVALID)
	if err != nil && !strings.Contains(err.Error(), fmt.Sprint(Dim)) {
		t.Errorf("PutNotes with a short vector: error %q does not name the dimension %d", err, Dim)
	}
	// A bad note in a batch stores none of it.
	err = s.PutNotes(ctx, []genai.Note{good, note("bad", "Bad", "bad", 2)}, [][]float32{axis(0), short})
	wantCode(t, "PutNotes with one short vector", err, genai.EINVALID)
	if _, err := s.GetNote(ctx, "good"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("a rejected batch stored part of itself: GetNote(good) error = %v", err)
	}
	err = s.PutNotes(ctx, []genai.Note{good}, nil)
	wantCode(t, "PutNotes without vectors", err, genai.EINVALID)
	err = s.PutNotes(ctx, []genai.Note{note("", "No ID", "x", 1)}, [][]float32{axis(0)})
	wantCode(t, "PutNotes with an empty ID", err, genai.EINVALID)

	_, err = s.SearchNotes(ctx, genai.NoteSearch{Query: "x", Mode: genai.SearchSemantic, K: 5}, short)
	wantCode(t, "semantic search with a short vector", err, genai.EINVALID)
	if err != nil && !strings.Contains(err.Error(), fmt.Sprint(Dim)) {
		t.Errorf("search with a short vector: error %q does not name the dimension %d", err, Dim)
	}
	_, err = s.SearchNotes(ctx, genai.NoteSearch{Query: "x", Mode: genai.SearchHybrid, K: 5}, make([]float32, Dim+1))
	wantCode(t, "hybrid search with a long vector", err, genai.EINVALID)

	put(t, s, []genai.Note{good}, [][]float32{axis(0)})
	got, err := s.GetNote(ctx, "good")
	if err != nil {
		t.Fatalf("GetNote after the valid put: %v", err)
	}
	checkNote(t, "GetNote", *got, good)
}

// testConcurrency runs 100 goroutines that put, get, search and list at once. Writers
// rewrite their notes in versions whose every field names the version, so a reader
// can tell a torn note (fields of two versions) from a whole one.
func testConcurrency(t *testing.T, s genai.NoteStore) {
	ctx := context.Background()
	const (
		workers  = 100
		writers  = 40
		versions = 3
		perBatch = 2
	)
	version := func(w, i, v int) genai.Note {
		id := fmt.Sprintf("w%02d-%d", w, i)
		tag := fmt.Sprintf("%s v%d", id, v)
		return genai.Note{
			ID: id, Title: "Concurrent " + tag, Link: "https://example.com/" + id + "/" + fmt.Sprint(v),
			Text: strings.Repeat(tag+" ", 20), CreatedAt: at(w*10 + v),
		}
	}
	whole := func(n genai.Note) bool {
		var w, i, v int
		if _, err := fmt.Sscanf(n.ID, "w%02d-%d", &w, &i); err != nil {
			return false
		}
		for v = range versions {
			if sameNote(n, version(w, i, v)) {
				return true
			}
		}
		return false
	}
	// Seed one version of every note, so readers find them from the start.
	var seed []genai.Note
	var seedVecs [][]float32
	for w := range writers {
		for i := range perBatch {
			seed = append(seed, version(w, i, 0))
			seedVecs = append(seedVecs, Vec(1, float64(w)/10, float64(i)))
		}
	}
	put(t, s, seed, seedVecs)

	var wg sync.WaitGroup
	errs := make(chan error, workers*versions*4)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g < writers {
				for v := 1; v < versions; v++ {
					var notes []genai.Note
					var vecs [][]float32
					for i := range perBatch {
						notes = append(notes, version(g, i, v))
						vecs = append(vecs, Vec(float64(v), float64(g)/10, float64(i)))
					}
					if err := s.PutNotes(ctx, notes, vecs); err != nil {
						errs <- fmt.Errorf("writer %d: PutNotes: %w", g, err)
						return
					}
				}
				return
			}
			for r := range versions {
				id := fmt.Sprintf("w%02d-%d", (g+r)%writers, r%perBatch)
				n, err := s.GetNote(ctx, id)
				if err != nil {
					errs <- fmt.Errorf("reader %d: GetNote(%s): %w", g, id, err)
				} else if !whole(*n) {
					errs <- fmt.Errorf("reader %d: torn note %+v", g, *n)
				}
				var found []genai.Note
				switch g % 3 {
				case 0:
					hits, err := s.SearchNotes(ctx, genai.NoteSearch{Query: "concurrent", Mode: genai.SearchHybrid, K: 10}, Vec(1, float64(g%writers)/10))
					if err != nil {
						errs <- fmt.Errorf("reader %d: hybrid search: %w", g, err)
					}
					for _, h := range hits {
						found = append(found, h.Note)
					}
				case 1:
					hits, err := s.SearchNotes(ctx, genai.NoteSearch{Query: id, Mode: genai.SearchTitle, K: 5}, nil)
					if err != nil {
						errs <- fmt.Errorf("reader %d: title search: %w", g, err)
					}
					for _, h := range hits {
						found = append(found, h.Note)
					}
				default:
					notes, _, err := s.ListNotes(ctx, 20, "")
					if err != nil {
						errs <- fmt.Errorf("reader %d: ListNotes: %w", g, err)
					}
					found = notes
				}
				for _, n := range found {
					if !whole(n) {
						errs <- fmt.Errorf("reader %d: torn note %+v", g, n)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Nothing lost: every note is at its last version.
	for w := range writers {
		for i := range perBatch {
			want := version(w, i, versions-1)
			got, err := s.GetNote(ctx, want.ID)
			if err != nil {
				t.Errorf("GetNote(%s) after the writers: %v", want.ID, err)
				continue
			}
			checkNote(t, "final note", *got, want)
		}
	}
	all, _, err := s.ListNotes(ctx, writers*perBatch+10, "")
	if err != nil {
		t.Fatalf("ListNotes: %v", err)
	}
	if len(all) != writers*perBatch {
		t.Errorf("ListNotes after the writers = %d notes, want %d", len(all), writers*perBatch)
	}
}
