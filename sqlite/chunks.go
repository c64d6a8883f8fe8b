package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"genai"
)

var _ genai.ChunkStore = (*DB)(nil)

// PutDocument stores doc with its chunks and one vector per chunk in one durable
// transaction, replacing the document of the same ID, and the document of the same
// URI if another has it, with all their old chunks. Document.Chunks is set to the
// number of chunks. A chunk with an empty DocumentID belongs to doc. It returns an
// EINVALID error, and stores nothing, for a document without an ID, a chunk without an
// ID or of another document, a chunk ID twice or taken by another document, a vector
// count other than the chunk count, or a vector of the wrong dimension, all zeros or
// not finite. Vectors are stored scaled to unit length.
func (db *DB) PutDocument(ctx context.Context, doc genai.Document, chunks []genai.Chunk, vectors [][]float32) error {
	return db.PutDocuments(ctx, []genai.Document{doc}, [][]genai.Chunk{chunks}, [][][]float32{vectors})
}

// PutDocuments stores docs[i] with chunks[i] and vectors[i] for every i as PutDocument
// does, all in one transaction: either every document is stored or none is. One
// durable commit for many small documents is much faster than one each.
func (db *DB) PutDocuments(ctx context.Context, docs []genai.Document, chunks [][]genai.Chunk, vectors [][][]float32) error {
	if err := db.usable(); err != nil {
		return err
	}
	if len(chunks) != len(docs) || len(vectors) != len(docs) {
		return genai.Errorf(genai.EINVALID, "sqlite: put documents: %d documents with %d chunk lists and %d vector lists", len(docs), len(chunks), len(vectors))
	}
	unit := make([][][]float32, len(docs))
	for i, doc := range docs {
		var err error
		if unit[i], err = db.checkDocument(doc, chunks[i], vectors[i]); err != nil {
			return err
		}
	}
	if len(docs) == 0 {
		return nil
	}

	// Words are analysed before the write lock, so that writers of several documents
	// do it in parallel.
	var words []lexicalRow
	for d, doc := range docs {
		for _, c := range chunks[d] {
			words = append(words, analyze(lexicalChunk{id: c.ID, document: doc.ID, title: doc.Title, headings: c.Headings, text: c.Text},
				db.opts.ChunkBM25Weights, db.chunks.stems.stem))
		}
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	old, rowids, err := db.putDocumentsTx(ctx, docs, chunks, unit)
	if err != nil {
		return db.fullErr(err)
	}
	for i := range words {
		words[i].rowid = rowids[i]
	}
	db.lexical().replace(old, words)
	set := db.chunks.vec.Load()
	for _, r := range old {
		set.remove(r)
	}
	if err := set.put(rowids, slices.Concat(unit...)); err != nil {
		return fmt.Errorf("sqlite: put documents: stored, but not indexed until the next open: %w", err)
	}
	return nil
}

// checkDocument checks a document for PutDocuments and returns its vectors at unit
// length.
func (db *DB) checkDocument(doc genai.Document, chunks []genai.Chunk, vectors [][]float32) ([][]float32, error) {
	if doc.ID == "" {
		return nil, genai.Errorf(genai.EINVALID, "sqlite: put document: id is required")
	}
	if len(chunks) != len(vectors) {
		return nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: %d chunks but %d vectors", doc.ID, len(chunks), len(vectors))
	}
	unit := make([][]float32, len(vectors))
	seen := make(map[string]bool, len(chunks))
	for i, c := range chunks {
		switch {
		case c.ID == "":
			return nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: chunks[%d]: id is required", doc.ID, i)
		case c.DocumentID != "" && c.DocumentID != doc.ID:
			return nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: chunk %q is of document %q", doc.ID, c.ID, c.DocumentID)
		case seen[c.ID]:
			return nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: chunk id %q twice", doc.ID, c.ID)
		}
		seen[c.ID] = true
		if err := db.checkDim(vectors[i]); err != nil {
			return nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: chunk %q: %s", doc.ID, c.ID, err)
		}
		var ok bool
		if unit[i], ok = normalize(vectors[i]); !ok {
			return nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: chunk %q: vector is all zeros or has a value that is not a finite number", doc.ID, c.ID)
		}
	}
	return unit, nil
}

// putDocumentsTx writes the documents and returns the rows of the chunks they
// replaced and of their new chunks, in order.
func (db *DB) putDocumentsTx(ctx context.Context, docs []genai.Document, chunks [][]genai.Chunk, vectors [][][]float32) (old, rowids []int64, err error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: put documents: begin: %w", err)
	}
	defer tx.Rollback()
	if space, _, err := readSpace(ctx, tx, "space"); err != nil {
		return nil, nil, fmt.Errorf("sqlite: put documents: %w", err)
	} else if space != db.opts.Space {
		return nil, nil, genai.Errorf(genai.EUNAVAILABLE, "sqlite: put documents: the store now holds vectors of %s, not %s; restart with the embedder of %s", space, db.opts.Space, space)
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO chunks (id, document_id, idx, headings, text, page) VALUES (?, ?, ?, ?, ?, ?) RETURNING rowid`)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: put documents: %w", err)
	}
	defer insert.Close()
	setVector, err := tx.PrepareContext(ctx, `INSERT INTO chunk_vectors (chunk_rowid, vector) VALUES (?, ?)`)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: put documents: %w", err)
	}
	defer setVector.Close()
	for d, doc := range docs {
		uri := sql.NullString{String: doc.URI, Valid: doc.URI != ""}
		replaced, err := rowsOf(ctx, tx, `SELECT c.rowid FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.id = ? OR d.uri = ?`, doc.ID, uri)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: put document %q: %w", doc.ID, err)
		}
		old = append(old, replaced...)
		// The old chunks go by cascade, with their vectors and FTS rows (by trigger).
		if _, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE id = ? OR uri = ?`, doc.ID, uri); err != nil {
			return nil, nil, fmt.Errorf("sqlite: put document %q: delete the old version: %w", doc.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO documents (id, title, uri, hash, format, bytes, chunks, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			doc.ID, doc.Title, uri, doc.Hash, doc.Format, doc.Bytes, len(chunks[d]), doc.CreatedAt.UnixMilli()); err != nil {
			return nil, nil, fmt.Errorf("sqlite: put document %q: %w", doc.ID, err)
		}
		for i, c := range chunks[d] {
			headings, err := json.Marshal(nonNil(c.Headings))
			if err != nil {
				return nil, nil, fmt.Errorf("sqlite: put chunk %q: %w", c.ID, err)
			}
			var rowid int64
			if err := insert.QueryRowContext(ctx, c.ID, doc.ID, c.Index, string(headings), c.Text, c.Page).Scan(&rowid); err != nil {
				if strings.Contains(err.Error(), "UNIQUE constraint failed: chunks.id") {
					return nil, nil, genai.Errorf(genai.EINVALID, "sqlite: put document %q: chunk id %q is taken by another document", doc.ID, c.ID)
				}
				return nil, nil, fmt.Errorf("sqlite: put chunk %q: %w", c.ID, err)
			}
			if rowid > math.MaxUint32 { // the vector index keys rows by uint32
				return nil, nil, fmt.Errorf("sqlite: put chunk %q: row %d is beyond the vector index's range", c.ID, rowid)
			}
			if _, err := setVector.ExecContext(ctx, rowid, encodeVector(vectors[d][i])); err != nil {
				return nil, nil, fmt.Errorf("sqlite: put chunk %q: vector: %w", c.ID, err)
			}
			rowids = append(rowids, rowid)
		}
	}
	writes, err := bumpWrites(ctx, tx, &db.chunks)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: put documents: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("sqlite: put documents: commit: %w", err)
	}
	db.chunks.advance(writes)
	return old, rowids, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rowsOf returns the int64s the query selects.
func rowsOf(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const documentColumns = `id, title, coalesce(uri, ''), hash, format, bytes, chunks, created_at`

func scanDocument(r scanner) (genai.Document, error) {
	var d genai.Document
	var at int64
	err := r.Scan(&d.ID, &d.Title, &d.URI, &d.Hash, &d.Format, &d.Bytes, &d.Chunks, &at)
	d.CreatedAt = time.UnixMilli(at).UTC()
	return d, err
}

// GetDocument returns the document of id, or an ENOTFOUND error.
func (db *DB) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	d, err := scanDocument(db.reader.QueryRowContext(ctx, `SELECT `+documentColumns+` FROM documents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, genai.Errorf(genai.ENOTFOUND, "document %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get document %q: %w", id, err)
	}
	return &d, nil
}

// DocumentByURI returns the document of uri, or an ENOTFOUND error.
func (db *DB) DocumentByURI(ctx context.Context, uri string) (*genai.Document, error) {
	d, err := scanDocument(db.reader.QueryRowContext(ctx, `SELECT `+documentColumns+` FROM documents WHERE uri = ?`, uri))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, genai.Errorf(genai.ENOTFOUND, "no document of uri %q", uri)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: document of uri %q: %w", uri, err)
	}
	return &d, nil
}

// ListDocuments returns every document, newest first.
func (db *DB) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT `+documentColumns+` FROM documents ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list documents: %w", err)
	}
	defer rows.Close()
	docs := []genai.Document{}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list documents: %w", err)
		}
		docs = append(docs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list documents: %w", err)
	}
	return docs, nil
}

// DocumentChunks returns the chunks of the document of id in order, or an ENOTFOUND
// error. One read transaction sees the document and its chunks as of one moment.
func (db *DB) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: chunks of document %q: %w", id, err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM documents WHERE id = ?`, id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return nil, genai.Errorf(genai.ENOTFOUND, "document %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: chunks of document %q: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, document_id, idx, headings, page, text FROM chunks WHERE document_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: chunks of document %q: %w", id, err)
	}
	defer rows.Close()
	chunks := []genai.Chunk{}
	for rows.Next() {
		var c genai.Chunk
		var headings string
		if err := rows.Scan(&c.ID, &c.DocumentID, &c.Index, &headings, &c.Page, &c.Text); err != nil {
			return nil, fmt.Errorf("sqlite: chunks of document %q: %w", id, err)
		}
		if err := json.Unmarshal([]byte(headings), &c.Headings); err != nil {
			return nil, fmt.Errorf("sqlite: chunks of document %q: headings of chunk %q: %w", id, c.ID, err)
		}
		if len(c.Headings) == 0 {
			c.Headings = nil
		}
		chunks = append(chunks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: chunks of document %q: %w", id, err)
	}
	return chunks, nil
}

// DeleteDocument deletes the document of id with its chunks, their vectors and their
// words, in one transaction, or returns an ENOTFOUND error.
func (db *DB) DeleteDocument(ctx context.Context, id string) error {
	if err := db.usable(); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete document %q: %w", id, err)
	}
	defer tx.Rollback()
	old, err := rowsOf(ctx, tx, `SELECT rowid FROM chunks WHERE document_id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete document %q: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete document %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete document %q: %w", id, err)
	} else if n == 0 {
		return genai.Errorf(genai.ENOTFOUND, "document %q not found", id)
	}
	writes, err := bumpWrites(ctx, tx, &db.chunks)
	if err != nil {
		return fmt.Errorf("sqlite: delete document %q: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return db.fullErr(fmt.Errorf("sqlite: delete document %q: commit: %w", id, err))
	}
	db.lexical().remove(old)
	set := db.chunks.vec.Load()
	for _, r := range old {
		set.remove(r)
	}
	db.chunks.advance(writes)
	return nil
}

// RankChunks ranks the chunks by r (see genai.ChunkSearcher) without loading them:
// each hit has only its ID, DocumentID and Score. By words, the score is BM25 over
// each chunk's words, its headings' and its document title's, from the in-memory index
// (see lexicalIndex); by vector, the cosine similarity, exact up to
// Options.ExactThreshold chunks and approximate (HNSW) beyond, and exact filtered by
// document. A vector of the wrong dimension, all zeros or not finite gets an EINVALID
// error.
func (db *DB) RankChunks(ctx context.Context, r genai.ChunkRanking) ([]genai.ChunkHit, error) {
	if err := db.usable(); err != nil {
		return nil, err
	}
	var vector []float32
	if r.Vector != nil {
		if err := db.checkDim(r.Vector); err != nil {
			return nil, genai.Errorf(genai.EINVALID, "sqlite: search chunks: query %s", err)
		}
		var ok bool
		if vector, ok = normalize(r.Vector); !ok {
			return nil, genai.Errorf(genai.EINVALID, "sqlite: search chunks: query vector is all zeros or has a value that is not a finite number")
		}
	}
	// Bring the in-memory indexes up to date with writes of other processes.
	if err := db.refresh(ctx, &db.chunks); err != nil {
		return nil, fmt.Errorf("sqlite: search chunks: %w", err)
	}
	release, err := db.searchSlot(ctx, &db.chunks)
	if err != nil {
		return nil, err
	}
	defer release()
	var ranked []scored
	if vector != nil {
		ranked, err = db.nearestChunks(ctx, vector, r.N, r.DocumentID)
	} else {
		ranked, err = db.bm25Chunks(ctx, r.Text, r.N, r.DocumentID)
	}
	if err != nil {
		return nil, err
	}
	return db.lexical().named(ranked), nil
}

// LoadChunks returns the chunks of hits (found by their IDs) in full: text, headings,
// page, document title and URI, in the order of hits and with their scores. A chunk no
// longer stored is left out. One query reads them all, so the chunks of a document are
// of one version.
func (db *DB) LoadChunks(ctx context.Context, hits []genai.ChunkHit) ([]genai.ChunkHit, error) {
	out := make([]genai.ChunkHit, 0, len(hits))
	if len(hits) == 0 {
		return out, nil
	}
	if err := db.usable(); err != nil {
		return nil, err
	}
	release, err := db.searchSlot(ctx, &db.chunks)
	if err != nil {
		return nil, err
	}
	defer release()
	args := make([]any, len(hits))
	for i, h := range hits {
		args[i] = h.ID
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT c.id, c.document_id, c.idx, c.headings, c.page, c.text, d.title, coalesce(d.uri, '')
		FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.id IN (?`+strings.Repeat(", ?", len(hits)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search chunks: load chunks: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]genai.ChunkHit, len(hits))
	for rows.Next() {
		var h genai.ChunkHit
		var headings string
		if err := rows.Scan(&h.ID, &h.DocumentID, &h.Index, &headings, &h.Page, &h.Text, &h.Title, &h.URI); err != nil {
			return nil, fmt.Errorf("sqlite: search chunks: load chunks: %w", err)
		}
		if headings != "[]" {
			if err := json.Unmarshal([]byte(headings), &h.Headings); err != nil {
				return nil, fmt.Errorf("sqlite: search chunks: headings of chunk %q: %w", h.ID, err)
			}
		}
		if len(h.Headings) == 0 {
			h.Headings = nil
		}
		byID[h.ID] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search chunks: load chunks: %w", err)
	}
	for _, h := range hits {
		if c, ok := byID[h.ID]; ok {
			c.Score = h.Score
			out = append(out, c)
		}
	}
	return out, nil
}

// bm25Chunks returns up to n chunk rows matching the words of query, best first, from
// the in-memory BM25 index (see lexicalIndex).
func (db *DB) bm25Chunks(ctx context.Context, query string, n int, documentID string) ([]scored, error) {
	if n <= 0 {
		return nil, nil
	}
	var lo, hi sql.NullInt64
	if documentID != "" {
		// A document's chunks have consecutive rows (one transaction, rows never
		// reused).
		if err := db.reader.QueryRowContext(ctx, `SELECT min(rowid), max(rowid) FROM chunks WHERE document_id = ?`, documentID).Scan(&lo, &hi); err != nil {
			return nil, fmt.Errorf("sqlite: search chunks of document %q: %w", documentID, err)
		}
		if !lo.Valid {
			return nil, nil
		}
	}
	return db.lexical().search(query, n, lo.Int64, hi.Int64), nil
}

// nearestChunks returns up to n chunk rows nearest the unit vector q, best first: from
// the in-memory vectors, or, filtered by document, by a scan of that document's
// stored vectors in one query.
func (db *DB) nearestChunks(ctx context.Context, q []float32, n int, documentID string) ([]scored, error) {
	if n <= 0 {
		return nil, nil
	}
	if documentID == "" {
		return db.chunks.vec.Load().search(q, n), nil
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT v.chunk_rowid, v.vector FROM chunks c JOIN chunk_vectors v ON v.chunk_rowid = c.rowid
		WHERE c.document_id = ?`, documentID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search chunks of document %q: %w", documentID, err)
	}
	defer rows.Close()
	h := make(topK, 0, n+1)
	v := make([]float32, len(q))
	for rows.Next() {
		var rowid int64
		var blob []byte
		if err := rows.Scan(&rowid, &blob); err != nil {
			return nil, fmt.Errorf("sqlite: search chunks of document %q: %w", documentID, err)
		}
		if len(blob) != 4*len(q) {
			return nil, fmt.Errorf("sqlite: vector of chunk row %d has %d bytes, want %d", rowid, len(blob), 4*len(q))
		}
		decodeVector(v, blob)
		h.offer(scored{rowid, dot(q, v)}, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search chunks of document %q: %w", documentID, err)
	}
	return h.sorted(), nil
}

// englishStopWords are left out of BM25 queries (see queryTerms): Lucene's English stop words, which
// OpenSearch's english analyzer drops too. They match most chunks and rank few.
var englishStopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by for if in into is it no not of on or
		such that the their then there these they this to was will with`) {
		m[w] = true
	}
	return m
}()
