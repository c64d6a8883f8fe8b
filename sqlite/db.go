// Package sqlite is the embedded store of genai: notes, and the knowledge base's
// documents with their chunks, with their vectors in one SQLite file
// (modernc.org/sqlite, pure Go), found by vector similarity or by BM25 over their
// words; notes also by both fused by reciprocal rank, chunks by the fusion of package
// rag over their two rankings (genai.ChunkSearcher).
//
// The file is in WAL mode with synchronous=FULL, so a write that returned nil survives
// kill -9 and power loss. Writes go through one connection; reads use a pool of
// read-only connections that WAL lets run beside the writer. Vectors are held in memory
// for search, once; the database has them too, for the next start.
//
// A store records the embedding space (model and dimensions) its vectors were made in
// and refuses to open in another, so vectors of two embedders are never compared;
// OpenForReembed and DB.Reembed move a store to a new space.
//
// Several processes may share a store (a server and the genai notes command): each
// write bumps a counter, and a search first reloads the in-memory vectors when another
// process has written since they were loaded.
//
// The write-ahead log stays bounded under any mix of reads and writes: SQLite's own
// checkpoints never wait for readers, so readers that overlap without a pause starve
// them and the log grows by every byte written. The store checkpoints the log and
// truncates it itself once it passes half of Options.WALLimit, waiting briefly for the
// reads in progress (see checkpointIfLarge).
//
// A full disk is an EFULL error (HTTP 507) for writes, and reads go on. A store opens
// on a full disk too, to serve reads: the connections keep the -wal and -shm files
// when they close (persistent WAL), so a cleanly closed store needs no new space to
// open; one whose -shm is missing opens read-only and becomes writable again when
// space returns (see openFull).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"genai"
	"genai/internal/hnsw"

	msqlite "modernc.org/sqlite"
)

// Options configure a store.
type Options struct {
	// Space is the embedding space of the vectors the store takes and searches with;
	// required. A new store records it; an existing one must have been built in it.
	Space genai.EmbeddingSpace
	// ReadConns is the number of read-only connections; 0 means max(4, GOMAXPROCS).
	ReadConns int
	// ExactThreshold is the number of notes up to which vector search is exact (a scan
	// of every vector); beyond it an approximate index answers. 0 means 20,000.
	ExactThreshold int
	// ChunkBM25Weights weigh the columns of a chunk in BM25: its document's title, its
	// heading path and its text. The zero value means 1, 1, 1: BM25 over the three
	// as one field, as BEIR's BM25 baseline indexes title and text together.
	ChunkBM25Weights [3]float64
	// WALLimit is the size in bytes that the write-ahead log (the -wal file) is kept
	// under, even under continuous reads; 0 means DefaultWALLimit. Past half of it, the
	// store checkpoints the log into the database and truncates it; the other half is
	// for the writes made until the checkpoint, which looks after each write of notes
	// and every second, has the write lock. One transaction bigger than that adds its
	// own size.
	WALLimit int64
}

// DefaultExactThreshold is the default of Options.ExactThreshold.
const DefaultExactThreshold = 20_000

// DefaultWALLimit is the default of Options.WALLimit.
const DefaultWALLimit = 64 << 20

// Checkpoint timing.
const (
	// walCheckEvery is how often the log's size is looked at besides after each write
	// of notes, for writes of chunks and of other processes.
	walCheckEvery = time.Second
	// checkpointWait is how long a checkpoint waits for reads begun before it, holding
	// off writers meanwhile; a checkpoint that cannot finish in it is tried again at
	// the next look. Reads are short (vectors load in pages of loadPage rows), so it
	// is rarely reached.
	checkpointWait = 2 * time.Second
	// loadPage is the number of vectors read in one read transaction while loading.
	loadPage = 4096
)

