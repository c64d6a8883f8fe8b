package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"genai/internal/hnsw"
)

// vectorSet is the in-memory vector search of a store: an exact scan while the store
// has at most threshold vectors, an HNSW graph beyond. Exactly one of the two holds
// the vectors, so they are in memory once. Writers are serialised by DB.mu; searches
// run at any time.
type vectorSet struct {
	dim       int
	threshold int
	exact     atomic.Pointer[vectorIndex] // nil once ann is in use
	ann       atomic.Pointer[hnsw.Index]
}

func newVectorSet(dim, threshold int, exact *vectorIndex) *vectorSet {
	s := &vectorSet{dim: dim, threshold: threshold}
	s.exact.Store(exact)
	return s
}

func (s *vectorSet) len() int {
	if a := s.ann.Load(); a != nil {
		return a.Len()
	}
	return s.exact.Load().len()
}

// put sets the vectors of rows, moving to the HNSW graph when the set outgrows the
// threshold. Callers hold DB.mu.
func (s *vectorSet) put(rowids []int64, vecs [][]float32) error {
	if a := s.ann.Load(); a != nil {
		return a.AddBatch(annIDs(rowids), vecs)
	}
	x := s.exact.Load()
	for i, rowid := range rowids {
		x.put(rowid, vecs[i])
	}
	if x.len() > s.threshold {
		return s.toANN(x)
	}
	return nil
}

// toANN builds the HNSW graph from the exact index's vectors and swaps it in; searches
// keep using the exact index until then.
func (s *vectorSet) toANN(x *vectorIndex) error {
	var ids []uint32
	var vecs [][]float32
	x.each(func(rowid int64, v []float32) {
		ids, vecs = append(ids, uint32(rowid)), append(vecs, v)
	})
	// The exact index is not written meanwhile (callers hold DB.mu), so its vectors
	// can be read without its lock.
	a := hnsw.New(s.dim, hnsw.Options{})
	if err := a.AddBatch(ids, vecs); err != nil {
		return fmt.Errorf("build the vector index: %w", err)
	}
	s.ann.Store(a)
	s.exact.Store(nil)
	return nil
}

func (s *vectorSet) remove(rowid int64) {
	if a := s.ann.Load(); a != nil {
		a.Delete(uint32(rowid))
		return
	}
	s.exact.Load().remove(rowid)
}

// search returns the k rows nearest q, best first: exact below the threshold,
// approximate beyond.
func (s *vectorSet) search(q []float32, k int) []scored {
	if a := s.ann.Load(); a != nil {
		res := a.Search(q, k)
		out := make([]scored, len(res))
		for i, r := range res {
			out[i] = scored{int64(r.ID), r.Score}
		}
		return out
	}
	if x := s.exact.Load(); x != nil {
		return x.search(q, k)
	}
	return s.search(q, k) // swapped between the two loads
}

// annIDs converts row IDs to HNSW IDs; writers refuse rows beyond uint32.
func annIDs(rowids []int64) []uint32 {
	out := make([]uint32, len(rowids))
	for i, r := range rowids {
		out[i] = uint32(r)
	}
	return out
}

// vectorTable is one kind of row with vectors, notes or chunks: the table its vectors
// are stored in, the meta keys of its write count and of its saved graph, and the
// in-memory vectorSet loaded from it. Each kind counts its own writes, so that a write
// of notes neither reloads the chunks' vectors nor outdates their saved graph.
type vectorTable struct {
	name      string // "notes" or "chunks", for messages
	table     string // the table of vectors: (rowCol INTEGER PRIMARY KEY, vector BLOB)
	rowCol    string
	writesKey string // meta key of the write count
	annKey    string // meta key of the write count the saved graph was saved at
	annSuffix string // added to the database's path: the file of the saved graph

	slots     sync.Once
	searching chan struct{} // see DB.searchSlot

	vec   atomic.Pointer[vectorSet]    // replaced whole by loadVectors
	lex   atomic.Pointer[lexicalIndex] // chunks only: their words, replaced whole by loadChunkIndexes
	stems stemCache                    // chunks only: for their lexicalIndex
	seen  atomic.Int64                 // the write count vec (and lex) reflect; see refresh
}

// searchSlots is the number of searches of a kind that run at once: all processors but
// one, so that a write, which spends most of its time in fsync and then needs a
// processor to go on, finds one free. With two searches spinning on two processors,
// one write at a time made 1/4 to 1/7 of its commits a second alone; with one, 3/4.
func searchSlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// searchSlot waits for a slot to search t in (see searchSlots) and returns its
// release, or the context's error when it ends first.
func (db *DB) searchSlot(ctx context.Context, t *vectorTable) (release func(), err error) {
	t.slots.Do(func() { t.searching = make(chan struct{}, searchSlots()) })
	select {
	case t.searching <- struct{}{}:
		return func() { <-t.searching }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sqlite: search %s: %w", t.name, ctx.Err())
	}
}

