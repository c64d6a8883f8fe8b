package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"genai"
)

var _ genai.NoteStore = (*DB)(nil)

// Search tuning.
const (
	rrfK           = 60  // reciprocal rank fusion: score = Σ 1/(rrfK + rank)
	hybridFetch    = 4   // hybrid search takes hybridFetch*k candidates from each side
	titleWeight    = 2.0 // BM25 weight of a title word against a text word in hybrid search
	maxQueryTerms  = 64  // words of a query that reach FTS5
	defaultListMax = 50  // ListNotes limit when given none
	maxList        = 1000
)

// PutNotes stores notes and their vectors in one transaction, replacing notes of the
// same ID; when it returns nil the notes are on disk. Every note needs an ID and a
// vector of Space().Dimensions finite floats, or nothing is stored and the error
// (EINVALID) names the note. Vectors are stored scaled to unit length.
func (db *DB) PutNotes(ctx context.Context, notes []genai.Note, vectors [][]float32) error {
	if err := db.usable(); err != nil {
		return err
	}
	if len(notes) != len(vectors) {
		return genai.Errorf(genai.EINVALID, "sqlite: put notes: %d notes but %d vectors", len(notes), len(vectors))
	}
	unit := make([][]float32, len(vectors))
	for i, n := range notes {
		if n.ID == "" {
			return genai.Errorf(genai.EINVALID, "sqlite: put notes[%d]: id is required", i)
		}
		if err := db.checkDim(vectors[i]); err != nil {
			return genai.Errorf(genai.EINVALID, "sqlite: put note %q: %s", n.ID, err)
		}
		var ok bool
		if unit[i], ok = normalize(vectors[i]); !ok {
			return genai.Errorf(genai.EINVALID, "sqlite: put note %q: vector is all zeros or has a value that is not a finite number", n.ID)
		}
	}
	if len(notes) == 0 {
		return nil
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	rowids, err := db.putTx(ctx, notes, unit)
	if err != nil {
		return db.fullErr(err)
	}
	db.wrote()
	if err := db.notes.vec.Load().put(rowids, unit); err != nil {
		return fmt.Errorf("sqlite: put notes: stored, but not indexed until the next open: %w", err)
	}
	return nil
}

func (db *DB) putTx(ctx context.Context, notes []genai.Note, vectors [][]float32) ([]int64, error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: put notes: begin: %w", err)
	}
	defer tx.Rollback()
	// Another process may have re-embedded the store since it was opened.
	if space, _, err := readSpace(ctx, tx, "space"); err != nil {
		return nil, fmt.Errorf("sqlite: put notes: %w", err)
	} else if space != db.opts.Space {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "sqlite: put notes: the store now holds vectors of %s, not %s; restart with the embedder of %s", space, db.opts.Space, space)
	}
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO notes (id, title, link, text, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET title = excluded.title, link = excluded.link, text = excluded.text, created_at = excluded.created_at
		RETURNING rowid`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: put notes: %w", err)
	}
	defer upsert.Close()
	setVector, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO vectors (note_rowid, vector) VALUES (?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: put notes: %w", err)
	}
	defer setVector.Close()
	// A re-embedding in progress must embed the new text again.
	dropShadow, err := tx.PrepareContext(ctx, `DELETE FROM vectors_reembed WHERE note_rowid = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: put notes: %w", err)
	}
	defer dropShadow.Close()

	rowids := make([]int64, len(notes))
	for i, n := range notes {
		if err := upsert.QueryRowContext(ctx, n.ID, n.Title, n.Link, n.Text, n.CreatedAt.UnixMilli()).Scan(&rowids[i]); err != nil {
			return nil, fmt.Errorf("sqlite: put note %q: %w", n.ID, err)
		}
		if rowids[i] > math.MaxUint32 { // the vector index keys rows by uint32
			return nil, fmt.Errorf("sqlite: put note %q: row %d is beyond the vector index's range", n.ID, rowids[i])
		}
		if _, err := setVector.ExecContext(ctx, rowids[i], encodeVector(vectors[i])); err != nil {
			return nil, fmt.Errorf("sqlite: put note %q: vector: %w", n.ID, err)
		}
		if _, err := dropShadow.ExecContext(ctx, rowids[i]); err != nil {
			return nil, fmt.Errorf("sqlite: put note %q: %w", n.ID, err)
		}
	}
	writes, err := bumpWrites(ctx, tx, &db.notes)
	if err != nil {
		return nil, fmt.Errorf("sqlite: put notes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: put notes: commit: %w", err)
	}
	db.notes.advance(writes)
	return rowids, nil
}

// GetNote returns the note of id, or an ENOTFOUND error.
func (db *DB) GetNote(ctx context.Context, id string) (*genai.Note, error) {
	row := db.reader.QueryRowContext(ctx, `SELECT id, title, link, text, created_at FROM notes WHERE id = ?`, id)
	n, err := scanNote(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get note %q: %w", id, err)
	}
	return &n, nil
}

