package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"genai"
)

// reembedBatch is the number of notes or chunks embedded and written per transaction.
const reembedBatch = 128

// Reembed computes the vector of every note and every document chunk again with e,
// whose space must be the store's Options.Space, and makes the store use them;
// progress, if not nil, is called after each batch with the notes and chunks done and
// their total. A chunk is embedded from Chunk.EmbeddingText, as ingestion does.
//
// New vectors go to a shadow table, a transaction per batch, while searches keep using
// the old ones; a last transaction swaps the tables and records the new space, so no
// reader ever sees vectors of two spaces. If Reembed is interrupted (error, cancel,
// kill -9), the store stays in its old space and the next Reembed into the same space
// resumes where it stopped. Notes and chunks written meanwhile are embedded again before
// the swap.
func (db *DB) Reembed(ctx context.Context, e genai.Embedder, progress func(done, total int)) error {
	target := e.Space()
	if target != db.opts.Space {
		return fmt.Errorf("sqlite: reembed: the embedder makes %s, but the store was opened for %s", target, db.opts.Space)
	}
	if err := db.startReembed(ctx, target); err != nil {
		return fmt.Errorf("sqlite: reembed: %w", err)
	}
	for {
		var total, done int
		err := db.writer.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM notes) + (SELECT count(*) FROM chunks),
			(SELECT count(*) FROM vectors_reembed) + (SELECT count(*) FROM chunk_vectors_reembed)`).Scan(&total, &done)
		if err != nil {
			return fmt.Errorf("sqlite: reembed: count notes and chunks: %w", err)
		}
		if progress != nil {
			progress(done, total)
		}
		n, err := db.reembedBatch(ctx, e)
		if err == nil && n == 0 {
			n, err = db.reembedChunks(ctx, e)
		}
		if err != nil {
			return fmt.Errorf("sqlite: reembed: %w", err)
		}
		if n > 0 {
			continue
		}
		switched, err := db.finishReembed(ctx, target)
		if err != nil {
			return fmt.Errorf("sqlite: reembed: %w", err)
		}
		if switched {
			if progress != nil {
				progress(total, total)
			}
			return nil
		}
	}
}

// startReembed records the target space of the shadow table, emptying it if it holds
// vectors of another target.
func (db *DB) startReembed(ctx context.Context, target genai.EmbeddingSpace) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prev, ok, err := readSpace(ctx, tx, "reembed_space")
	if err != nil {
		return err
	}
	if !ok || prev != target {
		for _, table := range []string{"vectors_reembed", "chunk_vectors_reembed"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table); err != nil {
				return fmt.Errorf("clear the shadow vectors: %w", err)
			}
		}
		if err := writeMeta(ctx, tx, "reembed_space", target); err != nil {
			return fmt.Errorf("record the target space: %w", err)
		}
	}
	return tx.Commit()
}

// reembedBatch embeds up to reembedBatch notes that have no shadow vector and stores
// theirs, and returns how many it took.
func (db *DB) reembedBatch(ctx context.Context, e genai.Embedder) (int, error) {
	rows, err := db.writer.QueryContext(ctx, `SELECT rowid, title, text FROM notes
		WHERE rowid NOT IN (SELECT note_rowid FROM vectors_reembed) ORDER BY rowid LIMIT ?`, reembedBatch)
	if err != nil {
		return 0, fmt.Errorf("read notes: %w", err)
	}
	var (
		rowids []int64
		notes  []genai.Note
		texts  []string
	)
	for rows.Next() {
		var rowid int64
		var n genai.Note
		if err := rows.Scan(&rowid, &n.Title, &n.Text); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read notes: %w", err)
		}
		rowids, notes, texts = append(rowids, rowid), append(notes, n), append(texts, n.EmbeddingText())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read notes: %w", err)
	}
	if len(rowids) == 0 {
		return 0, nil
	}
	vectors, err := e.Embed(ctx, texts)
	if err != nil {
		return 0, fmt.Errorf("embed: %w", err)
	}
	if len(vectors) != len(texts) {
		return 0, fmt.Errorf("embed: %d vectors for %d texts", len(vectors), len(texts))
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// Only if the note still has the text that was embedded: a note changed meanwhile
	// is left for the next batch.
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO vectors_reembed (note_rowid, vector)
		SELECT rowid, ? FROM notes WHERE rowid = ? AND title = ? AND text = ?`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i, v := range vectors {
		if err := db.checkDim(v); err != nil {
			return 0, fmt.Errorf("embed note row %d: %w", rowids[i], err)
		}
		unit, ok := normalize(v)
		if !ok {
			return 0, fmt.Errorf("embed note row %d: a value is not a finite number", rowids[i])
		}
		if _, err := stmt.ExecContext(ctx, encodeVector(unit), rowids[i], notes[i].Title, notes[i].Text); err != nil {
			return 0, fmt.Errorf("store vector of note row %d: %w", rowids[i], err)
		}
	}
	return len(rowids), tx.Commit()
}

