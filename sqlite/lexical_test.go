package sqlite

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"genai"
	"genai/storetest"
)

// The in-memory BM25 scores as FTS5's bm25() over chunks_fts did: same scores, same
// order, for words both stemmers agree on, with column weights and a document filter.
func TestChunkBM25ScoresAsFTS5(t *testing.T) {
	ctx := context.Background()
	opts := Options{Space: storetest.Space, ChunkBM25Weights: [3]float64{2, 1.5, 1}}
	db, err := Open(ctx, filepath.Join(t.TempDir(), "genai.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vocab := strings.Fields("aspirin cancer risk heart cholesterol statin trial dose blood vitamin bone sleep memory tumour cell gene")
	r := rand.New(rand.NewPCG(4, 4))
	text := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[r.IntN(len(vocab))]
		}
		return strings.Join(w, " ")
	}
	for d := range 30 {
		id := fmt.Sprintf("doc%d", d)
		chunks := make([]genai.Chunk, 4)
		vecs := make([][]float32, len(chunks))
		for c := range chunks {
			chunks[c] = genai.Chunk{ID: fmt.Sprintf("%s-%d", id, c), Index: c, Headings: []string{text(2)}, Text: text(5 + r.IntN(40))}
			vecs[c] = storetest.Vec(1)
		}
		if err := db.PutDocument(ctx, genai.Document{ID: id, Title: text(3), CreatedAt: time.Now()}, chunks, vecs); err != nil {
			t.Fatal(err)
		}
	}
	// Replaced and deleted documents leave the statistics as FTS5 keeps them.
	if err := db.PutDocument(ctx, genai.Document{ID: "doc3", Title: "heart", CreatedAt: time.Now()}, []genai.Chunk{{ID: "doc3-new", Text: "heart heart trial"}}, [][]float32{storetest.Vec(1)}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteDocument(ctx, "doc7"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"aspirin", "heart trial", "the cancer of the cell", "Cholesterol, statin; dose!", "gene sleep memory bone"} {
		for _, doc := range []string{"", "doc5"} {
			got, err := searchChunks(ctx, db, genai.ChunkRanking{Text: q, N: 200, DocumentID: doc})
			if err != nil {
				t.Fatal(err)
			}
			want := fts5BM25(t, db, q, doc)
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("%q in %q: %d hits, FTS5 %d", q, doc, len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].id || math.Abs(got[i].Score-want[i].score) > 1e-4*math.Abs(want[i].score) {
					t.Fatalf("%q in %q: hit %d is %s %.6f, FTS5 %s %.6f", q, doc, i, got[i].ID, got[i].Score, want[i].id, want[i].score)
				}
			}
		}
	}
}

type ftsHit struct {
	id    string
	score float64
}

