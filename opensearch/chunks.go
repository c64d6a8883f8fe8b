package opensearch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
)

// The knowledge base lives in two more indexes beside the notes' one:
//
//   - <index>-documents: one record per document (title, URI, hash, format, size,
//     chunk count, creation time) and the version of its chunks that is current;
//   - <index>-chunks: one entry per chunk with its vector (knn_vector, as the notes'),
//     its text, headings and its document's title (all BM25-searched), the document's
//     ID and URI, and the version it belongs to.
//
// OpenSearch has no transactions, and a bulk request is not one: a search may run
// between any two of its items. So a document is replaced by versions. PutDocument
// writes the new chunks under a fresh version (invisible to searches, which check
// versions), then the document record naming that version, which is the commit
// point, then deletes the chunks of other versions. Searches keep only chunks of
// their document's current version: a search filtered by document asks for that
// version; an unfiltered one looks up the versions of the documents it found. A
// search therefore never shows two versions of a document, nor a version not yet
// complete, and a failure part-way leaves at worst unreachable chunks, which the next
// PutDocument or DeleteDocument of the document removes.
//
// Nothing here relies on choosing _ids or on delete-by-query, which AOSS vector
// collections refuse: entries are found by term queries on their fields and deleted
// by the _ids those return. On a cluster or a managed domain every write waits for a
// refresh; on AOSS writes become visible within about a second.

// chunkIndexes remembers that the knowledge-base indexes exist (or were made).
type chunkIndexes struct {
	mu    sync.Mutex
	ready bool
}

// documentRecord is a document as the documents index stores it.
type documentRecord struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	URI       string    `json:"uri"`
	Hash      string    `json:"hash"`
	Format    string    `json:"format"`
	Bytes     int64     `json:"bytes"`
	Chunks    int       `json:"chunks"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"version"`
}

func (r *documentRecord) document() genai.Document {
	return genai.Document{ID: r.ID, Title: r.Title, URI: r.URI, Hash: r.Hash, Format: r.Format,
		Bytes: r.Bytes, Chunks: r.Chunks, CreatedAt: r.CreatedAt}
}

// chunkEntry is a chunk as the chunks index stores it.
type chunkEntry struct {
	ID           string    `json:"id"`
	DocumentID   string    `json:"document_id"`
	Version      string    `json:"version"`
	Index        int       `json:"idx"`
	Title        string    `json:"title"`
	URI          string    `json:"uri"`
	Headings     string    `json:"headings"`       // joined by " / ", for BM25
	HeadingsJSON string    `json:"headings_json"`  // the path itself
	Page         int       `json:"page,omitempty"` // 0: the document has no pages
	Text         string    `json:"text"`
	Embedding    []float32 `json:"embedding,omitempty"`
}

// Limits of the knowledge-base side.
const (
	maxScan         = 10000 // hits of one search: OpenSearch's max result window
	versionField    = "version"
	docIDField      = "document_id"
	chunkFetchExtra = 10 // unfiltered searches ask for more, for the stale entries they drop
)

func (s *Store) documentsIndex() string { return s.index + "-documents" }
func (s *Store) chunksIndex() string    { return s.index + "-chunks" }

func documentsIndexBody() map[string]any {
	return map[string]any{
		"mappings": map[string]any{
			"dynamic": "strict",
			"_meta":   map[string]any{"genai": map[string]any{"schema": 1, "kind": "documents"}},
			"properties": map[string]any{
				"id":         map[string]any{"type": "keyword"},
				"title":      map[string]any{"type": "keyword", "index": false},
				"uri":        map[string]any{"type": "keyword"},
				"hash":       map[string]any{"type": "keyword"},
				"format":     map[string]any{"type": "keyword"},
				"bytes":      map[string]any{"type": "long"},
				"chunks":     map[string]any{"type": "integer"},
				"created_at": map[string]any{"type": "date"},
				"version":    map[string]any{"type": "keyword"},
			},
		},
	}
}

// pageMapping maps a chunk's page. Indexes made before pages were stored get it added
// (see ensureChunkIndexes), since their strict mapping refuses an unknown field.
var pageMapping = map[string]any{"type": "integer", "index": false}

