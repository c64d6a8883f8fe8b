package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
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
	x.mu.RLock()
	ids := annIDs(x.rowids)
	vecs := make([][]float32, len(ids))
	for i := range vecs {
		vecs[i] = x.data[i*s.dim : (i+1)*s.dim]
	}
	a := hnsw.New(s.dim, hnsw.Options{})
	err := a.AddBatch(ids, vecs)
	x.mu.RUnlock()
	if err != nil {
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

// annIDs converts row IDs to HNSW IDs; putTx refuses rows beyond uint32.
func annIDs(rowids []int64) []uint32 {
	out := make([]uint32, len(rowids))
	for i, r := range rowids {
		out[i] = uint32(r)
	}
	return out
}

// annPath is the file beside the database where Close saves the HNSW graph.
func (db *DB) annPath() string { return db.path + ".hnsw" }

// loadANN reads the saved HNSW graph if it was saved at the store's current write
// count with n vectors of the store's dimension; otherwise it returns nil and the
// caller builds one.
func (db *DB) loadANN(ctx context.Context, n int) *hnsw.Index {
	var saved, writes string
	if db.reader.QueryRowContext(ctx, `SELECT (SELECT value FROM meta WHERE key = 'ann_writes'), (SELECT value FROM meta WHERE key = 'writes')`).Scan(&saved, &writes) != nil || saved != writes {
		return nil
	}
	f, err := os.Open(db.annPath())
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

// saveANN writes the HNSW graph beside the database, if one is in use, and records the
// write count it matches. Callers hold DB.mu, so no write happens meanwhile.
func (db *DB) saveANN(ctx context.Context) error {
	set := db.vec.Load()
	if set == nil {
		return nil
	}
	a := set.ann.Load()
	if a == nil {
		return nil
	}
	tmp := db.annPath() + ".tmp"
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
		err = os.Rename(tmp, db.annPath())
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save the vector index: %w", err)
	}
	var writes int64
	db.writer.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'writes'`).Scan(&writes)
	_, err = db.writer.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES ('ann_writes', ?)`, strconv.FormatInt(writes, 10))
	return err
}

// countWrite is run in every writing transaction, so that a saved graph can be told
// from a stale one.
const countWrite = `INSERT INTO meta (key, value) VALUES ('writes', '1')
	ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`

// bumpWrites counts a writing transaction and returns the new count.
func bumpWrites(ctx context.Context, tx *sql.Tx) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, countWrite+` RETURNING CAST(value AS INTEGER)`).Scan(&n)
	return n, err
}

// Another process (the genai notes command beside a running server, say) may write to
// the store; its writes reach the in-memory vectors through the write count. DB.seen is
// the count the vectors reflect, or -1 when they are known to be behind.

// advance records that this process's write made the count n. Callers hold DB.mu.
func (db *DB) advance(n int64) {
	if !db.seen.CompareAndSwap(n-1, n) {
		db.seen.Store(-1) // another process wrote in between
	}
}

// writeCount reads the store's write count.
func (db *DB) writeCount(ctx context.Context) (int64, error) {
	var n int64
	err := db.reader.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'writes'`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// refresh reloads the in-memory vectors when another process has written since they
// were loaded.
func (db *DB) refresh(ctx context.Context) error {
	n, err := db.writeCount(ctx)
	if err != nil || n == db.seen.Load() {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if n, err = db.writeCount(ctx); err != nil || n == db.seen.Load() {
		return err
	}
	return db.loadVectors(ctx)
}
