package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"genai"
)

var _ genai.SessionStore = (*Responses)(nil)

// sessionExpiry is the last-use time before which a session is expired.
func (r *Responses) sessionExpiry() int64 { return r.clock().Add(-genai.SessionTTL).UnixMilli() }

// storedExchange is an exchange as the sessions table keeps it, with JSON names of its
// own so that renaming a Go field does not make stored sessions unreadable.
type storedExchange struct {
	Question string `json:"q"`
	Answer   string `json:"a"`
}

// SessionHistory returns the exchanges of session id of owner, oldest first; none for
// an unknown or expired session, ENOTFOUND for a session of another owner.
func (r *Responses) SessionHistory(ctx context.Context, id, owner string) ([]genai.Exchange, error) {
	db, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	ex, err := r.readSession(ctx, db, id, owner)
	if err != nil && genai.ErrorCode(err) != genai.ENOTFOUND {
		return nil, fmt.Errorf("sqlite: session %s: %w", id, err)
	}
	return ex, err
}

func (r *Responses) readSession(ctx context.Context, q querier, id, owner string) ([]genai.Exchange, error) {
	var who string
	var raw []byte
	err := q.QueryRowContext(ctx, `SELECT owner, exchanges FROM sessions WHERE id = ? AND used_at >= ?`, id, r.sessionExpiry()).Scan(&who, &raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case who != owner:
		return nil, sessionNotFound(id)
	}
	var stored []storedExchange
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("unreadable exchanges: %w", err)
	}
	out := make([]genai.Exchange, len(stored))
	for i, e := range stored {
		out[i] = genai.Exchange{Question: e.Question, Answer: e.Answer}
	}
	return out, nil
}

// AppendExchange adds e to session id of owner in one transaction, so that exchanges
// appended at once, by this process or another on the same file, are all kept.
func (r *Responses) AppendExchange(ctx context.Context, id, owner string, e genai.Exchange) error {
	db, err := r.conn(ctx)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock first, so no read goes stale
	if err != nil {
		return r.fullErr(fmt.Errorf("sqlite: append to session %s: %w", id, err))
	}
	defer tx.Rollback()
	history, err := r.readSession(ctx, tx, id, owner)
	if genai.ErrorCode(err) == genai.ENOTFOUND {
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlite: append to session %s: %w", id, err)
	}
	history = genai.AddExchange(history, e)
	stored := make([]storedExchange, len(history))
	for i, x := range history {
		stored[i] = storedExchange{x.Question, x.Answer}
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("sqlite: append to session %s: %w", id, err)
	}
	// An expired session of another owner is replaced: its id starts a new session.
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, owner, used_at, exchanges) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, used_at = excluded.used_at, exchanges = excluded.exchanges`,
		id, owner, r.clock().UnixMilli(), raw); err != nil {
		return r.fullErr(fmt.Errorf("sqlite: append to session %s: %w", id, err))
	}
	if err := tx.Commit(); err != nil {
		return r.fullErr(fmt.Errorf("sqlite: append to session %s: %w", id, err))
	}
	r.prune(ctx, db)
	return nil
}

// sessionNotFound answers a session of another owner as one that does not exist.
func sessionNotFound(id string) error {
	return genai.Errorf(genai.ENOTFOUND, "session_id: no session %q for this API key", id)
}