// DB is an open store. It implements genai.NoteStore and genai.ChunkStore and is safe
// for concurrent use.
type DB struct {
	path   string
	opts   Options
	writer *sql.DB    // one connection: SQLite has one writer at a time anyway
	reader *readPool  // read-only pool
	ckpt   *sql.DB    // one connection for the store's checkpoints of the log
	full   fullSwitch // set while the store, opened on a full disk, is read-only

	walNudge chan struct{} // a write wakes the checkpointer
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	stopped  sync.WaitGroup

	// mu serialises writes so that the in-memory vectors change in commit order.
	mu sync.Mutex
	// stale is set while a store opened by OpenForReembed still has vectors of another
	// space: it then answers only GetNote, ListNotes and Reembed.
	stale atomic.Pointer[genai.EmbeddingSpace]

	notes  vectorTable // the vectors of notes
	chunks vectorTable // the vectors of document chunks
}

// SpaceMismatchError is returned by Open for a store built in another embedding space
// than Options.Space.
type SpaceMismatchError struct {
	Path   string
	Stored genai.EmbeddingSpace // the space of the vectors in the store
	Want   genai.EmbeddingSpace // the space of the configured embedder
}

// Error says which spaces differ and how to fix it.
func (e *SpaceMismatchError) Error() string {
	return fmt.Sprintf("sqlite: store %s holds vectors of %s, but the configured embedder makes %s; "+
		"run `genai notes reembed` to re-embed every note with the new embedder, "+
		"or set GENAI_EMBEDDER/GENAI_EMBED_MODEL back to the embedder of %s",
		e.Path, e.Stored, e.Want, e.Stored)
}

// Open opens the store at path, creating the file and its schema if absent and
// migrating an older schema. It returns a *SpaceMismatchError if the store was built in
// another embedding space than opts.Space.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	return open(ctx, path, opts, false)
}

// OpenForReembed opens the store at path like Open, but also when its vectors are of
// another space than opts.Space. Until Reembed has run, such a store answers only
// GetNote, ListNotes and Reembed; its other methods return an EUNAVAILABLE error.
func OpenForReembed(ctx context.Context, path string, opts Options) (*DB, error) {
	return open(ctx, path, opts, true)
}