// DeleteNote deletes the note of id with its vector, or returns an ENOTFOUND error.
func (db *DB) DeleteNote(ctx context.Context, id string) error {
	if err := db.usable(); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.deleteTx(ctx, id); err != nil {
		return db.fullErr(err)
	}
	db.wrote()
	return nil
}

func (db *DB) deleteTx(ctx context.Context, id string) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete note %q: %w", id, err)
	}
	defer tx.Rollback()
	var rowid int64
	// The FTS trigger and the vector's cascade run inside this transaction.
	err = tx.QueryRowContext(ctx, `DELETE FROM notes WHERE id = ? RETURNING rowid`, id).Scan(&rowid)
	if errors.Is(err, sql.ErrNoRows) {
		return genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: delete note %q: %w", id, err)
	}
	writes, err := bumpWrites(ctx, tx, &db.notes)
	if err != nil {
		return fmt.Errorf("sqlite: delete note %q: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: delete note %q: commit: %w", id, err)
	}
	db.notes.vec.Load().remove(rowid)
	db.notes.advance(writes)
	return nil
}

// ListNotes returns up to limit notes (50 if limit <= 0, at most 1000) newest first,
// starting after cursor, and the cursor of the next page ("" after the last). A cursor
// not made by ListNotes gets an EINVALID error.
func (db *DB) ListNotes(ctx context.Context, limit int, cursor string) ([]genai.Note, string, error) {
	if limit <= 0 {
		limit = defaultListMax
	}
	limit = min(limit, maxList)
	query := `SELECT id, title, link, text, created_at FROM notes ORDER BY created_at DESC, id DESC LIMIT ?`
	args := []any{limit + 1}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		query = `SELECT id, title, link, text, created_at FROM notes
			WHERE created_at < ? OR (created_at = ? AND id < ?)
			ORDER BY created_at DESC, id DESC LIMIT ?`
		args = []any{at, at, id, limit + 1}
	}
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: list notes: %w", err)
	}
	defer rows.Close()
	notes := []genai.Note{}
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, "", fmt.Errorf("sqlite: list notes: %w", err)
		}
		notes = append(notes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("sqlite: list notes: %w", err)
	}
	next := ""
	if len(notes) > limit {
		notes = notes[:limit]
		last := notes[limit-1]
		next = encodeCursor(last.CreatedAt.UnixMilli(), last.ID)
	}
	return notes, next, nil
}

func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + ":" + id))
}

func decodeCursor(cursor string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		ms, id, ok := strings.Cut(string(b), ":")
		if at, err := strconv.ParseInt(ms, 10, 64); ok && err == nil {
			return at, id, nil
		}
	}
	return 0, "", genai.Errorf(genai.EINVALID, "cursor: %q is not a cursor of this list", cursor)
}

// SearchNotes answers q: by vector similarity (SearchSemantic; score the cosine
// similarity), by BM25 over titles (SearchTitle; vector unused), or by both fused by
// reciprocal rank (SearchHybrid). The query's words are matched as words only: FTS5
// syntax in them has no effect. A vector of the wrong dimension gets an EINVALID error.
func (db *DB) SearchNotes(ctx context.Context, q genai.NoteSearch, vector []float32) ([]genai.NoteHit, error) {
	if q.K <= 0 {
		q.K = genai.DefaultSearchK
	}
	q.K = min(q.K, genai.MaxSearchK)
	if q.Mode == "" {
		q.Mode = genai.SearchHybrid
	}
	if q.Mode != genai.SearchTitle {
		if err := db.usable(); err != nil {
			return nil, err
		}
		if err := db.refresh(ctx, &db.notes); err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		if err := db.checkDim(vector); err != nil {
			return nil, genai.Errorf(genai.EINVALID, "sqlite: search: query %s", err)
		}
		var ok bool
		if vector, ok = normalize(vector); !ok {
			return nil, genai.Errorf(genai.EINVALID, "sqlite: search: query vector is all zeros or has a value that is not a finite number")
		}
	}
	switch q.Mode {
	case genai.SearchSemantic:
		var hits []scored
		hits = db.notes.vec.Load().search(vector, q.K)
		return db.hits(ctx, hits)
	case genai.SearchTitle:
		hits, err := db.bm25(ctx, q.Query, true, q.K)
		if err != nil {
			return nil, err
		}
		return db.hits(ctx, hits)
	case genai.SearchHybrid:
		words, err := db.bm25(ctx, q.Query, false, hybridFetch*q.K)
		if err != nil {
			return nil, err
		}
		return db.hits(ctx, fuse(q.K, words, db.notes.vec.Load().search(vector, hybridFetch*q.K)))
	}
	return nil, genai.Errorf(genai.EINVALID, "mode: %q is not \"semantic\", \"title\" or \"hybrid\"", q.Mode)
}

