package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"genai"

	msqlite "modernc.org/sqlite"
)

// Responses is the embedded store of the Responses API's stored responses
// (genai.ResponseStore) and of the knowledge base's sessions (genai.SessionStore, see
// sessions.go): the conversations a follow-up request continues. It is a SQLite file of
// its own, in WAL mode with synchronous=FULL like
// the notes' store, so a response that PutResponse stored survives kill -9. It is a file
// apart from the notes' because it holds no vectors: it opens whatever the embedder and
// whichever store (sqlite or OpenSearch) holds the notes. Like the notes' store, its
// connections keep the -wal and -shm files, so that a cleanly closed store opens again
// on a full disk; one that cannot open for want of space (a new one, say) opens at its
// first use once there is space, its methods answering EFULL until then. It is safe for
// concurrent use, also by several processes on one file (SQLite locks it; the file has
// no in-memory index to fall behind another process's writes).
type Responses struct {
	path string
	mu   sync.Mutex // guards db while it opens
	db   *sql.DB    // nil until open
	// pruned is when responses past genai.ResponseRetention and sessions idle past
	// genai.SessionTTL were last deleted, in Unix milliseconds; a write deletes them at
	// most once per pruneEvery.
	pruned atomic.Int64
	now    func() time.Time // for tests
}

// pruneEvery is how often a write deletes the responses past their retention and the
// expired sessions.
const pruneEvery = time.Minute

var _ genai.ResponseStore = (*Responses)(nil)

// responseMigrations are the schema changes of a Responses file in order; its meta
// table's schema_version counts those applied, as in the notes' store.
var responseMigrations = []string{
	// 1: responses, each with the whole conversation through its answer (JSON of
	// storedConversation) and the response object as answered.
	`CREATE TABLE responses (
		id           TEXT PRIMARY KEY,
		owner        TEXT NOT NULL,
		created_at   INTEGER NOT NULL, -- Unix milliseconds
		depth        INTEGER NOT NULL,
		conversation BLOB NOT NULL,
		body         BLOB NOT NULL
	);
	CREATE INDEX responses_created ON responses (created_at);`,
	// 2: knowledge-base sessions (see sessions.go), each with its exchanges as JSON.
	`CREATE TABLE sessions (
		id        TEXT PRIMARY KEY,
		owner     TEXT NOT NULL,
		used_at   INTEGER NOT NULL, -- Unix milliseconds of the last exchange
		exchanges BLOB NOT NULL
	);
	CREATE INDEX sessions_used ON sessions (used_at);`,
}

// OpenResponses opens the responses' store at path, creating the file and its schema if
// absent and migrating an older schema. On a disk too full for that, it returns a store
// that opens at its first use once there is space.
func OpenResponses(ctx context.Context, path string) (*Responses, error) {
	r := &Responses{path: path}
	if _, err := r.conn(ctx); err != nil && genai.ErrorCode(err) != genai.EFULL {
		return nil, err
	}
	return r, nil
}

// conn returns the store's connections, opening them if they are not yet.
func (r *Responses) conn(ctx context.Context) (*sql.DB, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db != nil {
		return r.db, nil
	}
	c, err := msqlite.NewConnector(dsn(r.path, Options{WALLimit: DefaultWALLimit}, "_txlock=immediate", "_pragma=journal_mode(WAL)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", r.path, err)
	}
	db := sql.OpenDB(persistWAL{Connector: c})
	// Writes take the write lock at BEGIN and wait for it by busy_timeout; reads run
	// beside them in WAL mode.
	db.SetMaxOpenConns(4)
	if err := migrate(ctx, db, responseMigrations); err != nil {
		db.Close()
		return nil, r.fullErr(fmt.Errorf("sqlite: open %s: %w", r.path, err))
	}
	r.db = db
	return db, nil
}

// Close closes the store.
func (r *Responses) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db == nil {
		return nil
	}
	return r.db.Close()
}

// PutResponse stores resp, replacing a response of the same id of the same owner; a
// response of another owner with that id is left as it is (ENOTFOUND, which random ids
// make happen only by a bug).
func (r *Responses) PutResponse(ctx context.Context, resp *genai.StoredResponse) error {
	if err := resp.Validate(); err != nil {
		return err
	}
	conv, err := genai.MarshalConversation(resp.System, resp.Messages)
	if err != nil {
		return fmt.Errorf("sqlite: put response %s: %w", resp.ID, err)
	}
	db, err := r.conn(ctx)
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, `INSERT INTO responses (id, owner, created_at, depth, conversation, body)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, depth = excluded.depth,
			conversation = excluded.conversation, body = excluded.body
		WHERE responses.owner = excluded.owner`,
		resp.ID, resp.Owner, resp.CreatedAt.UnixMilli(), resp.Depth, conv, []byte(resp.Body))
	if err != nil {
		return r.fullErr(fmt.Errorf("sqlite: put response %s: %w", resp.ID, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(resp.ID)
	}
	r.prune(ctx, db)
	return nil
}

func (r *Responses) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// expiry is the creation time before which a response is past its retention.
func (r *Responses) expiry() int64 { return r.clock().Add(-genai.ResponseRetention).UnixMilli() }

// prune deletes the responses past their retention and the sessions idle past their
// TTL, at most once per pruneEvery; what was written is safe already, so a failure is
// left to the next write.
func (r *Responses) prune(ctx context.Context, db *sql.DB) {
	now := r.clock().UnixMilli()
	last := r.pruned.Load()
	if now-last < pruneEvery.Milliseconds() || !r.pruned.CompareAndSwap(last, now) {
		return
	}
	db.ExecContext(ctx, `DELETE FROM responses WHERE created_at < ?`, r.expiry())
	db.ExecContext(ctx, `DELETE FROM sessions WHERE used_at < ?`, r.sessionExpiry())
}

// GetResponse returns the response id of owner, or ENOTFOUND (also for one past its
// retention).
func (r *Responses) GetResponse(ctx context.Context, id, owner string) (*genai.StoredResponse, error) {
	var created int64
	var conv, body []byte
	resp := &genai.StoredResponse{ID: id, Owner: owner}
	db, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	err = db.QueryRowContext(ctx, `SELECT created_at, depth, conversation, body FROM responses
		WHERE id = ? AND owner = ? AND created_at >= ?`, id, owner, r.expiry()).Scan(&created, &resp.Depth, &conv, &body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound(id)
	case err != nil:
		return nil, fmt.Errorf("sqlite: get response %s: %w", id, err)
	}
	if resp.System, resp.Messages, err = genai.UnmarshalConversation(conv); err != nil {
		return nil, fmt.Errorf("sqlite: get response %s: %w", id, err)
	}
	resp.CreatedAt = time.UnixMilli(created).UTC()
	resp.Body = body
	return resp, nil
}

// DeleteResponse deletes the response id of owner, or returns ENOTFOUND.
func (r *Responses) DeleteResponse(ctx context.Context, id, owner string) error {
	db, err := r.conn(ctx)
	if err != nil {
		return err
	}
	res, err := db.ExecContext(ctx, `DELETE FROM responses WHERE id = ? AND owner = ?`, id, owner)
	if err != nil {
		return r.fullErr(fmt.Errorf("sqlite: delete response %s: %w", id, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(id)
	}
	return nil
}

// notFound answers a response of another owner as one that does not exist.
func notFound(id string) error {
	return genai.Errorf(genai.ENOTFOUND, "no response %q for this API key", id)
}

// fullErr applies the notes' store's rule for a full disk to the responses' file.
func (r *Responses) fullErr(err error) error { return (&DB{path: r.path}).fullErr(err) }