func chunksIndexBody(space genai.EmbeddingSpace, engine string) map[string]any {
	return map[string]any{
		"settings": map[string]any{"index": map[string]any{"knn": true}},
		"mappings": map[string]any{
			"dynamic": "strict",
			"_meta":   map[string]any{"genai": indexMeta{Space: space, Schema: 1}},
			"properties": map[string]any{
				"id":            map[string]any{"type": "keyword"},
				"document_id":   map[string]any{"type": "keyword"},
				"version":       map[string]any{"type": "keyword"},
				"idx":           map[string]any{"type": "integer"},
				"title":         map[string]any{"type": "text"},
				"uri":           map[string]any{"type": "keyword", "index": false},
				"headings":      map[string]any{"type": "text"},
				"headings_json": map[string]any{"type": "keyword", "index": false},
				"page":          pageMapping,
				"text":          map[string]any{"type": "text"},
				embeddingField: map[string]any{
					"type":      "knn_vector",
					"dimension": space.Dimensions,
					"method": map[string]any{
						"name":       "hnsw",
						"space_type": "cosinesimil",
						"engine":     engine,
						"parameters": map[string]any{"m": 16, "ef_construction": 128},
					},
				},
			},
		},
	}
}

// ensureChunkIndexes makes the documents and chunks indexes if absent, once, and
// checks that an existing chunks index holds vectors of the store's space.
func (s *Store) ensureChunkIndexes(ctx context.Context) error {
	s.kb.mu.Lock()
	defer s.kb.mu.Unlock()
	if s.kb.ready {
		return nil
	}
	for _, ix := range []struct {
		name string
		body map[string]any
	}{{s.documentsIndex(), documentsIndexBody()}, {s.chunksIndex(), chunksIndexBody(s.space, s.engine)}} {
		if err := s.ensureOtherIndex(ctx, ix.name, ix.body); err != nil {
			return err
		}
	}
	if err := s.addPageField(ctx); err != nil {
		return err
	}
	s.kb.ready = true
	return nil
}

// addPageField adds the page field to a chunks index made before pages were stored.
// Adding a field is allowed on a live index; it is asked only of an index without
// one, so that a new index needs no permission to change mappings (aoss:UpdateIndex).
func (s *Store) addPageField(ctx context.Context) error {
	name := s.chunksIndex()
	got, err := s.client.Indices.Mapping.Get(ctx, &opensearchapi.MappingGetReq{Indices: []string{name}})
	if err != nil {
		return s.fail("read mapping of "+name, got.Inspect().Response, err)
	}
	var m struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(got.GetIndices()[name].Mappings, &m); err != nil {
		return genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable mapping: %v", name, err)
	}
	if _, ok := m.Properties["page"]; ok {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"properties": map[string]any{"page": pageMapping}})
	resp, err := s.client.Indices.Mapping.Put(ctx, opensearchapi.MappingPutReq{Indices: []string{name}, Body: bytes.NewReader(body)})
	if err != nil {
		return s.fail("add the page field to "+name, resp.Inspect().Response, err)
	}
	return nil
}

func (s *Store) ensureOtherIndex(ctx context.Context, name string, body map[string]any) error {
	err := s.checkOtherIndex(ctx, name)
	if genai.ErrorCode(err) != genai.ENOTFOUND {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	created, err := s.client.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: name, Body: bytes.NewReader(b)})
	if err != nil {
		if errorType(created.Inspect().Response) == "resource_already_exists_exception" {
			return s.checkOtherIndex(ctx, name)
		}
		return s.fail("create index "+name, created.Inspect().Response, err)
	}
	return nil
}