func open(ctx context.Context, path string, opts Options, forReembed bool) (*DB, error) {
	if opts.Space.Model == "" || opts.Space.Dimensions <= 0 {
		return nil, fmt.Errorf("sqlite: open %s: Options.Space %q needs a model and dimensions", path, opts.Space)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if opts.ExactThreshold <= 0 {
		opts.ExactThreshold = DefaultExactThreshold
	}
	if opts.ChunkBM25Weights == [3]float64{} {
		opts.ChunkBM25Weights = [3]float64{1, 1, 1}
	}
	if opts.WALLimit <= 0 {
		opts.WALLimit = DefaultWALLimit
	}
	db := &DB{path: path, opts: opts, reader: &readPool{}, walNudge: make(chan struct{}, 1), stop: make(chan struct{})}
	db.notes = vectorTable{name: "notes", table: "vectors", rowCol: "note_rowid", writesKey: "writes", annKey: "ann_writes", annSuffix: ".hnsw"}
	db.chunks = vectorTable{name: "chunks", table: "chunk_vectors", rowCol: "chunk_rowid", writesKey: "chunk_writes", annKey: "chunk_ann_writes", annSuffix: ".chunks.hnsw"}
	err := db.openWriter()
	if err == nil {
		err = db.init(ctx, forReembed)
	}
	if err != nil && db.diskFull(err) && !forReembed {
		db.closePools()
		err = db.openFull(ctx, err)
	}
	if err != nil {
		db.closePools()
		return nil, err
	}
	db.stopped.Go(db.checkpoints)
	return db, nil
}

// openWriter opens the writing connection and the checkpointing one; they connect
// when first used.
func (db *DB) openWriter() error {
	var err error
	// _txlock=immediate: a write transaction takes the write lock at BEGIN, so it never
	// fails half-way with SQLITE_BUSY on upgrading a read lock.
	if db.writer, err = db.pool(true, dsn(db.path, db.opts, "_txlock=immediate", "_pragma=journal_mode(WAL)")); err != nil {
		return err
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetConnMaxIdleTime(0)
	if db.ckpt, err = db.pool(true, dsn(db.path, db.opts, fmt.Sprintf("_pragma=busy_timeout(%d)", checkpointWait.Milliseconds()))); err != nil {
		return err
	}
	db.ckpt.SetMaxOpenConns(1)
	return nil
}

// closePools closes every connection of the store.
func (db *DB) closePools() error {
	var errs []error
	for _, p := range []*sql.DB{db.writer, db.ckpt, db.reader.get()} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// dsn returns the data source name of path with the pragmas every connection needs.
func dsn(path string, opts Options, extra ...string) string {
	q := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=synchronous(FULL)", // WAL + FULL: a commit is on disk when it returns
		"_pragma=foreign_keys(1)",
		// When a writer starts the log over, it cuts the file back to the limit.
		fmt.Sprintf("_pragma=journal_size_limit(%d)", opts.WALLimit),
	}
	q = append(q, extra...)
	s := "file:" + (&url.URL{Path: path}).EscapedPath() + "?"
	for i, p := range q {
		if i > 0 {
			s += "&"
		}
		s += p
	}
	return s
}

func (db *DB) init(ctx context.Context, forReembed bool) error {
	if err := migrate(ctx, db.writer, migrations); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	r, err := db.readers()
	if err != nil {
		return err
	}
	db.reader.set(r)
	stored, ok, err := readSpace(ctx, db.writer, "space")
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	switch {
	case !ok:
		if err := writeMeta(ctx, db.writer, "space", db.opts.Space); err != nil {
			return fmt.Errorf("sqlite: open %s: record the embedding space: %w", db.path, err)
		}
	case stored != db.opts.Space && !forReembed:
		return &SpaceMismatchError{Path: db.path, Stored: stored, Want: db.opts.Space}
	case stored != db.opts.Space:
		db.stale.Store(&stored)
		for _, t := range []*vectorTable{&db.notes, &db.chunks} {
			t.vec.Store(newVectorSet(db.opts.Space.Dimensions, db.opts.ExactThreshold, newVectorIndex(db.opts.Space.Dimensions, 0)))
		}
		return nil
	}
	if err := db.loadVectors(ctx, &db.notes); err != nil {
		return err
	}
	return db.loadChunkIndexes(ctx)
}

// readers opens a pool of read-only connections, extra added to their data source
// name.
func (db *DB) readers(extra ...string) (*sql.DB, error) {
	r, err := db.pool(false, dsn(db.path, db.opts, append([]string{"_pragma=query_only(1)"}, extra...)...))
	if err != nil {
		return nil, err
	}
	r.SetMaxOpenConns(db.opts.ReadConns)
	r.SetMaxIdleConns(db.opts.ReadConns)
	return r, nil
}

// pool opens a pool of connections to dsn, each of which keeps the -wal and -shm files
// when it closes (SQLITE_FCNTL_PERSIST_WAL), the log truncated by journal_size_limit.
// SQLite otherwise deletes both when the last connection closes, and opening the store
// again needs 32 KiB of new shared memory, which a full disk does not have. A writing
// pool refuses to connect while the store is read-only on a full disk: it would share
// the readers' read-only shared memory.
func (db *DB) pool(writes bool, dsn string) (*sql.DB, error) {
	c, err := msqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	var full *fullSwitch
	if writes {
		full = &db.full
	}
	return sql.OpenDB(persistWAL{Connector: c, full: full}), nil
}

// persistWAL is a connector whose connections keep the -wal and -shm files; see
// DB.pool.
type persistWAL struct {
	driver.Connector
	full *fullSwitch // nil for readers
}

// Connect opens a connection with persistent WAL, or, for a writer while the store is
// read-only on a full disk, returns an EFULL error.
func (c persistWAL) Connect(ctx context.Context) (driver.Conn, error) {
	if c.full != nil && c.full.on() {
		return nil, errFull()
	}
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	fc, ok := conn.(msqlite.FileControl)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite: the driver's connection has no file control")
	}
	if _, err := fc.FileControlPersistWAL("main", 1); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite: persistent WAL: %w", err)
	}
	return conn, nil
}

// readPool holds the pool of read-only connections. It is replaced only when a store
// opened read-only on a full disk becomes writable (DB.becomeWritable); a query holds
// mu while it starts, so that none starts on the pool being closed.
type readPool struct {
	mu sync.RWMutex
	db *sql.DB
}

func (p *readPool) get() *sql.DB {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.db
}

func (p *readPool) set(db *sql.DB) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.db = db
}