// loadChunkIndexes loads the in-memory indexes of the chunks: their vectors, then
// their words (the write count is read first, so a write in between reloads both).
func (db *DB) loadChunkIndexes(ctx context.Context) error {
	if err := db.loadVectors(ctx, &db.chunks); err != nil {
		return err
	}
	x, err := db.loadLexical(ctx)
	if err != nil {
		return err
	}
	db.chunks.lex.Store(x)
	return nil
}

// lexical returns the BM25 index of the chunks; empty in a store still to re-embed,
// which searches none.
func (db *DB) lexical() *lexicalIndex {
	if x := db.chunks.lex.Load(); x != nil {
		return x
	}
	x := newLexicalIndex(db.opts.ChunkBM25Weights)
	if db.chunks.lex.CompareAndSwap(nil, x) {
		return x
	}
	return db.chunks.lex.Load()
}

// annPath is the file beside the database where Close saves the HNSW graph of t.
func (db *DB) annPath(t *vectorTable) string { return db.path + t.annSuffix }

// loadANN reads the saved HNSW graph of t if it was saved at t's current write count
// with n vectors of the store's dimension; otherwise it returns nil and the caller
// builds one.
func (db *DB) loadANN(ctx context.Context, t *vectorTable, n int) *hnsw.Index {
	var saved, writes string
	if db.reader.QueryRowContext(ctx, `SELECT (SELECT value FROM meta WHERE key = ?), (SELECT value FROM meta WHERE key = ?)`, t.annKey, t.writesKey).Scan(&saved, &writes) != nil || saved != writes {
		return nil
	}
	f, err := os.Open(db.annPath(t))
	if err != nil {
		return nil
	}
	defer f.Close()
	var a hnsw.Index
	if _, err := a.ReadFrom(bufio.NewReaderSize(f, 1<<20)); err != nil || a.Dim() != db.opts.Space.Dimensions || a.Len() != n {
		return nil
	}
	return &a
}

// saveANN writes the HNSW graph of t beside the database, if one is in use, and
// records the write count it matches. Callers hold DB.mu, so no write happens
// meanwhile.
func (db *DB) saveANN(ctx context.Context, t *vectorTable) error {
	set := t.vec.Load()
	if set == nil {
		return nil
	}
	a := set.ann.Load()
	if a == nil {
		return nil
	}
	tmp := db.annPath(t) + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = a.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, db.annPath(t))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save the vector index of %s: %w", t.name, err)
	}
	var writes int64
	db.writer.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?`, t.writesKey).Scan(&writes)
	_, err = db.writer.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, t.annKey, strconv.FormatInt(writes, 10))
	return err
}

// countWrite is run in every writing transaction with the write-count key of the
// table written, so that a saved graph can be told from a stale one.
const countWrite = `INSERT INTO meta (key, value) VALUES (?, '1')
	ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`

// bumpWrites counts a writing transaction of t and returns the new count.
func bumpWrites(ctx context.Context, tx *sql.Tx, t *vectorTable) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, countWrite+` RETURNING CAST(value AS INTEGER)`, t.writesKey).Scan(&n)
	return n, err
}

// Another process (the genai notes command beside a running server, say) may write to
// the store; its writes reach the in-memory vectors through the write count.
// vectorTable.seen is the count the vectors reflect, or -1 when they are known to be
// behind.

// advance records that this process's write made the count n. Callers hold DB.mu.
func (t *vectorTable) advance(n int64) {
	if !t.seen.CompareAndSwap(n-1, n) {
		t.seen.Store(-1) // another process wrote in between
	}
}

// writeCount reads the write count of t.
func (db *DB) writeCount(ctx context.Context, t *vectorTable) (int64, error) {
	var n int64
	err := db.reader.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?`, t.writesKey).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// refresh reloads the in-memory vectors of t when another process has written them
// since they were loaded.
func (db *DB) refresh(ctx context.Context, t *vectorTable) error {
	n, err := db.writeCount(ctx, t)
	if err != nil || n == t.seen.Load() {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if n, err = db.writeCount(ctx, t); err != nil || n == t.seen.Load() {
		return err
	}
	if t == &db.chunks {
		return db.loadChunkIndexes(ctx)
	}
	return db.loadVectors(ctx, t)
}