// checkOtherIndex refuses an index genai did not make and a chunks index of another
// embedding space; it returns an ENOTFOUND error if there is no such index.
func (s *Store) checkOtherIndex(ctx context.Context, name string) error {
	resp, err := s.client.Indices.Mapping.Get(ctx, &opensearchapi.MappingGetReq{Indices: []string{name}})
	if err != nil {
		r := resp.Inspect().Response
		if errorType(r) == "index_not_found_exception" {
			return genai.Errorf(genai.ENOTFOUND, "opensearch: no index %q", name)
		}
		return s.fail("read mapping of "+name, r, err)
	}
	raw, ok := resp.GetIndices()[name]
	if !ok {
		return genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: the mapping response does not name the index", name)
	}
	var m struct {
		Meta struct {
			Genai *struct {
				Space *genai.EmbeddingSpace `json:"embedding_space"`
			} `json:"genai"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal(raw.Mappings, &m); err != nil {
		return genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable mapping: %v", name, err)
	}
	switch {
	case m.Meta.Genai == nil:
		return genai.Errorf(genai.EINVALID, "opensearch: index %q exists but was not made by genai; choose another GENAI_OPENSEARCH_INDEX, or delete it", name)
	case name == s.chunksIndex() && (m.Meta.Genai.Space == nil || *m.Meta.Genai.Space != s.space):
		return genai.Errorf(genai.EINVALID,
			"opensearch: index %q holds vectors of embedding space %v, but the embedder makes %q; use the embedder that built it, or another GENAI_OPENSEARCH_INDEX and ingest the documents again",
			name, m.Meta.Genai.Space, s.space)
	}
	return nil
}

// PutDocument stores doc with its chunks and their vectors, replacing the document of
// the same ID, and the document of the same URI if another has it, with all their old
// chunks (see the comment at the top of this file for how, without transactions).
// Document.Chunks is set to the number of chunks; a chunk with an empty DocumentID
// belongs to doc. Bad input is an EINVALID error and writes nothing.
func (s *Store) PutDocument(ctx context.Context, doc genai.Document, chunks []genai.Chunk, vectors [][]float32) error {
	if doc.ID == "" {
		return genai.Errorf(genai.EINVALID, "opensearch: put document: id is required")
	}
	if len(doc.ID) > maxIDBytes {
		return genai.Errorf(genai.EINVALID, "opensearch: put document: id of %d bytes, over the limit of %d", len(doc.ID), maxIDBytes)
	}
	if len(chunks) != len(vectors) {
		return genai.Errorf(genai.EINVALID, "opensearch: put document %q: %d chunks but %d vectors", doc.ID, len(chunks), len(vectors))
	}
	seen := make(map[string]bool, len(chunks))
	for i, c := range chunks {
		switch {
		case c.ID == "":
			return genai.Errorf(genai.EINVALID, "opensearch: put document %q: chunks[%d]: id is required", doc.ID, i)
		case c.DocumentID != "" && c.DocumentID != doc.ID:
			return genai.Errorf(genai.EINVALID, "opensearch: put document %q: chunk %q is of document %q", doc.ID, c.ID, c.DocumentID)
		case seen[c.ID]:
			return genai.Errorf(genai.EINVALID, "opensearch: put document %q: chunk id %q twice", doc.ID, c.ID)
		}
		seen[c.ID] = true
		if err := s.checkVector(fmt.Sprintf("put document %q: chunk %q", doc.ID, c.ID), vectors[i]); err != nil {
			return err
		}
	}
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return err
	}

	// The documents this one replaces: its own ID, and another of its URI.
	old, err := s.documentRecords(ctx, "put document", doc.ID, doc.URI)
	if err != nil {
		return err
	}
	version := newVersion()
	var body bytes.Buffer
	var bodies []*bytes.Buffer
	for i, c := range chunks {
		headings, _ := json.Marshal(nonNil(c.Headings))
		src, err := json.Marshal(chunkEntry{
			ID: c.ID, DocumentID: doc.ID, Version: version, Index: c.Index, Title: doc.Title, URI: doc.URI,
			Headings: strings.Join(c.Headings, " / "), HeadingsJSON: string(headings), Page: c.Page, Text: c.Text, Embedding: vectors[i],
		})
		if err != nil {
			return genai.Errorf(genai.EINVALID, "opensearch: put chunk %q: %v", c.ID, err)
		}
		action := []byte(`{"index":{}}`)
		if !s.serverless {
			action, _ = json.Marshal(map[string]any{"index": map[string]string{"_id": entryID(version, c.ID)}})
		}
		if body.Len() > 0 && body.Len()+len(action)+len(src)+2 > maxBulkBytes {
			bodies = append(bodies, bytes.NewBuffer(bytes.Clone(body.Bytes())))
			body.Reset()
		}
		body.Write(action)
		body.WriteByte('\n')
		body.Write(src)
		body.WriteByte('\n')
	}
	if body.Len() > 0 {
		bodies = append(bodies, &body)
	}
	for _, b := range bodies {
		if err := s.bulk(ctx, s.chunksIndex(), "index chunks of "+doc.ID, b); err != nil {
			s.deleteChunks(context.WithoutCancel(ctx), "undo a failed put", map[string]any{"term": map[string]any{versionField: version}})
			return err
		}
	}

	// The commit point: the record names the new version.
	rec := documentRecord{ID: doc.ID, Title: doc.Title, URI: doc.URI, Hash: doc.Hash, Format: doc.Format,
		Bytes: doc.Bytes, Chunks: len(chunks), CreatedAt: doc.CreatedAt.UTC(), Version: version}
	src, err := json.Marshal(rec)
	if err != nil {
		return genai.Errorf(genai.EINVALID, "opensearch: put document %q: %v", doc.ID, err)
	}
	body.Reset()
	action := []byte(`{"index":{}}`)
	if !s.serverless {
		action, _ = json.Marshal(map[string]any{"index": map[string]string{"_id": doc.ID}})
	}
	body.Write(action)
	body.WriteByte('\n')
	body.Write(src)
	body.WriteByte('\n')
	// Records of the replaced documents go in the same request (on a cluster, the
	// record of the same ID is simply overwritten).
	var oldIDs []string
	for _, r := range old {
		oldIDs = append(oldIDs, r.record.ID)
		if s.serverless || r.id != doc.ID {
			a, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": r.id}})
			body.Write(a)
			body.WriteByte('\n')
		}
	}
	if err := s.bulk(ctx, s.documentsIndex(), "index document "+doc.ID, &body); err != nil {
		s.deleteChunks(context.WithoutCancel(ctx), "undo a failed put", map[string]any{"term": map[string]any{versionField: version}})
		return err
	}
	// The chunks of every other version of these documents.
	return s.deleteChunks(ctx, "delete replaced chunks", map[string]any{"bool": map[string]any{
		"filter":   map[string]any{"terms": map[string]any{docIDField: append(oldIDs, doc.ID)}},
		"must_not": map[string]any{"term": map[string]any{versionField: version}},
	}})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// entryID is the _id of a chunk's entry on a cluster: unique per version, so that
// two versions can stand side by side until the old one is deleted. A long chunk ID
// is hashed down to fit OpenSearch's limit.
func entryID(version, chunkID string) string {
	id := version + ":" + chunkID
	if len(id) <= maxIDBytes {
		return id
	}
	return version + ":" + hex.EncodeToString([]byte(chunkID[:100])) + ":" + fmt.Sprintf("%x", len(chunkID))
}

// newVersion returns a fresh random version tag.
func newVersion() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bulk sends an NDJSON bulk body to index, waiting for a refresh, and fails on the
// first refused item.
func (s *Store) bulk(ctx context.Context, index, op string, body *bytes.Buffer) error {
	resp, err := s.client.Bulk(ctx, opensearchapi.BulkReq{Index: index, Body: body, Params: opensearchapi.BulkParams{Refresh: s.refresh()}})
	if err != nil {
		return s.fail(op+" ("+index+")", resp.Inspect().Response, err)
	}
	for _, item := range resp.Items {
		for kind, r := range item {
			if r.Error != nil && (kind != "delete" || r.Status != 404) {
				msg := fmt.Sprintf("opensearch: %s, index %q: %d %s: %s", op, index, r.Status, r.Error.Type, r.Error.Reason)
				if r.Error.Cause.Reason != "" {
					msg += " (caused by " + r.Error.Cause.Type + ": " + r.Error.Cause.Reason + ")"
				}
				return &genai.Error{Code: statusCode(r.Status), Message: msg}
			}
		}
	}
	return nil
}

// searchIndex runs a search on index and returns its hits.
func (s *Store) searchIndex(ctx context.Context, index, op string, body map[string]any) ([]opensearchapi.SearchHit, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, genai.Errorf(genai.EINTERNAL, "opensearch: %s: %v", op, err)
	}
	resp, err := s.client.Search(ctx, &opensearchapi.SearchReq{Indices: []string{index}, Body: bytes.NewReader(b)})
	if err != nil {
		return nil, s.fail(op+" ("+index+")", resp.Inspect().Response, err)
	}
	return resp.Hits.Hits, nil
}

// deleteChunks deletes the chunk entries query matches, a search and a bulk delete at
// a time.
func (s *Store) deleteChunks(ctx context.Context, op string, query map[string]any) error {
	for {
		hits, err := s.searchIndex(ctx, s.chunksIndex(), op, map[string]any{"size": maxScan, "query": query, "_source": false})
		if err != nil || len(hits) == 0 {
			return err
		}
		var body bytes.Buffer
		for _, h := range hits {
			a, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": h.ID}})
			body.Write(a)
			body.WriteByte('\n')
		}
		if err := s.bulk(ctx, s.chunksIndex(), op, &body); err != nil {
			return err
		}
		if len(hits) < maxScan || s.serverless { // AOSS: deletions show only later
			return nil
		}
	}
}

// storedRecord is a document record with the _id of its entry.
type storedRecord struct {
	id     string
	record documentRecord
}

// documentRecords returns the records of document id and of the document of uri.
func (s *Store) documentRecords(ctx context.Context, op, id, uri string) ([]storedRecord, error) {
	should := []any{map[string]any{"term": map[string]any{"id": id}}}
	if uri != "" {
		should = append(should, map[string]any{"term": map[string]any{"uri": uri}})
	}
	return s.records(ctx, op, map[string]any{"bool": map[string]any{"should": should}}, 100)
}

func (s *Store) records(ctx context.Context, op string, query map[string]any, size int) ([]storedRecord, error) {
	hits, err := s.searchIndex(ctx, s.documentsIndex(), op, map[string]any{"size": size, "query": query})
	if err != nil {
		return nil, err
	}
	out := make([]storedRecord, 0, len(hits))
	for _, h := range hits {
		var r documentRecord
		if err := json.Unmarshal(h.Source, &r); err != nil {
			return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable document record %q: %v", s.documentsIndex(), h.ID, err)
		}
		out = append(out, storedRecord{h.ID, r})
	}
	return out, nil
}

// GetDocument returns the document of id, or an ENOTFOUND error.
func (s *Store) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	return s.oneDocument(ctx, "get document", "id", id, fmt.Sprintf("document %q not found", id))
}

// DocumentByURI returns the document of uri, or an ENOTFOUND error.
func (s *Store) DocumentByURI(ctx context.Context, uri string) (*genai.Document, error) {
	return s.oneDocument(ctx, "document by uri", "uri", uri, fmt.Sprintf("no document of uri %q", uri))
}

// DocumentChunks returns the chunks of the current version of the document of id, in
// order, or an ENOTFOUND error. It pages through them sorted by index.
func (s *Store) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	const op = "chunks of document"
	notFound := fmt.Sprintf("document %q not found", id)
	if id == "" {
		return nil, genai.Errorf(genai.ENOTFOUND, "%s", notFound)
	}
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return nil, err
	}
	recs, err := s.records(ctx, op, map[string]any{"term": map[string]any{"id": id}}, 1)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, genai.Errorf(genai.ENOTFOUND, "%s", notFound)
	}
	filter := map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"term": map[string]any{docIDField: id}},
		map[string]any{"term": map[string]any{versionField: recs[0].record.Version}},
	}}}
	chunks := []genai.Chunk{}
	var after []any
	for {
		body := map[string]any{"size": maxScan, "query": filter, "_source": excludeEmbedding, "sort": []any{map[string]any{"idx": "asc"}}}
		if after != nil {
			body["search_after"] = after
		}
		hits, err := s.searchIndex(ctx, s.chunksIndex(), op, body)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			var e chunkEntry
			if err := json.Unmarshal(h.Source, &e); err != nil {
				return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable chunk %q: %v", s.chunksIndex(), h.ID, err)
			}
			c := genai.Chunk{ID: e.ID, DocumentID: e.DocumentID, Index: e.Index, Page: e.Page, Text: e.Text}
			if err := json.Unmarshal([]byte(e.HeadingsJSON), &c.Headings); err != nil {
				return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: chunk %q: unreadable headings: %v", s.chunksIndex(), e.ID, err)
			}
			if len(c.Headings) == 0 {
				c.Headings = nil
			}
			chunks = append(chunks, c)
			after = []any{e.Index}
		}
		if len(hits) < maxScan {
			return chunks, nil
		}
	}
}

func (s *Store) oneDocument(ctx context.Context, op, field, value, notFound string) (*genai.Document, error) {
	if value == "" {
		return nil, genai.Errorf(genai.ENOTFOUND, "%s", notFound)
	}
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return nil, err
	}
	recs, err := s.records(ctx, op, map[string]any{"term": map[string]any{field: value}}, 1)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, genai.Errorf(genai.ENOTFOUND, "%s", notFound)
	}
	d := recs[0].record.document()
	return &d, nil
}

// ListDocuments returns every document, newest first.
func (s *Store) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return nil, err
	}
	docs := []genai.Document{}
	var after []any
	for {
		body := map[string]any{
			"size":             1000,
			"query":            map[string]any{"match_all": map[string]any{}},
			"sort":             []any{map[string]any{"created_at": map[string]any{"order": "desc"}}, map[string]any{"id": map[string]any{"order": "desc"}}},
			"track_total_hits": false,
		}
		if after != nil {
			body["search_after"] = after
		}
		hits, err := s.searchIndex(ctx, s.documentsIndex(), "list documents", body)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			var r documentRecord
			if err := json.Unmarshal(h.Source, &r); err != nil {
				return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable document record %q: %v", s.documentsIndex(), h.ID, err)
			}
			docs = append(docs, r.document())
		}
		if len(hits) < 1000 {
			return docs, nil
		}
		after = hits[len(hits)-1].Sort
	}
}

// DeleteDocument deletes the document of id and all its chunks, or returns an
// ENOTFOUND error. The record goes first: from then on searches drop its chunks.
func (s *Store) DeleteDocument(ctx context.Context, id string) error {
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return err
	}
	recs, err := s.records(ctx, "delete document", map[string]any{"term": map[string]any{"id": id}}, 100)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return genai.Errorf(genai.ENOTFOUND, "document %q not found", id)
	}
	var body bytes.Buffer
	for _, r := range recs {
		a, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": r.id}})
		body.Write(a)
		body.WriteByte('\n')
	}
	if err := s.bulk(ctx, s.documentsIndex(), "delete document "+id, &body); err != nil {
		return err
	}
	return s.deleteChunks(ctx, "delete chunks of "+id, map[string]any{"term": map[string]any{docIDField: id}})
}

// RankChunks ranks the chunks by r (see genai.ChunkSearcher) without loading their
// text: BM25 over each chunk's text, headings and document title (the words analysed
// as text, so no query syntax reaches the engine), or k-NN on its vector (score
// OpenSearch's cosinesimil score, (1 + cosine) / 2). Filtered by document, it asks for
// the document's current version; unfiltered, it drops the hits of other versions.
func (s *Store) RankChunks(ctx context.Context, r genai.ChunkRanking) ([]genai.ChunkHit, error) {
	var query func(size int, filter map[string]any) map[string]any
	op := "bm25 search"
	if r.Vector != nil {
		if err := s.checkVector("search chunks: query", r.Vector); err != nil {
			return nil, err
		}
		op = "vector search"
		query = func(size int, filter map[string]any) map[string]any {
			spec := map[string]any{"vector": r.Vector, "k": size}
			if filter != nil {
				spec["filter"] = filter
			}
			return map[string]any{"knn": map[string]any{embeddingField: spec}}
		}
	} else {
		match := map[string]any{"multi_match": map[string]any{"query": r.Text, "fields": []any{"text", "headings", "title"}, "type": "best_fields"}}
		query = func(size int, filter map[string]any) map[string]any {
			if filter == nil {
				return match
			}
			return map[string]any{"bool": map[string]any{"must": match, "filter": filter}}
		}
	}
	hits, err := s.searchChunks(ctx, op, r.N, r.DocumentID, query)
	if err == nil && r.DocumentID == "" {
		hits, err = s.current(ctx, hits, r.N)
	}
	out := make([]genai.ChunkHit, len(hits))
	for i, h := range hits {
		out[i] = genai.ChunkHit{Chunk: genai.Chunk{ID: h.ID, DocumentID: h.DocumentID}, Score: h.Score}
	}
	return out, err
}

// rankedFields are the fields a ranking reads of each hit: enough to drop stale
// versions, none of the text.
var rankedFields = []string{"id", docIDField, versionField}

// LoadChunks returns the chunks of hits in full, in order, with their scores: the
// entries of their IDs that belong to their document's current version, so the
// chunks of one document are of one version; a chunk no longer stored is left out.
func (s *Store) LoadChunks(ctx context.Context, hits []genai.ChunkHit) ([]genai.ChunkHit, error) {
	out := make([]genai.ChunkHit, 0, len(hits))
	if len(hits) == 0 {
		return out, nil
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	// While a document is replaced, an ID has an entry in each version.
	size := min(maxScan, 2*len(ids)+chunkFetchExtra)
	entries, err := s.chunkEntries(ctx, "load chunks", map[string]any{"size": size, "query": map[string]any{"terms": map[string]any{"id": ids}}, "_source": excludeEmbedding})
	if err == nil {
		entries, err = s.current(ctx, entries, len(entries))
	}
	if err != nil {
		return nil, err
	}
	byID := make(map[string]genai.ChunkHit, len(entries))
	for _, e := range entries {
		byID[e.DocumentID+"\x00"+e.ID] = e.ChunkHit
	}
	for _, h := range hits {
		if c, ok := byID[h.DocumentID+"\x00"+h.ID]; ok {
			c.Score = h.Score
			out = append(out, c)
		}
	}
	return out, nil
}

// chunkHit is a hit with the version of the entry it came from.
type chunkHit struct {
	genai.ChunkHit
	version string
}

// searchChunks runs the query that build makes, for n hits, reading only rankedFields.
// Filtered by document, the query asks for the document's current version only;
// unfiltered, it asks for a few more than n, for current to drop the stale ones.
func (s *Store) searchChunks(ctx context.Context, op string, n int, documentID string, build func(size int, filter map[string]any) map[string]any) ([]chunkHit, error) {
	if n <= 0 {
		return nil, nil
	}
	n = min(n, maxScan-chunkFetchExtra)
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return nil, err
	}
	var filter map[string]any
	size := n + chunkFetchExtra
	if documentID != "" {
		recs, err := s.records(ctx, op, map[string]any{"term": map[string]any{"id": documentID}}, 1)
		if err != nil || len(recs) == 0 {
			return nil, err
		}
		filter = map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"term": map[string]any{docIDField: documentID}},
			map[string]any{"term": map[string]any{versionField: recs[0].record.Version}},
		}}}
		size = n
	}
	return s.chunkEntries(ctx, op, map[string]any{"size": size, "query": build(size, filter), "_source": rankedFields})
}

// chunkEntries runs a search of the chunks index and returns its hits as chunks, with
// the fields body's _source asks for.
func (s *Store) chunkEntries(ctx context.Context, op string, body map[string]any) ([]chunkHit, error) {
	if err := s.ensureChunkIndexes(ctx); err != nil {
		return nil, err
	}
	hits, err := s.searchIndex(ctx, s.chunksIndex(), op, body)
	if err != nil {
		return nil, err
	}
	out := make([]chunkHit, 0, len(hits))
	for _, h := range hits {
		var e chunkEntry
		if err := json.Unmarshal(h.Source, &e); err != nil {
			return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable chunk %q: %v", s.chunksIndex(), h.ID, err)
		}
		hit := chunkHit{genai.ChunkHit{
			Chunk: genai.Chunk{ID: e.ID, DocumentID: e.DocumentID, Index: e.Index, Page: e.Page, Text: e.Text},
			Title: e.Title, URI: e.URI, Score: float64(h.Score),
		}, e.Version}
		if e.HeadingsJSON != "" {
			if err := json.Unmarshal([]byte(e.HeadingsJSON), &hit.Headings); err != nil {
				return nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: chunk %q: unreadable headings: %v", s.chunksIndex(), e.ID, err)
			}
		}
		if len(hit.Headings) == 0 {
			hit.Headings = nil
		}
		out = append(out, hit)
	}
	return out, nil
}

// current keeps the hits of their document's current version, up to n.
func (s *Store) current(ctx context.Context, hits []chunkHit, n int) ([]chunkHit, error) {
	if len(hits) == 0 {
		return hits, nil
	}
	var ids []string
	for _, h := range hits {
		if !slices.Contains(ids, h.DocumentID) {
			ids = append(ids, h.DocumentID)
		}
	}
	recs, err := s.records(ctx, "check versions", map[string]any{"terms": map[string]any{"id": ids}}, min(maxScan, 2*len(ids)+10))
	if err != nil {
		return nil, err
	}
	version := make(map[string]string, len(recs))
	for _, r := range recs {
		version[r.record.ID] = r.record.Version
	}
	out := hits[:0]
	for _, h := range hits {
		if version[h.DocumentID] == h.version && len(out) < n {
			out = append(out, h)
		}
	}
	return out, nil
}

var _ genai.ChunkStore = (*Store)(nil)