// QueryContext runs a query on a read-only connection.
func (p *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.db.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query of one row on a read-only connection.
func (p *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.db.QueryRowContext(ctx, query, args...)
}

// BeginTx starts a read transaction.
func (p *readPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.db.BeginTx(ctx, opts)
}

// Close closes the pool.
func (p *readPool) Close() error { return p.get().Close() }

// checkpoints runs until Close: it checkpoints the log when it is over its limit, and
// while the store is read-only on a full disk, it makes it writable once space returns.
func (db *DB) checkpoints() {
	tick := time.NewTicker(walCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		case <-db.walNudge:
		}
		if db.full.on() {
			db.becomeWritable()
			continue
		}
		db.checkpointIfLarge()
	}
}

// wrote wakes the checkpointer after a write.
func (db *DB) wrote() {
	select {
	case db.walNudge <- struct{}{}:
	default:
	}
}

// checkpointIfLarge checkpoints the log and truncates it when it is over its limit.
//
// SQLite's automatic checkpoint (PASSIVE) copies pages only up to the oldest read in
// progress, and the log starts over from its beginning only when a writer finds it
// wholly copied with no reader on it; with reads always overlapping, that never
// happens. TRUNCATE instead holds off writers, waits for the reads begun before it (up
// to checkpointWait), copies the rest of the pages and cuts the file to zero; reads
// // begun meanwhile read the database file and do not hold it up. It starts at half the
// limit, so that the writes made until it has the write lock fit in the other half. A
// checkpoint that cannot finish (busy readers, a full disk) is tried again at the next
// look.
func (db *DB) checkpointIfLarge() {
	st, err := os.Stat(db.path + "-wal")
	if err != nil || st.Size() <= db.opts.WALLimit/2 {
		return
	}
	// This process's writers wait meanwhile: back to back, they would keep the
	// checkpoint from ever getting the write lock.
	db.mu.Lock()
	defer db.mu.Unlock()
	// No deadline: the wait is bounded by the connection's busy timeout, and copying
	// the pages must be let finish.
	var busy, frames, copied int
	db.ckpt.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
}

