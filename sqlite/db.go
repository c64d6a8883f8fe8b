// Package sqlite is the embedded store of genai: notes, and the knowledge base's
// documents with their chunks, with their vectors in one SQLite file
// (modernc.org/sqlite, pure Go), found by vector similarity, by FTS5 BM25 over their
// words, or by both fused by reciprocal rank.
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
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"genai"
	"genai/internal/hnsw"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
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
}

// DefaultExactThreshold is the default of Options.ExactThreshold.
const DefaultExactThreshold = 20_000

// DB is an open store. It implements genai.NoteStore and genai.ChunkStore and is safe
// for concurrent use.
type DB struct {
	path   string
	opts   Options
	writer *sql.DB // one connection: SQLite has one writer at a time anyway
	reader *sql.DB // read-only pool

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
	db := &DB{path: path, opts: opts}
	db.notes = vectorTable{name: "notes", table: "vectors", rowCol: "note_rowid", writesKey: "writes", annKey: "ann_writes", annSuffix: ".hnsw"}
	db.chunks = vectorTable{name: "chunks", table: "chunk_vectors", rowCol: "chunk_rowid", writesKey: "chunk_writes", annKey: "chunk_ann_writes", annSuffix: ".chunks.hnsw"}
	var err error
	// _txlock=immediate: a write transaction takes the write lock at BEGIN, so it never
	// fails half-way with SQLITE_BUSY on upgrading a read lock.
	db.writer, err = sql.Open("sqlite", dsn(path, "_txlock=immediate", "_pragma=journal_mode(WAL)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetConnMaxIdleTime(0)
	if err := db.init(ctx, forReembed); err != nil {
		db.writer.Close()
		if db.reader != nil {
			db.reader.Close()
		}
		return nil, err
	}
	return db, nil
}

// dsn returns the data source name of path with the pragmas every connection needs.
func dsn(path string, extra ...string) string {
	q := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=synchronous(FULL)", // WAL + FULL: a commit is on disk when it returns
		"_pragma=foreign_keys(1)",
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
	if err := migrate(ctx, db.writer); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	var err error
	db.reader, err = sql.Open("sqlite", dsn(db.path, "_pragma=query_only(1)"))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	db.reader.SetMaxOpenConns(db.opts.ReadConns)
	db.reader.SetMaxIdleConns(db.opts.ReadConns)

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
	return db.loadVectors(ctx, &db.chunks)
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
	rows, err := db.reader.QueryContext(ctx, `SELECT `+t.rowCol+`, vector FROM `+t.table)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: load vectors of %s: %w", db.path, t.name, err)
	}
	defer rows.Close()
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
	for rows.Next() {
		var rowid int64
		var blob []byte
		if err := rows.Scan(&rowid, &blob); err != nil {
			return fmt.Errorf("sqlite: open %s: load vectors of %s: %w", db.path, t.name, err)
		}
		if len(blob) != 4*dim {
			return fmt.Errorf("sqlite: open %s: vector of %s row %d has %d bytes, want %d", db.path, t.name, rowid, len(blob), 4*dim)
		}
		if exact != nil {
			exact.putBlob(rowid, blob)
			continue
		}
		v := make([]float32, dim)
		decodeVector(v, blob)
		ids, vecs = append(ids, uint32(rowid)), append(vecs, v)
		if len(ids) == chunk {
			if err := flush(); err != nil {
				return fmt.Errorf("sqlite: open %s: build the vector index: %w", db.path, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: open %s: load vectors of %s: %w", db.path, t.name, err)
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

// Close saves the HNSW graph, if one is in use, beside the database so that the next
// Open need not rebuild it, and closes the store's connections.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var err error
	if db.stale.Load() == nil {
		err = errors.Join(db.saveANN(context.Background(), &db.notes), db.saveANN(context.Background(), &db.chunks))
	}
	return errors.Join(err, db.reader.Close(), db.writer.Close())
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

// migrate creates the meta table and applies the migrations not yet applied, each in
// its own transaction.
func migrate(ctx context.Context, w *sql.DB) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create meta table: %w", err)
	}
	for {
		done, err := migrateOne(ctx, w)
		if err != nil || done {
			return err
		}
	}
}

func migrateOne(ctx context.Context, w *sql.DB) (done bool, err error) {
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