// fuse merges ranked lists by reciprocal rank fusion and returns the best k.
func fuse(k int, lists ...[]scored) []scored {
	score := map[int64]float64{}
	for _, list := range lists {
		for rank, s := range list {
			score[s.rowid] += 1 / float64(rrfK+rank+1)
		}
	}
	out := make([]scored, 0, len(score))
	for rowid, s := range score {
		out = append(out, scored{rowid, float32(s)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return out[i].rowid < out[j].rowid
	})
	return out[:min(k, len(out))]
}

// bm25 returns up to k rows matching the words of query by BM25, best first: over the
// title only, or over title and text with the title weighted higher.
func (db *DB) bm25(ctx context.Context, query string, titleOnly bool, k int) ([]scored, error) {
	match := ftsQuery(query)
	if match == "" {
		return nil, nil
	}
	weights := fmt.Sprintf("%g, 1.0", titleWeight)
	if titleOnly {
		match = "{title} : (" + match + ")"
		weights = "1.0, 0.0"
	}
	// bm25() is lower for better matches; its negation is the score.
	rows, err := db.reader.QueryContext(ctx, `SELECT rowid, -bm25(notes_fts, `+weights+`) AS score
		FROM notes_fts WHERE notes_fts MATCH ? ORDER BY score DESC, rowid LIMIT ?`, match, k)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search %q: %w", query, err)
	}
	out, err := scanScored(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search %q: %w", query, err)
	}
	return out, nil
}

// scanScored reads rows of (rowid, score) and closes them.
func scanScored(rows *sql.Rows) ([]scored, error) {
	defer rows.Close()
	var out []scored
	for rows.Next() {
		var s scored
		var f float64
		if err := rows.Scan(&s.rowid, &f); err != nil {
			return nil, err
		}
		s.score = float32(f)
		out = append(out, s)
	}
	return out, rows.Err()
}

// ftsQuery turns user text into an FTS5 query that matches any of its words: each word
// a quoted string, so no input is ever FTS5 syntax. It returns "" for text without words.
func ftsQuery(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r)
	})
	seen := map[string]bool{}
	var terms []string
	for _, w := range words {
		w = strings.ToLower(w)
		if seen[w] || len(terms) == maxQueryTerms {
			continue
		}
		seen[w] = true
		terms = append(terms, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	return strings.Join(terms, " OR ")
}

// hits loads the notes of ranked rows, keeping the order; a row deleted meanwhile is
// left out.
func (db *DB) hits(ctx context.Context, ranked []scored) ([]genai.NoteHit, error) {
	out := []genai.NoteHit{}
	if len(ranked) == 0 {
		return out, nil
	}
	args := make([]any, len(ranked))
	for i, s := range ranked {
		args[i] = s.rowid
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT rowid, id, title, link, text, created_at FROM notes
		WHERE rowid IN (?`+strings.Repeat(", ?", len(ranked)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: load notes: %w", err)
	}
	defer rows.Close()
	byRow := make(map[int64]genai.Note, len(ranked))
	for rows.Next() {
		var rowid int64
		var n genai.Note
		var at int64
		if err := rows.Scan(&rowid, &n.ID, &n.Title, &n.Link, &n.Text, &at); err != nil {
			return nil, fmt.Errorf("sqlite: search: load notes: %w", err)
		}
		n.CreatedAt = time.UnixMilli(at).UTC()
		byRow[rowid] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: load notes: %w", err)
	}
	for _, s := range ranked {
		if n, ok := byRow[s.rowid]; ok {
			out = append(out, genai.NoteHit{Note: n, Score: float64(s.score)})
		}
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanNote(r scanner) (genai.Note, error) {
	var n genai.Note
	var at int64
	if err := r.Scan(&n.ID, &n.Title, &n.Link, &n.Text, &at); err != nil {
		return n, err
	}
	n.CreatedAt = time.UnixMilli(at).UTC()
	return n, nil
}

// checkDim says what is wrong with a vector of the wrong dimension.
func (db *DB) checkDim(v []float32) error {
	if len(v) != db.opts.Space.Dimensions {
		return fmt.Errorf("vector has %d dimensions, want %d (embedding space %s)", len(v), db.opts.Space.Dimensions, db.opts.Space)
	}
	return nil
}

// usable returns an EUNAVAILABLE error while the store awaits Reembed.
func (db *DB) usable() error {
	if stale := db.stale.Load(); stale != nil {
		return genai.Errorf(genai.EUNAVAILABLE, "sqlite: store %s holds vectors of %s, not %s, until `genai notes reembed` finishes", db.path, *stale, db.opts.Space)
	}
	return nil
}