// loadVectors fills the in-memory vector search of t from its table: an exact index
// up to the threshold, else the HNSW graph saved at Close if it is current, else a
// graph built now. Vectors are read straight into the index that keeps them.
func (db *DB) loadVectors(ctx context.Context, t *vectorTable) (err error) {
	writes, err := db.writeCount(ctx, t) // before reading: a write meanwhile reloads again later
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	defer func() {
		if err == nil {
			t.seen.Store(writes)
		}
	}()
	dim := db.opts.Space.Dimensions
	var n int
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM `+t.table).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: open %s: count vectors of %s: %w", db.path, t.name, err)
	}
	set := newVectorSet(dim, db.opts.ExactThreshold, nil)
	var exact *vectorIndex
	var ann *hnsw.Index
	switch {
	case n <= db.opts.ExactThreshold:
		exact = newVectorIndex(dim, n)
	default:
		if ann = db.loadANN(ctx, t, n); ann != nil {
			set.ann.Store(ann)
			t.vec.Store(set)
			return nil
		}
		ann = hnsw.New(dim, hnsw.Options{})
	}
	const chunk = 4096 // vectors per AddBatch while building the graph
	var ids []uint32
	var vecs [][]float32
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		err := ann.AddBatch(ids, vecs)
		ids, vecs = ids[:0], vecs[:0]
		return err
	}
	add := func(rowid int64, blob []byte) error {
		if len(blob) != 4*dim {
			return fmt.Errorf("sqlite: open %s: vector of %s row %d has %d bytes, want %d", db.path, t.name, rowid, len(blob), 4*dim)
		}
		if exact != nil {
			exact.putBlob(rowid, blob)
			return nil
		}
		v := make([]float32, dim)
		decodeVector(v, blob)
		ids, vecs = append(ids, uint32(rowid)), append(vecs, v)
		if len(ids) == chunk {
			if err := flush(); err != nil {
				return fmt.Errorf("sqlite: open %s: build the vector index: %w", db.path, err)
			}
		}
		return nil
	}
	// A page of rows per read transaction, so that no read holds the log's checkpoint
	// off for long. Pages may see different snapshots; a write meanwhile has bumped
	// the write count read above, so the next search loads again.
	for after := int64(0); ; {
		n, err := db.loadPage(ctx, t, &after, add)
		if err != nil {
			return err
		}
		if n < loadPage {
			break
		}
	}
	if exact != nil {
		set.exact.Store(exact)
	} else {
		if err := flush(); err != nil {
			return fmt.Errorf("sqlite: open %s: build the vector index: %w", db.path, err)
		}
		set.ann.Store(ann)
	}
	t.vec.Store(set)
	return nil
}

// loadPage reads up to loadPage vectors of t after row *after into add, advances
// *after, and returns the number read.
func (db *DB) loadPage(ctx context.Context, t *vectorTable, after *int64, add func(int64, []byte) error) (int, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+t.rowCol+`, vector FROM `+t.table+` WHERE `+t.rowCol+` > ? ORDER BY `+t.rowCol+` LIMIT ?`, *after, loadPage)
	if err != nil {
		return 0, fmt.Errorf("sqlite: open %s: load vectors of %s: %w", db.path, t.name, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(after, &blob); err != nil {
			return n, fmt.Errorf("sqlite: open %s: load vectors of %s: %w", db.path, t.name, err)
		}
		if err := add(*after, blob); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("sqlite: open %s: load vectors of %s: %w", db.path, t.name, err)
	}
	return n, nil
}

// Close saves the HNSW graph, if one is in use, beside the database so that the next
// Open need not rebuild it, and closes the store's connections.
func (db *DB) Close() error {
	db.stopOnce.Do(func() { close(db.stop) })
	db.stopped.Wait()
	db.mu.Lock()
	defer db.mu.Unlock()
	var err error
	if db.stale.Load() == nil && !db.full.on() {
		err = errors.Join(db.saveANN(context.Background(), &db.notes), db.saveANN(context.Background(), &db.chunks))
	}
	return errors.Join(err, db.closePools())
}

// Space returns the embedding space of the store's vectors.
func (db *DB) Space() genai.EmbeddingSpace { return db.opts.Space }

// migrations are the schema changes in order; the meta table's schema_version counts
// those applied. Append, never edit.
var migrations = []string{
	// 1: notes, their vectors (little-endian float32), FTS5 over title and text kept in
	// step by triggers inside the writing transaction, and the shadow table Reembed fills.
	`CREATE TABLE notes (
		rowid      INTEGER PRIMARY KEY,
		id         TEXT NOT NULL UNIQUE,
		title      TEXT NOT NULL,
		link       TEXT NOT NULL,
		text       TEXT NOT NULL,
		created_at INTEGER NOT NULL -- Unix milliseconds
	);
	CREATE INDEX notes_created ON notes (created_at DESC, id DESC);
	CREATE TABLE vectors (
		note_rowid INTEGER PRIMARY KEY REFERENCES notes (rowid) ON DELETE CASCADE,
		vector     BLOB NOT NULL
	);
	CREATE TABLE vectors_reembed (
		note_rowid INTEGER PRIMARY KEY REFERENCES notes (rowid) ON DELETE CASCADE,
		vector     BLOB NOT NULL
	);
	CREATE VIRTUAL TABLE notes_fts USING fts5 (
		title, text, content = 'notes', content_rowid = 'rowid',
		tokenize = 'unicode61 remove_diacritics 2'
	);
	CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
		INSERT INTO notes_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
	END;
	CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
		INSERT INTO notes_fts (notes_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
	END;
	CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN
		INSERT INTO notes_fts (notes_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
		INSERT INTO notes_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
	END;`,
	// 2: documents and their chunks, the chunks' vectors (and Reembed's shadow table),
	// and FTS5 over each chunk's document title, headings and text with the Porter
	// stemmer. The FTS table is contentless with contentless_delete, so the triggers
	// delete by rowid without the old values; a document's chunks go with it by
	// cascade. An empty URI is stored as NULL: UNIQUE lets NULLs repeat. Chunk rows are
	// never reused, so a search racing a replace never scores a new chunk by the
	// in-memory vector of an old one.
	`CREATE TABLE documents (
		id         TEXT PRIMARY KEY,
		title      TEXT NOT NULL,
		uri        TEXT UNIQUE,
		hash       TEXT NOT NULL,
		format     TEXT NOT NULL,
		bytes      INTEGER NOT NULL,
		chunks     INTEGER NOT NULL, -- the number of its chunks, set with them
		created_at INTEGER NOT NULL  -- Unix milliseconds
	);
	CREATE INDEX documents_created ON documents (created_at DESC, id DESC);
	CREATE TABLE chunks (
		rowid       INTEGER PRIMARY KEY AUTOINCREMENT,
		id          TEXT NOT NULL UNIQUE,
		document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
		idx         INTEGER NOT NULL,
		headings    TEXT NOT NULL, -- JSON array of strings, outermost first
		text        TEXT NOT NULL
	);
	CREATE INDEX chunks_document ON chunks (document_id, idx);
	CREATE TABLE chunk_vectors (
		chunk_rowid INTEGER PRIMARY KEY REFERENCES chunks (rowid) ON DELETE CASCADE,
		vector      BLOB NOT NULL
	);
	CREATE TABLE chunk_vectors_reembed (
		chunk_rowid INTEGER PRIMARY KEY REFERENCES chunks (rowid) ON DELETE CASCADE,
		vector      BLOB NOT NULL
	);
	CREATE VIRTUAL TABLE chunks_fts USING fts5 (
		title, headings, text, content = '', contentless_delete = 1,
		tokenize = 'porter unicode61 remove_diacritics 2'
	);
	CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
		INSERT INTO chunks_fts (rowid, title, headings, text) VALUES (new.rowid,
			(SELECT title FROM documents WHERE id = new.document_id),
			(SELECT group_concat(value, ' ') FROM json_each(new.headings)),
			new.text);
	END;
	CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
		DELETE FROM chunks_fts WHERE rowid = old.rowid;
	END;`,
	// 3: the page a chunk starts on (from 1; 0 for formats without pages).
	`ALTER TABLE chunks ADD COLUMN page INTEGER NOT NULL DEFAULT 0;`,
}

// vectorsTable is the schema of vectors and vectors_reembed, for Reembed's swap.
const vectorsTable = `CREATE TABLE vectors_reembed (
		note_rowid INTEGER PRIMARY KEY REFERENCES notes (rowid) ON DELETE CASCADE,
		vector     BLOB NOT NULL
	)`

// chunkVectorsTable is the schema of chunk_vectors and chunk_vectors_reembed, for
// Reembed's swap.
const chunkVectorsTable = `CREATE TABLE chunk_vectors_reembed (
		chunk_rowid INTEGER PRIMARY KEY REFERENCES chunks (rowid) ON DELETE CASCADE,
		vector      BLOB NOT NULL
	)`

// migrate creates the meta table and applies the migrations of list not yet applied,
// each in its own transaction.
func migrate(ctx context.Context, w *sql.DB, list []string) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create meta table: %w", err)
	}
	for {
		done, err := migrateOne(ctx, w, list)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, w *sql.DB, migrations []string) (done bool, err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	version := 0
	var s string
	switch err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&s); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, fmt.Errorf("read schema version: %w", err)
	default:
		if version, err = strconv.Atoi(s); err != nil {
			return false, fmt.Errorf("schema version %q: %w", s, err)
		}
	}
	if version > len(migrations) {
		return false, fmt.Errorf("schema version %d is newer than this program's %d", version, len(migrations))
	}
	if version == len(migrations) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, migrations[version]); err != nil {
		return false, fmt.Errorf("migrate schema to version %d: %w", version+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`, strconv.Itoa(version+1)); err != nil {
		return false, fmt.Errorf("migrate schema to version %d: %w", version+1, err)
	}
	return false, tx.Commit()
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// readSpace reads the embedding space recorded under key; ok is false if there is none.
func readSpace(ctx context.Context, q querier, key string) (space genai.EmbeddingSpace, ok bool, err error) {
	var s string
	switch err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&s); {
	case errors.Is(err, sql.ErrNoRows):
		return space, false, nil
	case err != nil:
		return space, false, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(s), &space); err != nil {
		return space, false, fmt.Errorf("read %s %q: %w", key, s, err)
	}
	return space, true, nil
}

func writeMeta(ctx context.Context, q querier, key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, key, string(b))
	return err
}
