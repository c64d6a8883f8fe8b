package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"genai"
)

// nearlyFull is the free space below which an I/O error of SQLite is taken for a full
// disk: SQLite reports ENOSPC on a write as SQLITE_FULL, but on growing its shared
// memory or syncing as a plain I/O error.
const nearlyFull = 1 << 20

// errFull is the error of a write that the disk has no room for.
func errFull() error {
	return genai.Errorf(genai.EFULL, "the disk of the data directory is full; free space and retry")
}

// diskFull reports whether err is SQLite's, or the system's, saying the disk of the
// store is full.
func (db *DB) diskFull(err error) bool {
	if genai.ErrorCode(err) == genai.EFULL || errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_FULL:
		return true
	case sqlite3.SQLITE_IOERR:
		free, ok := freeBytes(filepath.Dir(db.path))
		return ok && free < nearlyFull
	}
	return false
}

// fullErr returns err as an EFULL error, its cause kept for the log, when it says the
// disk is full, and err otherwise.
func (db *DB) fullErr(err error) error {
	if err == nil || genai.ErrorCode(err) != genai.EINTERNAL || !db.diskFull(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errFull(), err)
}

// fullSwitch is set while the store is read-only for want of disk space.
type fullSwitch struct{ v atomic.Bool }

func (f *fullSwitch) on() bool   { return f.v.Load() }
func (f *fullSwitch) set(v bool) { f.v.Store(v) }

// openFull opens the store read-only after opening it failed, with cause, for want of
// disk space: the -shm file of the shared memory could not be set up (it is absent
// after a close by an older version, or deleted). SQLite's readonly_shm mode reads the
// log with a private copy of the shared memory instead, if the file exists, which
// takes no space. Writes answer EFULL until the checkpointer sees space again and
// becomeWritable succeeds. A store whose schema needs migrating, or that has none,
// cannot be opened so.
func (db *DB) openFull(ctx context.Context, cause error) error {
	fail := func(err error) error {
		return fmt.Errorf("sqlite: open %s on a full disk: %w (first: %w)", db.path, err, db.fullErr(cause))
	}
	f, err := os.OpenFile(db.path+"-shm", os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fail(err)
	}
	f.Close()
	db.full.set(true)
	if err := db.openWriter(); err != nil { // refuses to connect while full
		return fail(err)
	}
	r, err := db.readers("mode=ro", "readonly_shm=1")
	if err != nil {
		return fail(err)
	}
	db.reader.set(r)
	var version string
	if err := r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&version); err != nil {
		return fail(fmt.Errorf("read schema version: %w", err))
	}
	if version != fmt.Sprint(len(migrations)) {
		return fail(fmt.Errorf("schema version %s needs migrating to %d, which needs space", version, len(migrations)))
	}
	stored, ok, err := readSpace(ctx, r, "space")
	switch {
	case err != nil:
		return fail(err)
	case !ok:
		return fail(errors.New("the store records no embedding space yet"))
	case stored != db.opts.Space:
		return &SpaceMismatchError{Path: db.path, Stored: stored, Want: db.opts.Space}
	}
	if err := db.loadVectors(ctx, &db.notes); err != nil {
		return err
	}
	return db.loadVectors(ctx, &db.chunks)
}

// becomeWritable makes a store opened read-only by openFull writable, once its disk
// has room. Every connection of this process to the file shares one mapping of the
// shared memory, read-only while a reader of openFull holds it, so the readers close
// (reads wait meanwhile) before the writer connects; if it still cannot, the store
// stays read-only.
func (db *DB) becomeWritable() {
	if free, ok := freeBytes(filepath.Dir(db.path)); ok && free < nearlyFull {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	p := db.reader
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.db
	old.Close()
	// Reads already under way finish: their connections close as they end.
	for deadline := time.Now().Add(checkpointWait); old.Stats().OpenConnections > 0; {
		if time.Now().After(deadline) {
			p.db, _ = db.readers("mode=ro", "readonly_shm=1")
			return
		}
		time.Sleep(time.Millisecond)
	}
	db.full.set(false)
	ctx, cancel := context.WithTimeout(context.Background(), checkpointWait)
	defer cancel()
	if err := db.writer.PingContext(ctx); err != nil {
		db.full.set(true)
		p.db, _ = db.readers("mode=ro", "readonly_shm=1")
		return
	}
	if r, err := db.readers(); err == nil {
		p.db = r
	}
}
