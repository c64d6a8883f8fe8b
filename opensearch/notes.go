package opensearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
)

// document is a note as the index stores it.
type document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Link      string    `json:"link"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	Embedding []float32 `json:"embedding,omitempty"`
}

func (d *document) note() genai.Note {
	return genai.Note{ID: d.ID, Title: d.Title, Link: d.Link, Text: d.Text, CreatedAt: d.CreatedAt}
}

// Limits of the OpenSearch side.
const (
	maxIDBytes       = 512     // OpenSearch's limit on _id
	maxBulkBytes     = 8 << 20 // per bulk request: under AOSS's and small domains' 10 MiB
	maxListLimit     = 1000    // notes in one page of ListNotes
	rrfK             = 60      // reciprocal rank fusion constant, as in the RRF paper
	refreshWaitFor   = "wait_for"
	embeddingField   = "embedding"
	maxHybridPerList = 200
)

// excludeEmbedding keeps vectors out of read responses: they are large and unused.
var excludeEmbedding = map[string]any{"excludes": []string{embeddingField}}

// refresh is the refresh parameter of a write: wait until it is searchable, except on
// AOSS, which has no refresh and makes writes searchable within about a second.
func (s *Store) refresh() string {
	if s.serverless {
		return ""
	}
	return refreshWaitFor
}

// checkVector returns an EINVALID error unless v is a vector of the store's space.
func (s *Store) checkVector(what string, v []float32) error {
	if len(v) != s.space.Dimensions {
		return genai.Errorf(genai.EINVALID, "%s: vector of %d dimensions, but the store's embedding space %s has %d",
			what, len(v), s.space, s.space.Dimensions)
	}
	var norm float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return genai.Errorf(genai.EINVALID, "%s: vector holds NaN or infinity", what)
		}
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		return genai.Errorf(genai.EINVALID, "%s: zero vector, which has no cosine similarity", what)
	}
	return nil
}

// PutNotes indexes notes with their vectors in bulk requests, replacing notes of the
// same ID. It checks every note before sending any. If OpenSearch rejects an item, the
// error names the first failing note; the notes of the call that were newly created
// are deleted again, so a retry starts clean (replaced notes keep their new version).
func (s *Store) PutNotes(ctx context.Context, notes []genai.Note, vectors [][]float32) error {
	if len(vectors) != len(notes) {
		return genai.Errorf(genai.EINVALID, "notes: %d notes but %d vectors", len(notes), len(vectors))
	}
	var bodies [][]byte
	var chunkIDs [][]string // the note IDs of each body, in order: AOSS answers no note IDs
	var ids []string
	var chunk bytes.Buffer
	for i, n := range notes {
		what := fmt.Sprintf("notes[%d] (%q)", i, n.ID)
		switch {
		case n.ID == "":
			return genai.Errorf(genai.EINVALID, "notes[%d]: no ID", i)
		case len(n.ID) > maxIDBytes:
			return genai.Errorf(genai.EINVALID, "notes[%d]: ID of %d bytes, over OpenSearch's limit of %d", i, len(n.ID), maxIDBytes)
		}
		if err := s.checkVector(what, vectors[i]); err != nil {
			return err
		}
		meta := map[string]string{"_id": n.ID}
		if s.serverless {
			meta = map[string]string{} // AOSS vector collections assign _id themselves
		}
		action, _ := json.Marshal(map[string]any{"index": meta})
		source, err := json.Marshal(document{ID: n.ID, Title: n.Title, Link: n.Link, Text: n.Text,
			CreatedAt: n.CreatedAt.UTC(), Embedding: vectors[i]})
		if err != nil {
			return genai.Errorf(genai.EINVALID, "%s: %v", what, err)
		}
		if chunk.Len() > 0 && chunk.Len()+len(action)+len(source)+2 > maxBulkBytes {
			bodies = append(bodies, bytes.Clone(chunk.Bytes()))
			chunkIDs = append(chunkIDs, ids)
			chunk.Reset()
			ids = nil
		}
		ids = append(ids, n.ID)
		chunk.Write(action)
		chunk.WriteByte('\n')
		chunk.Write(source)
		chunk.WriteByte('\n')
	}
	if chunk.Len() > 0 {
		bodies = append(bodies, chunk.Bytes())
		chunkIDs = append(chunkIDs, ids)
	}

	var created []string
	for c, body := range bodies {
		resp, err := s.client.Bulk(ctx, opensearchapi.BulkReq{
			Index:  s.index,
			Body:   bytes.NewReader(body),
			Params: opensearchapi.BulkParams{Refresh: s.refresh()},
		})
		if err != nil {
			s.rollback(created)
			return s.fail("bulk index", resp.Inspect().Response, err)
		}
		var failed error
		for i, item := range resp.Items {
			for _, r := range item {
				switch {
				case r.Error != nil && failed == nil:
					id := r.ID
					if i < len(chunkIDs[c]) {
						id = chunkIDs[c][i]
					}
					msg := fmt.Sprintf("opensearch: bulk index, index %q: note %q refused: %d %s: %s",
						s.index, id, r.Status, r.Error.Type, r.Error.Reason)
					if r.Error.Cause.Reason != "" {
						msg += " (caused by " + r.Error.Cause.Type + ": " + r.Error.Cause.Reason + ")"
					}
					failed = &genai.Error{Code: statusCode(r.Status), Message: msg}
				case r.Error == nil && r.Result == "created":
					created = append(created, r.ID)
				}
			}
		}
		if failed == nil && resp.Errors {
			failed = genai.Errorf(genai.EUPSTREAM, "opensearch: bulk index, index %q: the response reports errors but names no failed item", s.index)
		}
		if failed != nil {
			s.rollback(created)
			return failed
		}
	}
	if s.serverless {
		return s.deleteOlderVersions(ctx, notes, created)
	}
	return nil
}

// deleteOlderVersions deletes, on AOSS, the documents of the notes' IDs other than the
// ones just written: there a note's document has an _id of the collection's choosing,
// so replacing a note is writing the new document, then deleting the old ones. The new
// version is written first so that a failure between the two steps leaves a duplicate
// rather than a lost note.
func (s *Store) deleteOlderVersions(ctx context.Context, notes []genai.Note, keep []string) error {
	ids := make([]string, len(notes))
	for i, n := range notes {
		ids[i] = n.ID
	}
	docIDs, err := s.docIDs(ctx, "replace notes", ids)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	for _, id := range docIDs {
		if slices.Contains(keep, id) {
			continue
		}
		action, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": id}})
		body.Write(action)
		body.WriteByte('\n')
	}
	if body.Len() == 0 {
		return nil
	}
	resp, err := s.client.Bulk(ctx, opensearchapi.BulkReq{Index: s.index, Body: &body})
	if err != nil {
		return s.fail("delete replaced notes", resp.Inspect().Response, err)
	}
	for _, item := range resp.Items {
		for _, r := range item {
			if r.Error != nil {
				return genai.Errorf(statusCode(r.Status), "opensearch: delete replaced notes, index %q: document %q: %d %s: %s",
					s.index, r.ID, r.Status, r.Error.Type, r.Error.Reason)
			}
		}
	}
	return nil
}

// docIDs returns the _ids of the documents of note IDs, found by the id field.
func (s *Store) docIDs(ctx context.Context, op string, ids []string) ([]string, error) {
	hits, err := s.search(ctx, op, map[string]any{
		"size":    min(10000, 4*len(ids)+10), // room for transient duplicates
		"query":   map[string]any{"terms": map[string]any{"id": ids}},
		"_source": false,
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out, nil
}

// rollback deletes notes a failed PutNotes created, on a context of its own: the
// caller's may be what failed.
func (s *Store) rollback(ids []string) {
	if len(ids) == 0 {
		return
	}
	var body bytes.Buffer
	for _, id := range ids {
		action, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": id}})
		body.Write(action)
		body.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.client.Bulk(ctx, opensearchapi.BulkReq{Index: s.index, Body: &body, Params: opensearchapi.BulkParams{Refresh: s.refresh()}})
}

// GetNote returns the note of an ID, or an ENOTFOUND error.
func (s *Store) GetNote(ctx context.Context, id string) (*genai.Note, error) {
	if id == "" || len(id) > maxIDBytes {
		return nil, genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	if s.serverless {
		return s.getByField(ctx, id)
	}
	resp, err := s.client.Document.Get(ctx, opensearchapi.DocumentGetReq{
		Index: s.index, DocumentID: id,
		Params: opensearchapi.DocumentGetParams{SourceExcludes: []string{embeddingField}},
	})
	if err != nil {
		r := resp.Inspect().Response
		if r != nil && r.StatusCode == http.StatusNotFound && errorType(r) == "not_found" {
			return nil, genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
		}
		return nil, s.fail("get note", r, err)
	}
	if !resp.Found {
		return nil, genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	var d document
	if err := json.Unmarshal(resp.Source, &d); err != nil {
		return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: note %q: unreadable document: %v", id, err)
	}
	n := d.note()
	return &n, nil
}

// DeleteNote deletes the note of an ID, or returns an ENOTFOUND error.
func (s *Store) DeleteNote(ctx context.Context, id string) error {
	if id == "" || len(id) > maxIDBytes {
		return genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	if s.serverless {
		return s.deleteByField(ctx, id)
	}
	resp, err := s.client.Document.Delete(ctx, opensearchapi.DocumentDeleteReq{
		Index: s.index, DocumentID: id,
		Params: opensearchapi.DocumentDeleteParams{Refresh: s.refresh()},
	})
	if err != nil {
		r := resp.Inspect().Response
		if r != nil && r.StatusCode == http.StatusNotFound && errorType(r) == "not_found" {
			return genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
		}
		return s.fail("delete note", r, err)
	}
	return nil
}

// getByField finds a note by its id field, on AOSS, where _id is not the note's ID.
func (s *Store) getByField(ctx context.Context, id string) (*genai.Note, error) {
	hits, err := s.search(ctx, "get note", map[string]any{
		"size":    1,
		"query":   map[string]any{"term": map[string]any{"id": id}},
		"_source": excludeEmbedding,
	})
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return nil, genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	d, err := s.decodeHit(hits[0])
	if err != nil {
		return nil, err
	}
	n := d.note()
	return &n, nil
}

// deleteByField deletes the documents of a note found by its id field, on AOSS.
func (s *Store) deleteByField(ctx context.Context, id string) error {
	docIDs, err := s.docIDs(ctx, "delete note", []string{id})
	if err != nil {
		return err
	}
	if len(docIDs) == 0 {
		return genai.Errorf(genai.ENOTFOUND, "note %q not found", id)
	}
	var body bytes.Buffer
	for _, d := range docIDs {
		action, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": d}})
		body.Write(action)
		body.WriteByte('\n')
	}
	resp, err := s.client.Bulk(ctx, opensearchapi.BulkReq{Index: s.index, Body: &body})
	if err != nil {
		return s.fail("delete note", resp.Inspect().Response, err)
	}
	for _, item := range resp.Items {
		for _, r := range item {
			if r.Error != nil && r.Status != http.StatusNotFound {
				return genai.Errorf(statusCode(r.Status), "opensearch: delete note %q, index %q: %d %s: %s",
					id, s.index, r.Status, r.Error.Type, r.Error.Reason)
			}
		}
	}
	return nil
}

// ListNotes returns up to limit notes, newest first (ties by ID, descending), and the
// cursor of the next page. The cursor is the sort values of the last note, for
// search_after, so pages stay consistent while notes are added.
func (s *Store) ListNotes(ctx context.Context, limit int, cursor string) ([]genai.Note, string, error) {
	if limit < 1 {
		return nil, "", genai.Errorf(genai.EINVALID, "limit: must be at least 1, got %d", limit)
	}
	limit = min(limit, maxListLimit)
	body := map[string]any{
		"size":             limit + 1, // one more tells whether there is a next page
		"query":            map[string]any{"match_all": map[string]any{}},
		"sort":             []any{map[string]any{"created_at": map[string]any{"order": "desc"}}, map[string]any{"id": map[string]any{"order": "desc"}}},
		"_source":          excludeEmbedding,
		"track_total_hits": false,
	}
	if cursor != "" {
		after, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		body["search_after"] = after
	}
	hits, err := s.search(ctx, "list notes", body)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next, err = encodeCursor(hits[limit-1].Sort)
		if err != nil {
			return nil, "", genai.Errorf(genai.EUPSTREAM, "opensearch: list notes, index %q: unusable sort values %v", s.index, hits[limit-1].Sort)
		}
	}
	notes := make([]genai.Note, 0, len(hits))
	for _, h := range hits {
		d, err := s.decodeHit(h)
		if err != nil {
			return nil, "", err
		}
		notes = append(notes, d.note())
	}
	return notes, next, nil
}

// A cursor is base64url of the JSON array [created_at in epoch ms, id]: opaque to
// clients, and checked on the way back in.
func encodeCursor(sort []any) (string, error) {
	if len(sort) != 2 {
		return "", fmt.Errorf("want 2 sort values, got %d", len(sort))
	}
	b, err := json.Marshal(sort)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeCursor(cursor string) ([]any, error) {
	bad := genai.Errorf(genai.EINVALID, "cursor: %q is not a cursor of this list", cursor)
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, bad
	}
	var v []json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil || len(v) != 2 {
		return nil, bad
	}
	var ms int64
	var id string
	if json.Unmarshal(v[0], &ms) != nil || json.Unmarshal(v[1], &id) != nil {
		return nil, bad
	}
	return []any{ms, id}, nil
}

// SearchNotes answers q: by k-NN on the embedding (semantic), BM25 on the title
// (title), or both fused by reciprocal rank (hybrid). Scores: OpenSearch's cosinesimil
// score (1 + cosine) / 2, BM25, or the fused RRF score.
func (s *Store) SearchNotes(ctx context.Context, q genai.NoteSearch, vector []float32) ([]genai.NoteHit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.Mode != genai.SearchTitle {
		if err := s.checkVector("query", vector); err != nil {
			return nil, err
		}
	}
	switch q.Mode {
	case genai.SearchSemantic:
		return s.semantic(ctx, vector, q.K)
	case genai.SearchTitle:
		return s.title(ctx, q.Query, q.K)
	}
	return s.hybrid(ctx, q.Query, vector, q.K)
}

func (s *Store) semantic(ctx context.Context, vector []float32, k int) ([]genai.NoteHit, error) {
	return s.searchHits(ctx, "semantic search", map[string]any{
		"size":    k,
		"query":   map[string]any{"knn": map[string]any{embeddingField: map[string]any{"vector": vector, "k": k}}},
		"_source": excludeEmbedding,
	})
}

func (s *Store) title(ctx context.Context, query string, k int) ([]genai.NoteHit, error) {
	// A match query analyzes the text into words: no query syntax reaches the
	// engine, so any text is a valid query.
	return s.searchHits(ctx, "title search", map[string]any{
		"size":    k,
		"query":   map[string]any{"match": map[string]any{"title": map[string]any{"query": query}}},
		"_source": excludeEmbedding,
	})
}

// hybrid runs the semantic and the title search and fuses their rankings by
// reciprocal rank fusion (score = Σ 1/(60 + rank)) here in the client. OpenSearch's
// own hybrid query needs a search pipeline with a normalization processor, which AOSS
// and older clusters lack; two plain queries work everywhere.
func (s *Store) hybrid(ctx context.Context, query string, vector []float32, k int) ([]genai.NoteHit, error) {
	n := min(max(2*k, 20), maxHybridPerList) // deeper lists than k, so fusion can promote
	type result struct {
		hits []genai.NoteHit
		err  error
	}
	titleDone := make(chan result, 1)
	go func() {
		hits, err := s.title(ctx, query, n)
		titleDone <- result{hits, err}
	}()
	semantic, err := s.semantic(ctx, vector, n)
	title := <-titleDone
	if err != nil {
		return nil, err
	}
	if title.err != nil {
		return nil, title.err
	}
	return fuse(k, semantic, title.hits), nil
}

// fuse merges rankings of notes by reciprocal rank fusion and returns the best k.
func fuse(k int, lists ...[]genai.NoteHit) []genai.NoteHit {
	out := rrf(func(h genai.NoteHit) string { return h.ID }, func(h *genai.NoteHit) *float64 { return &h.Score }, lists...)
	return out[:min(k, len(out))]
}

// search runs a search on the index and returns its hits.
func (s *Store) search(ctx context.Context, op string, body map[string]any) ([]opensearchapi.SearchHit, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, genai.Errorf(genai.EINTERNAL, "opensearch: %s: %v", op, err)
	}
	resp, err := s.client.Search(ctx, &opensearchapi.SearchReq{Indices: []string{s.index}, Body: bytes.NewReader(b)})
	if err != nil {
		return nil, s.fail(op, resp.Inspect().Response, err)
	}
	return resp.Hits.Hits, nil
}

func (s *Store) searchHits(ctx context.Context, op string, body map[string]any) ([]genai.NoteHit, error) {
	hits, err := s.search(ctx, op, body)
	if err != nil {
		return nil, err
	}
	out := make([]genai.NoteHit, 0, len(hits))
	for _, h := range hits {
		d, err := s.decodeHit(h)
		if err != nil {
			return nil, err
		}
		out = append(out, genai.NoteHit{Note: d.note(), Score: float64(h.Score)})
	}
	return out, nil
}

func (s *Store) decodeHit(h opensearchapi.SearchHit) (*document, error) {
	var d document
	if err := json.Unmarshal(h.Source, &d); err != nil {
		return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable document %q: %v", s.index, h.ID, err)
	}
	if d.ID == "" {
		d.ID = h.ID
	}
	return &d, nil
}
