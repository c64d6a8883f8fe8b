package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"genai"
)

// The chunk crash test's child ingests documents, and now and then a new version of
// an earlier one, until it is killed.
const (
	chunkCrashChildEnv = "GENAI_SQLITE_CHUNK_CRASH_CHILD" // the database path
	crashDocs          = 2000
)

// crashOp is one PutDocument of the child: version v of document doc.
type crashOp struct{ doc, v int }

// crashOps returns the child's PutDocument calls in order: every document once, and
// after every fifth a second version of the one three before.
func crashOps() []crashOp {
	var ops []crashOp
	for i := range crashDocs {
		ops = append(ops, crashOp{i, 0})
		if i%5 == 4 {
			ops = append(ops, crashOp{i - 3, 1})
		}
	}
	return ops
}

// crashDocument returns version v of document i: 20 chunks in the first version and
// 13 in the second, with chunk IDs and texts of their version.
func crashDocument(i, v int) (genai.Document, []genai.Chunk, [][]float32) {
	id := fmt.Sprintf("doc%04d", i)
	n := 20
	if v > 0 {
		n = 13
	}
	r := rand.New(rand.NewPCG(uint64(i), uint64(v)))
	doc := genai.Document{
		ID: id, Title: fmt.Sprintf("Crash document %d version %d", i, v), URI: "file:///crash/" + id + ".txt",
		Hash: fmt.Sprintf("%064x", i*10+v), Format: "text", Bytes: int64(n * 100),
		CreatedAt: time.UnixMilli(1_700_000_000_000 + int64(i)).UTC(),
	}
	chunks := make([]genai.Chunk, n)
	vecs := make([][]float32, n)
	for c := range chunks {
		cid := fmt.Sprintf("%sv%dc%02d", id, v, c)
		chunks[c] = genai.Chunk{
			ID: cid, DocumentID: id, Index: c, Headings: []string{"Crash", fmt.Sprint(v)},
			Text: strings.Repeat("ingested passage ", 8) + "token" + cid,
		}
		vecs[c] = randomUnit(r, crashDim)
	}
	return doc, chunks, vecs
}

func chunkCrashChild(path string) error {
	db, err := Open(context.Background(), path, Options{Space: crashSpace})
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for _, op := range crashOps() {
		doc, chunks, vecs := crashDocument(op.doc, op.v)
		if err := db.PutDocument(context.Background(), doc, chunks, vecs); err != nil {
			return err
		}
		fmt.Fprintln(out, "ack", doc.ID)
		out.Flush()
	}
	fmt.Fprintln(out, "done")
	out.Flush()
	return db.Close()
}

// TestCrashDuringIngestion kills (SIGKILL) a child process that ingests documents of
// 20 chunks, and replaces some, at several points, and checks that the store opens
// intact: every acknowledged document there with exactly the chunks of its last
// acknowledged version (or of the version in flight), and no chunk, vector or FTS row
// without its document or chunk.
func TestCrashDuringIngestion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	killPoints := []int{1, 13, 42, 120}
	if raceEnabled {
		killPoints = []int{1, 13, 30}
	}
	for _, killAfter := range killPoints {
		t.Run(fmt.Sprintf("after%dDocuments", killAfter), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "genai.db")
			acked := runAndKill(t, chunkCrashChildEnv, path, killAfter)
			checkChunksAfterCrash(t, path, len(acked))
		})
	}
}