// fts5BM25 ranks by FTS5's own bm25() with the store's weights, as the store did
// before its in-memory index.
func fts5BM25(t *testing.T, db *DB, query, documentID string) []ftsHit {
	var terms []string
	for _, w := range strings.FieldsFunc(strings.ToLower(query), func(r rune) bool { return r < 'a' || r > 'z' }) {
		if !englishStopWords[w] {
			terms = append(terms, `"`+w+`"`)
		}
	}
	w := db.opts.ChunkBM25Weights
	q := fmt.Sprintf(`SELECT c.id, -bm25(chunks_fts, %g, %g, %g) AS score FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
		WHERE chunks_fts MATCH ? AND (? = '' OR c.document_id = ?) ORDER BY score DESC, c.rowid`, w[0], w[1], w[2])
	rows, err := db.reader.QueryContext(context.Background(), q, strings.Join(terms, " OR "), documentID, documentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []ftsHit
	for rows.Next() {
		var h ftsHit
		if err := rows.Scan(&h.id, &h.score); err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
	return out
}

// Once deleted chunks outnumber the live ones the index drops them; searches find
// the same live chunks before and after.
func TestChunkBM25AfterManyDeletes(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "genai.db"), storetest.Space)
	defer db.Close()
	put := func(id, text string, n int) {
		chunks := make([]genai.Chunk, n)
		vecs := make([][]float32, n)
		for i := range chunks {
			chunks[i] = genai.Chunk{ID: fmt.Sprintf("%s-%d", id, i), Index: i, Text: text}
			vecs[i] = storetest.Vec(1)
		}
		if err := db.PutDocument(ctx, genai.Document{ID: id, Title: id, CreatedAt: time.Now()}, chunks, vecs); err != nil {
			t.Fatal(err)
		}
	}
	put("keep", "zebra stripes and horses", 3)
	for i := range 6 {
		put(fmt.Sprintf("churn%d", i), "horses in the meadow", 500)
	}
	for i := range 6 {
		if err := db.DeleteDocument(ctx, fmt.Sprintf("churn%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Compacted when 2,000 were dead beside 1,003 live; 1,000 died since.
	if x := db.lexical(); x.live != 3 || len(x.rowids) != 1003 || x.dead != 1000 {
		t.Errorf("after deleting 3,000 of 3,003 chunks the index keeps %d slots, %d live, %d dead; want 1003, 3, 1000", len(x.rowids), x.live, x.dead)
	}
	put("late", "horses and zebra", 1)
	hits, err := searchChunks(ctx, db, genai.ChunkRanking{Text: "horses zebra", N: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.ID)
	}
	if got := strings.Join(ids, " "); got != "late-0 keep-0 keep-1 keep-2" {
		t.Errorf("hits %s, want late-0 and the three chunks of keep", got)
	}
}

// A search's ranking loads nothing; LoadChunks loads the hits kept, in order, with
// their scores, leaving out a chunk deleted meanwhile.
func TestRankThenLoadChunks(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "genai.db"), storetest.Space)
	defer db.Close()
	for i, text := range []string{"aspirin and cancer", "aspirin aspirin dose", "vitamin d"} {
		id := fmt.Sprintf("d%d", i)
		if err := db.PutDocument(ctx, genai.Document{ID: id, Title: "T" + id, URI: "file:" + id, CreatedAt: time.Now()},
			[]genai.Chunk{{ID: id + "-0", Headings: []string{"H"}, Text: text}}, [][]float32{storetest.Vec(float64(i+1), 1)}); err != nil {
			t.Fatal(err)
		}
	}
	ranked, err := db.RankChunks(ctx, genai.ChunkRanking{Text: "aspirin", N: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ranked) != 2 || ranked[0].ID != "d1-0" || ranked[0].DocumentID != "d1" || ranked[0].Text != "" || ranked[0].Score <= ranked[1].Score {
		t.Fatalf("ranked %+v; want d1-0 then d0-0, IDs and scores only", ranked)
	}
	vec, err := db.RankChunks(ctx, genai.ChunkRanking{Vector: storetest.Vec(3, 1), N: 1})
	if err != nil || len(vec) != 1 || vec[0].ID != "d2-0" || vec[0].DocumentID != "d2" {
		t.Fatalf("vector ranked %+v, %v; want d2-0", vec, err)
	}
	if err := db.DeleteDocument(ctx, "d0"); err != nil {
		t.Fatal(err)
	}
	full, err := db.LoadChunks(ctx, ranked)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != 1 || full[0].ID != "d1-0" || full[0].Text != "aspirin aspirin dose" || full[0].Title != "Td1" ||
		full[0].URI != "file:d1" || len(full[0].Headings) != 1 || full[0].Score != ranked[0].Score {
		t.Errorf("loaded %+v; want d1-0 in full with its score, d0-0 left out", full)
	}
}

// The BM25 index of a store another process writes to (the genai ingest command beside
// a running server) follows its writes, as its vectors do.
func TestChunkBM25SeesAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "genai.db")
	server, cli := openTest(t, path, storetest.Space), openTest(t, path, storetest.Space)
	defer server.Close()
	defer cli.Close()
	search := func() []genai.ChunkHit {
		hits, err := searchChunks(ctx, server, genai.ChunkRanking{Text: "zebra", N: 5})
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	search()
	if err := cli.PutDocument(ctx, genai.Document{ID: "d", Title: "Animals", CreatedAt: time.Now()}, []genai.Chunk{{ID: "c", Text: "a zebra"}}, [][]float32{storetest.Vec(1)}); err != nil {
		t.Fatal(err)
	}
	if hits := search(); len(hits) != 1 || hits[0].ID != "c" {
		t.Fatalf("the server does not find the command's chunk: %+v", hits)
	}
	if err := cli.DeleteDocument(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if hits := search(); len(hits) != 0 {
		t.Errorf("the server still finds the chunk the command deleted: %+v", hits)
	}
}