// finishReembed swaps the shadow vectors in and records the new space, in one
// transaction, if every note has a shadow vector; it reports whether it did.
func (db *DB) finishReembed(ctx context.Context, target genai.EmbeddingSpace) (bool, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var missing int
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM notes WHERE rowid NOT IN (SELECT note_rowid FROM vectors_reembed))
		+ (SELECT count(*) FROM chunks WHERE rowid NOT IN (SELECT chunk_rowid FROM chunk_vectors_reembed))`).Scan(&missing); err != nil {
		return false, err
	}
	if missing > 0 {
		return false, nil // written meanwhile: embed those first
	}
	for _, stmt := range []string{
		`DROP TABLE vectors`,
		`ALTER TABLE vectors_reembed RENAME TO vectors`,
		vectorsTable,
		`DROP TABLE chunk_vectors`,
		`ALTER TABLE chunk_vectors_reembed RENAME TO chunk_vectors`,
		chunkVectorsTable,
		`DELETE FROM meta WHERE key = 'reembed_space'`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("swap in the new vectors: %w", err)
		}
	}
	for _, t := range []*vectorTable{&db.notes, &db.chunks} {
		if _, err := bumpWrites(ctx, tx, t); err != nil {
			return false, fmt.Errorf("swap in the new vectors: %w", err)
		}
	}
	if err := writeMeta(ctx, tx, "space", target); err != nil {
		return false, fmt.Errorf("record the new space: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("swap in the new vectors: %w", err)
	}
	for _, t := range []*vectorTable{&db.notes, &db.chunks} {
		if err := db.loadVectors(ctx, t); err != nil {
			return true, errors.Join(errors.New("the store is re-embedded but its vectors did not load; open it again"), err)
		}
	}
	db.stale.Store(nil)
	return true, nil
}

// reembedChunks embeds up to reembedBatch chunks that have no shadow vector and stores
// theirs, and returns how many it took. Chunks never change (a new version of a
// document has new chunk rows), so a chunk deleted meanwhile is all that can happen.
func (db *DB) reembedChunks(ctx context.Context, e genai.Embedder) (int, error) {
	rows, err := db.writer.QueryContext(ctx, `SELECT rowid, headings, text FROM chunks
		WHERE rowid NOT IN (SELECT chunk_rowid FROM chunk_vectors_reembed) ORDER BY rowid LIMIT ?`, reembedBatch)
	if err != nil {
		return 0, fmt.Errorf("read chunks: %w", err)
	}
	var (
		rowids []int64
		texts  []string
	)
	for rows.Next() {
		var rowid int64
		var headings string
		var c genai.Chunk
		if err := rows.Scan(&rowid, &headings, &c.Text); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read chunks: %w", err)
		}
		if err := json.Unmarshal([]byte(headings), &c.Headings); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read chunk row %d: headings: %w", rowid, err)
		}
		rowids, texts = append(rowids, rowid), append(texts, c.EmbeddingText())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read chunks: %w", err)
	}
	if len(rowids) == 0 {
		return 0, nil
	}
	vectors, err := e.Embed(ctx, texts)
	if err != nil {
		return 0, fmt.Errorf("embed: %w", err)
	}
	if len(vectors) != len(texts) {
		return 0, fmt.Errorf("embed: %d vectors for %d texts", len(vectors), len(texts))
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO chunk_vectors_reembed (chunk_rowid, vector) SELECT rowid, ? FROM chunks WHERE rowid = ?`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for i, v := range vectors {
		if err := db.checkDim(v); err != nil {
			return 0, fmt.Errorf("embed chunk row %d: %w", rowids[i], err)
		}
		unit, ok := normalize(v)
		if !ok {
			return 0, fmt.Errorf("embed chunk row %d: a value is not a finite number", rowids[i])
		}
		if _, err := stmt.ExecContext(ctx, encodeVector(unit), rowids[i]); err != nil {
			return 0, fmt.Errorf("store vector of chunk row %d: %w", rowids[i], err)
		}
	}
	return len(rowids), tx.Commit()
}