func checkChunksAfterCrash(t *testing.T, path string, acked int) {
	ctx := context.Background()
	db, err := Open(ctx, path, Options{Space: crashSpace})
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	defer db.Close()
	var check string
	if err := db.writer.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("FTS5 integrity-check: %v", err)
	}
	var fkProblems int
	if err := db.writer.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fkProblems); err != nil || fkProblems != 0 {
		t.Errorf("foreign_key_check: %d problems, %v", fkProblems, err)
	}
	var docs, chunks, vectors, fts, orphanChunks, orphanVectors, bareChunks, orphanFTS, bareFTS, miscounted int
	err = db.writer.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM documents), (SELECT count(*) FROM chunks), (SELECT count(*) FROM chunk_vectors), (SELECT count(*) FROM chunks_fts),
		(SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)),
		(SELECT count(*) FROM chunk_vectors WHERE chunk_rowid NOT IN (SELECT rowid FROM chunks)),
		(SELECT count(*) FROM chunks WHERE rowid NOT IN (SELECT chunk_rowid FROM chunk_vectors)),
		(SELECT count(*) FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)),
		(SELECT count(*) FROM chunks WHERE rowid NOT IN (SELECT rowid FROM chunks_fts)),
		(SELECT count(*) FROM documents d WHERE chunks != (SELECT count(*) FROM chunks WHERE document_id = d.id))`).
		Scan(&docs, &chunks, &vectors, &fts, &orphanChunks, &orphanVectors, &bareChunks, &orphanFTS, &bareFTS, &miscounted)
	if err != nil {
		t.Fatal(err)
	}
	if chunks != vectors || chunks != fts || orphanChunks+orphanVectors+bareChunks+orphanFTS+bareFTS+miscounted != 0 {
		t.Errorf("half-written: %d chunks, %d vectors, %d FTS rows; %d chunks without a document, %d vectors without a chunk, "+
			"%d chunks without a vector, %d FTS rows without a chunk, %d chunks without an FTS row, %d documents with a wrong chunk count",
			chunks, vectors, fts, orphanChunks, orphanVectors, bareChunks, orphanFTS, bareFTS, miscounted)
	}
	if n := db.chunks.vec.Load().len(); n != chunks {
		t.Errorf("%d chunk vectors in memory, %d chunks", n, chunks)
	}

	// The store holds the acknowledged operations, and perhaps the one in flight.
	ops := crashOps()
	state := func(n int) map[int]int {
		m := map[int]int{}
		for _, op := range ops[:min(n, len(ops))] {
			m[op.doc] = op.v
		}
		return m
	}
	sure, maybe := state(acked), state(acked+1)
	if docs != len(sure) && docs != len(maybe) {
		t.Errorf("the store has %d documents; %d or %d were put", docs, len(sure), len(maybe))
	}
	for i := range maybe {
		doc, err := db.GetDocument(ctx, fmt.Sprintf("doc%04d", i))
		if err != nil {
			if _, acked := sure[i]; acked {
				t.Fatalf("GetDocument of an acknowledged document: %v", err)
			}
			continue
		}
		want := []int{sure[i]}
		if _, ok := sure[i]; !ok || maybe[i] != sure[i] {
			want = []int{maybe[i], sure[i]}
		}
		var v int
		fmt.Sscanf(doc.Title, "Crash document %d version %d", new(int), &v)
		if !slices.Contains(want, v) {
			t.Fatalf("document %d is at version %d, want %v", i, v, want)
		}
		wantDoc, wantChunks, vecs := crashDocument(i, v)
		wantDoc.Chunks = len(wantChunks)
		if doc.ID != wantDoc.ID || doc.Title != wantDoc.Title || doc.URI != wantDoc.URI || doc.Chunks != wantDoc.Chunks || !doc.CreatedAt.Equal(wantDoc.CreatedAt) {
			t.Fatalf("GetDocument = %+v, want %+v", doc, wantDoc)
		}
		hits, err := searchChunks(ctx, db, genai.ChunkRanking{Text: "ingested passage", N: 100, DocumentID: doc.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.ID)
		}
		slices.Sort(got)
		var wantIDs []string
		for _, c := range wantChunks {
			wantIDs = append(wantIDs, c.ID)
		}
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("chunks of %s = %v, want %v", doc.ID, got, wantIDs)
		}
		if raceEnabled && i%10 != 0 {
			continue
		}
		c := wantChunks[i%len(wantChunks)]
		hits, err = searchChunks(ctx, db, genai.ChunkRanking{Text: "token" + c.ID, N: 1})
		if err != nil || len(hits) != 1 || hits[0].ID != c.ID {
			t.Fatalf("bm25 search for chunk %s = %+v, %v", c.ID, hits, err)
		}
		hits, err = searchChunks(ctx, db, genai.ChunkRanking{Vector: vecs[i%len(wantChunks)], N: 1})
		if err != nil || len(hits) != 1 || hits[0].ID != c.ID {
			t.Fatalf("vector search for chunk %s = %+v, %v", c.ID, hits, err)
		}
	}
}
