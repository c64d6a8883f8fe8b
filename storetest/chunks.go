package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
)

// TestChunkStore runs the conformance suite of genai.ChunkStore as subtests of t. Each
// call of open must return a fresh, empty store in the given space; if the store has a
// Close method (io.Closer) the suite closes it, so open must not.
//
// Besides the contract written on genai.ChunkStore, the suite holds stores to these
// rules, which callers (rag, the HTTP layer) rely on:
//   - Document.Chunks of a stored document is the number of its chunks, whatever the
//     caller put there; CreatedAt keeps at least millisecond precision.
//   - A URI names at most one document: PutDocument of a document whose URI another
//     document has replaces that document (re-ingesting a file under a new ID).
//     Documents with an empty URI never clash.
//   - A chunk with an empty DocumentID belongs to the document it is put with; one
//     naming another document, an empty chunk ID, a chunk ID twice in one document, a
//     vector count other than the chunk count, and a vector of the wrong dimension are
//     EINVALID errors that store nothing.
//   - BM25 matches the words of the chunk's text, its headings and its document's
//     title, and treats every query as plain words (no query syntax gets through).
//   - RankChunks returns hits best first, each once, at most N, only of DocumentID
//     when set, each with its ID and DocumentID; a search of an empty store returns
//     no hits and no error. LoadChunks returns them in full (with their page), in
//     order, with their scores.
//   - A ranking filtered by document never shows it with only part of its chunks, no
//     ranking shows chunks of two versions of a document, and the chunks LoadChunks
//     returns of a document are of one version.
func TestChunkStore(t *testing.T, open func(t *testing.T, space genai.EmbeddingSpace) genai.ChunkStore) {
	runSuite(t, open, []suiteTest[genai.ChunkStore]{
		{"DocumentRoundTrip", testDocumentRoundTrip},
		{"PutDocumentReplaces", testPutDocumentReplaces},
		{"SameURIReplaces", testSameURIReplaces},
		{"DocumentNotFound", testDocumentNotFound},
		{"DeleteDocument", testDeleteDocument},
		{"ListDocuments", testListDocuments},
		{"DocumentChunks", testDocumentChunks},
		{"BM25Ranking", testBM25Ranking},
		{"VectorRanking", testVectorRanking},
		{"ChunkSearchK", testChunkSearchK},
		{"DocumentFilter", testDocumentFilter},
		{"EmptyChunkStore", testEmptyChunkStore},
		{"ChunkQueryIsText", testChunkQueryIsText},
		{"InvalidDocument", testInvalidDocument},
		{"ChunkConcurrency", testChunkConcurrency},
	})
}

// allModes are the rankings of a store: by words and by vector. The suite names them
// by the retrieval modes they serve (a hybrid result is fused from both, in rag).
var allModes = []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector}

func document(id, title string, n int) genai.Document {
	return genai.Document{
		ID: id, Title: title, URI: "file:///docs/" + id + ".md", Hash: strings.Repeat(fmt.Sprintf("%x", n%16), 64),
		Format: "markdown", Bytes: int64(1000 + n), CreatedAt: at(n),
	}
}

// chunksOf returns the chunks of document id with the given texts, in order, their IDs
// "id#i" and heading paths ["Part", "Section i"].
func chunksOf(id string, texts ...string) []genai.Chunk {
	out := make([]genai.Chunk, len(texts))
	for i, text := range texts {
		out[i] = genai.Chunk{
			ID: fmt.Sprintf("%s#%d", id, i), DocumentID: id, Index: i,
			Headings: []string{"Part", fmt.Sprintf("Section %d", i)}, Text: text,
		}
	}
	return out
}

// axes returns n vectors, the i-th along axis(first+i).
func axes(first, n int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = axis(first + i)
	}
	return out
}

func putDoc(t *testing.T, s genai.ChunkStore, doc genai.Document, chunks []genai.Chunk, vectors [][]float32) {
	t.Helper()
	if err := s.PutDocument(context.Background(), doc, chunks, vectors); err != nil {
		t.Fatalf("PutDocument(%s): %v", doc.ID, err)
	}
}

// ranking is the store's ranking of q: by the words of q.Query for RetrieveBM25, by
// vector for RetrieveVector.
func ranking(q genai.RetrieveQuery, vector []float32) genai.ChunkRanking {
	r := genai.ChunkRanking{N: q.K, DocumentID: q.DocumentID}
	switch q.Mode {
	case genai.RetrieveBM25:
		r.Text = q.Query
	case genai.RetrieveVector:
		r.Vector = vector
	default:
		panic("storetest: a store ranks by words or by vector, not " + string(q.Mode))
	}
	return r
}

// rank ranks q and checks the hits: at most q.K, each once, best first, each naming
// its chunk and document.
func rank(t *testing.T, s genai.ChunkStore, q genai.RetrieveQuery, vector []float32) []genai.ChunkHit {
	t.Helper()
	hits, err := s.RankChunks(context.Background(), ranking(q, vector))
	if err != nil {
		t.Fatalf("RankChunks(%s %q n=%d doc=%q): %v", q.Mode, q.Query, q.K, q.DocumentID, err)
	}
	if len(hits) > q.K {
		t.Errorf("RankChunks(%s %q n=%d) returned %d hits", q.Mode, q.Query, q.K, len(hits))
	}
	seen := map[string]bool{}
	for i, h := range hits {
		if seen[h.ID] {
			t.Errorf("RankChunks(%s %q) returned chunk %s twice", q.Mode, q.Query, h.ID)
		}
		seen[h.ID] = true
		if h.ID == "" || h.DocumentID == "" {
			t.Errorf("RankChunks(%s %q) hit %d = %+v, want its chunk and document IDs", q.Mode, q.Query, i, h)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("RankChunks(%s %q) scores not descending: %s %v then %s %v", q.Mode, q.Query, hits[i-1].ID, hits[i-1].Score, h.ID, h.Score)
		}
	}
	return hits
}

// retrieve ranks q and loads the hits, checking that LoadChunks keeps their order
// and scores.
func retrieve(t *testing.T, s genai.ChunkStore, q genai.RetrieveQuery, vector []float32) []genai.ChunkHit {
	t.Helper()
	ranked := rank(t, s, q, vector)
	hits, err := s.LoadChunks(context.Background(), ranked)
	if err != nil {
		t.Fatalf("LoadChunks(%d hits of %s %q): %v", len(ranked), q.Mode, q.Query, err)
	}
	if len(hits) != len(ranked) {
		t.Fatalf("LoadChunks(%v) = %v, want every ranked chunk (no write came between)", chunkIDs(ranked), chunkIDs(hits))
	}
	for i, h := range hits {
		if h.ID != ranked[i].ID || h.DocumentID != ranked[i].DocumentID || h.Score != ranked[i].Score {
			t.Errorf("LoadChunks hit %d = %s of %s score %v, want %s of %s score %v", i, h.ID, h.DocumentID, h.Score, ranked[i].ID, ranked[i].DocumentID, ranked[i].Score)
		}
	}
	return hits
}

func chunkIDs(hits []genai.ChunkHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func sameDocument(a, b genai.Document) bool {
	return a.ID == b.ID && a.Title == b.Title && a.URI == b.URI && a.Hash == b.Hash && a.Format == b.Format &&
		a.Chunks == b.Chunks && a.Bytes == b.Bytes && a.CreatedAt.Equal(b.CreatedAt)
}

func checkDocument(t *testing.T, what string, got *genai.Document, want genai.Document, chunks int) {
	t.Helper()
	want.Chunks = chunks
	if got == nil || !sameDocument(*got, want) {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func sameChunk(a, b genai.Chunk) bool {
	return a.ID == b.ID && a.DocumentID == b.DocumentID && a.Index == b.Index && a.Page == b.Page && a.Text == b.Text &&
		slices.Equal(a.Headings, b.Headings)
}

func testDocumentRoundTrip(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	doc := genai.Document{
		ID: "doc-utf8", Title: "Café ☕ and 日本語 🚀", URI: "uploads/Ünïcödé report (final).pdf",
		Hash: strings.Repeat("ab", 32), Format: "pdf", Bytes: 123_456,
		CreatedAt: time.Date(2024, 2, 29, 23, 59, 58, 987_000_000, time.UTC),
		Chunks:    99, // the store counts for itself
	}
	chunks := chunksOf(doc.ID,
		"Ünïcödé text with emoji 🎉👩‍💻, tabs\tand\nnew lines, quotes \" ' and ∑.",
		"The second passage talks about lighthouses.",
		"The third passage talks about glaciers.")
	chunks[0].Headings = []string{"Введение", "Überblick"}
	chunks[2].Headings = nil
	chunks[0].Page, chunks[1].Page = 1, 12 // the third has no page, as a chunk of text
	putDoc(t, s, doc, chunks, axes(0, 3))
	other := document("other", "Other", 2)
	putDoc(t, s, other, chunksOf(other.ID, "unrelated words"), axes(5, 1))

	got, err := s.GetDocument(ctx, doc.ID)
	if err != nil {
		t.Fatalf("GetDocument: %v", err)
	}
	checkDocument(t, "GetDocument", got, doc, 3)
	got, err = s.DocumentByURI(ctx, doc.URI)
	if err != nil {
		t.Fatalf("DocumentByURI: %v", err)
	}
	checkDocument(t, "DocumentByURI", got, doc, 3)
	got, err = s.GetDocument(ctx, other.ID)
	if err != nil {
		t.Fatalf("GetDocument(other): %v", err)
	}
	checkDocument(t, "GetDocument(other)", got, other, 1)

	// Hits carry the whole chunk (with its page) and their document's title and URI.
	for i, c := range chunks {
		hits := retrieve(t, s, genai.RetrieveQuery{Query: "anything", Mode: genai.RetrieveVector, K: 1}, axis(i))
		if len(hits) != 1 {
			t.Fatalf("vector search along axis %d = %v, want %s", i, chunkIDs(hits), c.ID)
		}
		h := hits[0]
		if !sameChunk(h.Chunk, c) || h.Title != doc.Title || h.URI != doc.URI {
			t.Errorf("vector hit = %+v, want chunk %+v with title %q and uri %q", h, c, doc.Title, doc.URI)
		}
	}
	hits := retrieve(t, s, genai.RetrieveQuery{Query: "lighthouses", Mode: genai.RetrieveBM25, K: 5}, nil)
	if len(hits) != 1 || !sameChunk(hits[0].Chunk, chunks[1]) || hits[0].Title != doc.Title || hits[0].URI != doc.URI {
		t.Errorf("bm25 hits for %q = %+v, want chunk %+v of %q", "lighthouses", hits, chunks[1], doc.Title)
	}
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "glaciers", Mode: genai.RetrieveBM25, K: 1}, nil)
	if len(hits) != 1 || !sameChunk(hits[0].Chunk, chunks[2]) || hits[0].Title != doc.Title || hits[0].URI != doc.URI {
		t.Errorf("bm25 hits for %q = %+v, want chunk %+v of %q", "glaciers", hits, chunks[2], doc.Title)
	}
	// Loading no hits loads nothing.
	if got, err := s.LoadChunks(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("LoadChunks(nil) = %v, %v; want none", got, err)
	}

	// A document without chunks is a document all the same.
	empty := document("empty", "Nothing extracted", 3)
	putDoc(t, s, empty, nil, nil)
	got, err = s.GetDocument(ctx, empty.ID)
	if err != nil {
		t.Fatalf("GetDocument(empty): %v", err)
	}
	checkDocument(t, "GetDocument(empty)", got, empty, 0)

	// Chunks without a DocumentID belong to the document they are put with.
	anon := document("anon", "Anonymous chunks", 4)
	ac := chunksOf(anon.ID, "orphaned otters")
	ac[0].DocumentID = ""
	putDoc(t, s, anon, ac, axes(6, 1))
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "otters", Mode: genai.RetrieveBM25, K: 5}, nil)
	if len(hits) != 1 || hits[0].DocumentID != anon.ID {
		t.Errorf("bm25 hits for %q = %+v, want chunk %s with document_id %q", "otters", hits, ac[0].ID, anon.ID)
	}
}

func testPutDocumentReplaces(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	old := document("d1", "Walrus migration", 1)
	// Chunk IDs stay the same across versions: the texts tell versions apart.
	putDoc(t, s, old, chunksOf("d1", "walrus tusks", "walrus herds", "walrus calves"), axes(0, 3))
	other := document("d2", "Other", 2)
	putDoc(t, s, other, chunksOf("d2", "seal pups on ice"), axes(4, 1))

	repl := document("d1", "Penguin colonies", 3)
	repl.URI = "file:///docs/d1-renamed.md"
	replChunks := chunksOf("d1", "penguin eggs", "penguin huddles")
	putDoc(t, s, repl, replChunks, axes(2, 2))

	got, err := s.GetDocument(ctx, "d1")
	if err != nil {
		t.Fatalf("GetDocument: %v", err)
	}
	checkDocument(t, "GetDocument after replace", got, repl, 2)
	if _, err := s.DocumentByURI(ctx, old.URI); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("DocumentByURI(old uri) after replace: error %v, want ENOTFOUND", err)
	}
	if got, err := s.DocumentByURI(ctx, repl.URI); err != nil || got.ID != "d1" {
		t.Errorf("DocumentByURI(new uri) = %+v, %v; want d1", got, err)
	}
	for _, mode := range allModes {
		for _, v := range [][]float32{axis(0), axis(1), axis(2)} {
			hits := retrieve(t, s, genai.RetrieveQuery{Query: "walrus penguin tusks", Mode: mode, K: 10}, v)
			for _, h := range hits {
				if strings.Contains(h.Text, "walrus") || h.Title == old.Title {
					t.Errorf("%s search after replace found an old chunk: %+v", mode, h)
				}
			}
		}
	}
	hits := retrieve(t, s, genai.RetrieveQuery{Query: "walrus", Mode: genai.RetrieveBM25, K: 10}, nil)
	if len(hits) != 0 {
		t.Errorf("bm25 search for the old words found %v, want nothing", chunkIDs(hits))
	}
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "penguin", Mode: genai.RetrieveBM25, K: 10}, nil)
	if len(hits) != 2 || hits[0].Title != repl.Title || hits[0].URI != repl.URI {
		t.Errorf("bm25 search for the new words = %+v, want both new chunks with the new title and uri", hits)
	}
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "x", Mode: genai.RetrieveVector, K: 10}, axis(0))
	if len(hits) != 3 {
		t.Errorf("vector search k=10 after replace = %v, want the 3 chunks left (2 new, 1 other)", chunkIDs(hits))
	}
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "x", Mode: genai.RetrieveVector, K: 1}, axis(3))
	if len(hits) != 1 || !sameChunk(hits[0].Chunk, replChunks[1]) {
		t.Errorf("vector search by a new vector = %+v, want %+v", hits, replChunks[1])
	}
	docs, err := s.ListDocuments(ctx)
	if err != nil {
		t.Fatalf("ListDocuments: %v", err)
	}
	if len(docs) != 2 {
		t.Errorf("ListDocuments after replace = %d documents, want 2", len(docs))
	}
}

func testSameURIReplaces(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	first := document("first", "First version", 1)
	first.URI = "notes/report.md"
	putDoc(t, s, first, chunksOf(first.ID, "aardvark burrows", "aardvark diet"), axes(0, 2))
	second := document("second", "Second version", 2)
	second.URI = first.URI
	putDoc(t, s, second, chunksOf(second.ID, "anteater tongues"), axes(2, 1))

	if _, err := s.GetDocument(ctx, first.ID); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("GetDocument(first) after a document of its URI was put: error %v, want ENOTFOUND", err)
	}
	got, err := s.DocumentByURI(ctx, first.URI)
	if err != nil {
		t.Fatalf("DocumentByURI: %v", err)
	}
	checkDocument(t, "DocumentByURI", got, second, 1)
	for _, mode := range allModes {
		hits := retrieve(t, s, genai.RetrieveQuery{Query: "aardvark anteater", Mode: mode, K: 10}, axis(0))
		if got := chunkIDs(hits); !slices.Equal(got, []string{"second#0"}) {
			t.Errorf("%s search = %v, want only [second#0]", mode, got)
		}
	}
	// Empty URIs never clash.
	a, b := document("a", "Pasted A", 3), document("b", "Pasted B", 4)
	a.URI, b.URI = "", ""
	putDoc(t, s, a, chunksOf("a", "pasted text a"), axes(3, 1))
	putDoc(t, s, b, chunksOf("b", "pasted text b"), axes(4, 1))
	docs, err := s.ListDocuments(ctx)
	if err != nil {
		t.Fatalf("ListDocuments: %v", err)
	}
	if len(docs) != 3 {
		t.Errorf("ListDocuments = %d documents, want 3 (second, a, b)", len(docs))
	}
}

func testDocumentNotFound(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	d := document("here", "Here", 1)
	putDoc(t, s, d, chunksOf(d.ID, "text"), axes(0, 1))
	_, err := s.GetDocument(ctx, "missing")
	wantCode(t, "GetDocument(missing)", err, genai.ENOTFOUND)
	_, err = s.DocumentByURI(ctx, "file:///docs/missing.md")
	wantCode(t, "DocumentByURI(missing)", err, genai.ENOTFOUND)
	_, err = s.DocumentByURI(ctx, "")
	wantCode(t, "DocumentByURI(\"\")", err, genai.ENOTFOUND)
	wantCode(t, "DeleteDocument(missing)", s.DeleteDocument(ctx, "missing"), genai.ENOTFOUND)
	// A chunk ID is not a document ID.
	_, err = s.GetDocument(ctx, "here#0")
	wantCode(t, "GetDocument(a chunk id)", err, genai.ENOTFOUND)
}

func testDeleteDocument(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	keep1, gone, keep2 := document("keep1", "Otter facts", 1), document("gone", "Otter habitats", 2), document("keep2", "Beaver dams", 3)
	putDoc(t, s, keep1, chunksOf(keep1.ID, "otters hold hands", "otters eat fish"), axes(0, 2))
	putDoc(t, s, gone, chunksOf(gone.ID, "otter rivers and coasts", "otter dens", "otter holts"), axes(2, 3))
	putDoc(t, s, keep2, chunksOf(keep2.ID, "beavers build dams"), axes(5, 1))
	if err := s.DeleteDocument(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteDocument: %v", err)
	}
	_, err := s.GetDocument(ctx, gone.ID)
	wantCode(t, "GetDocument after delete", err, genai.ENOTFOUND)
	_, err = s.DocumentByURI(ctx, gone.URI)
	wantCode(t, "DocumentByURI after delete", err, genai.ENOTFOUND)
	wantCode(t, "second DeleteDocument", s.DeleteDocument(ctx, gone.ID), genai.ENOTFOUND)
	docs, err := s.ListDocuments(ctx)
	if err != nil {
		t.Fatalf("ListDocuments: %v", err)
	}
	if len(docs) != 2 || slices.ContainsFunc(docs, func(d genai.Document) bool { return d.ID == gone.ID }) {
		t.Errorf("ListDocuments after delete = %v, want keep1 and keep2", docs)
	}
	for _, mode := range allModes {
		for i := range 3 {
			hits := retrieve(t, s, genai.RetrieveQuery{Query: "otter otters rivers dens holts", Mode: mode, K: 10}, axis(2+i))
			for _, h := range hits {
				if h.DocumentID == gone.ID {
					t.Errorf("%s search still finds a chunk of the deleted document: %+v", mode, h)
				}
			}
			if len(hits) == 0 {
				t.Errorf("%s search found nothing, want the remaining chunks", mode)
			}
		}
		hits := retrieve(t, s, genai.RetrieveQuery{Query: "otter", Mode: mode, K: 10, DocumentID: gone.ID}, axis(2))
		if len(hits) != 0 {
			t.Errorf("%s search filtered by the deleted document = %v, want nothing", mode, chunkIDs(hits))
		}
	}
	// The ID and the URI are free again.
	putDoc(t, s, gone, chunksOf(gone.ID, "otters return"), axes(7, 1))
	got, err := s.GetDocument(ctx, gone.ID)
	if err != nil {
		t.Fatalf("GetDocument after putting the deleted document again: %v", err)
	}
	checkDocument(t, "GetDocument", got, gone, 1)
}

func testListDocuments(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	var want []genai.Document
	for i := range 12 {
		d := document(fmt.Sprintf("l%02d", i), fmt.Sprintf("Document %d", i), i)
		d.Chunks = i % 4
		want = append(want, d)
	}
	// Insertion order is not time order.
	for _, i := range []int{5, 0, 11, 3, 7, 1, 9, 2, 10, 4, 8, 6} {
		d := want[i]
		texts := make([]string, d.Chunks)
		for j := range texts {
			texts[j] = fmt.Sprintf("chunk %d of document %d", j, i)
		}
		putDoc(t, s, d, chunksOf(d.ID, texts...), axes(i, d.Chunks))
	}
	docs, err := s.ListDocuments(ctx)
	if err != nil {
		t.Fatalf("ListDocuments: %v", err)
	}
	if len(docs) != len(want) {
		t.Fatalf("ListDocuments = %d documents, want %d", len(docs), len(want))
	}
	for i, d := range docs {
		w := want[len(want)-1-i]
		checkDocument(t, fmt.Sprintf("ListDocuments[%d]", i), &d, w, w.Chunks)
	}
}

// testDocumentChunks reads a document's chunks back in order, as they were put (in
// another order), only those of its current version, and an error for an unknown one.
func testDocumentChunks(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	chunks := chunksOf("guide", "First passage of the guide.", "Second passage.", "Third and last.")
	chunks[2].Headings = nil
	chunks[1].Page, chunks[2].Page = 3, 4
	shuffled := []genai.Chunk{chunks[2], chunks[0], chunks[1]}
	putDoc(t, s, document("guide", "Guide", 1), shuffled, axes(0, 3))
	putDoc(t, s, document("other", "Other", 2), chunksOf("other", "Not the guide."), axes(3, 1))
	got, err := s.DocumentChunks(ctx, "guide")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(chunks) {
		t.Fatalf("DocumentChunks(guide) = %d chunks %+v, want %d", len(got), got, len(chunks))
	}
	for i := range chunks {
		if !sameChunk(got[i], chunks[i]) {
			t.Errorf("chunk %d = %+v, want %+v", i, got[i], chunks[i])
		}
	}
	// A new version replaces every chunk.
	putDoc(t, s, document("guide", "Guide", 3), chunksOf("guide", "Rewritten."), axes(4, 1))
	if got, err := s.DocumentChunks(ctx, "guide"); err != nil || len(got) != 1 || got[0].Text != "Rewritten." {
		t.Errorf("after a replace: %+v, %v; want the one new chunk", got, err)
	}
	_, err = s.DocumentChunks(ctx, "missing")
	wantCode(t, "DocumentChunks(missing)", err, genai.ENOTFOUND)
}

func testBM25Ranking(t *testing.T, s genai.ChunkStore) {
	d1 := document("zoo", "Animals of the savanna", 1)
	putDoc(t, s, d1, chunksOf(d1.ID,
		"Zebra stripes confuse flies. Zebra herds graze. The zebra is a horse.", // most "zebra"
		"A zebra drinks at the river.",
		"Lions sleep most of the day.",
		"Giraffes browse the tall acacia trees.",
	), axes(0, 4))
	d2 := document("kitchen", "Sourdough baking", 2)
	putDoc(t, s, d2, chunksOf(d2.ID,
		"Feed the starter with flour and water.",
		"Bake the loaf in a hot oven.",
	), axes(4, 2))

	hits := retrieve(t, s, genai.RetrieveQuery{Query: "zebra", Mode: genai.RetrieveBM25, K: 10}, nil)
	if got := chunkIDs(hits); !slices.Equal(got, []string{"zoo#0", "zoo#1"}) {
		t.Errorf("bm25 %q = %v, want [zoo#0 zoo#1]", "zebra", got)
	}
	// Words are OR-ed: a chunk with more of the words ranks first.
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "hot oven flour", Mode: genai.RetrieveBM25, K: 10}, nil)
	if got := chunkIDs(hits); len(got) != 2 || got[0] != "kitchen#1" {
		t.Errorf("bm25 %q = %v, want kitchen#1 first, then kitchen#0", "hot oven flour", got)
	}
	// Case does not matter.
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "GIRAFFES", Mode: genai.RetrieveBM25, K: 10}, nil)
	if got := chunkIDs(hits); !slices.Equal(got, []string{"zoo#3"}) {
		t.Errorf("bm25 %q = %v, want [zoo#3]", "GIRAFFES", got)
	}
	// The document's title and the chunk's headings are searched too.
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "sourdough", Mode: genai.RetrieveBM25, K: 10}, nil)
	if got := chunkIDs(hits); len(got) != 2 || !slices.Contains(got, "kitchen#0") || !slices.Contains(got, "kitchen#1") {
		t.Errorf("bm25 %q (a word of the title only) = %v, want both chunks of kitchen", "sourdough", got)
	}
	d3 := document("manual", "Manual", 3)
	c3 := chunksOf(d3.ID, "Turn the dial clockwise.", "Replace the filter monthly.")
	c3[1].Headings = []string{"Maintenance", "Carburettor"}
	putDoc(t, s, d3, c3, axes(6, 2))
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "carburettor", Mode: genai.RetrieveBM25, K: 10}, nil)
	if got := chunkIDs(hits); !slices.Equal(got, []string{"manual#1"}) {
		t.Errorf("bm25 %q (a word of a heading only) = %v, want [manual#1]", "carburettor", got)
	}
	for _, h := range hits {
		if h.Score <= 0 {
			t.Errorf("bm25 hit %s has score %v, want > 0", h.ID, h.Score)
		}
	}
	if hits := retrieve(t, s, genai.RetrieveQuery{Query: "nothingmatchesthis", Mode: genai.RetrieveBM25, K: 10}, nil); len(hits) != 0 {
		t.Errorf("bm25 search for an unknown word = %v, want nothing", chunkIDs(hits))
	}
}

func testVectorRanking(t *testing.T, s genai.ChunkStore) {
	// Cosine similarity with the query axis(0): 1, 0.8, 0.6, 0, -0.6, across two documents.
	a, b := document("a", "A", 1), document("b", "B", 2)
	putDoc(t, s, a, chunksOf("a", "x", "x", "x"), [][]float32{Vec(0.6, 0.8), Vec(1), Vec(-0.6, 0, 0.8)})
	putDoc(t, s, b, chunksOf("b", "x", "x"), [][]float32{Vec(0, 0, 0, 1), Vec(0.8, 0, 0, 0, 0.6)})
	hits := retrieve(t, s, genai.RetrieveQuery{Query: "query text", Mode: genai.RetrieveVector, K: 5}, axis(0))
	want := []string{"a#1", "b#1", "a#0", "b#0", "a#2"}
	if !slices.Equal(chunkIDs(hits), want) {
		t.Fatalf("vector ranking = %v, want %v", chunkIDs(hits), want)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score >= hits[i-1].Score {
			t.Errorf("vector scores not strictly descending: %s %v then %s %v", hits[i-1].ID, hits[i-1].Score, hits[i].ID, hits[i].Score)
		}
	}
	if hits[0].Title != "A" || hits[1].Title != "B" {
		t.Errorf("vector hits' titles = %q, %q; want A, B", hits[0].Title, hits[1].Title)
	}
	hits = retrieve(t, s, genai.RetrieveQuery{Query: "query text", Mode: genai.RetrieveVector, K: 1}, Vec(0.5, 0.9))
	if got := chunkIDs(hits); !slices.Equal(got, []string{"a#0"}) {
		t.Errorf("vector search near a#0 = %v, want [a#0]", got)
	}
}

func testChunkSearchK(t *testing.T, s genai.ChunkStore) {
	var texts []string
	var vecs [][]float32
	for i := range 12 {
		texts = append(texts, fmt.Sprintf("lighthouse keeper %d", i))
		vecs = append(vecs, Vec(1, float64(i)/4))
	}
	d := document("k", "Lighthouses", 1)
	putDoc(t, s, d, chunksOf(d.ID, texts...), vecs)
	for _, tc := range []struct {
		mode genai.RetrievalMode
		k    int
	}{{genai.RetrieveVector, 3}, {genai.RetrieveBM25, 2}, {genai.RetrieveVector, 12}, {genai.RetrieveVector, 1}, {genai.RetrieveBM25, 12}} {
		hits := retrieve(t, s, genai.RetrieveQuery{Query: "lighthouse", Mode: tc.mode, K: tc.k}, axis(0))
		if len(hits) != tc.k {
			t.Errorf("%s search k=%d returned %d hits", tc.mode, tc.k, len(hits))
		}
	}
	if hits := retrieve(t, s, genai.RetrieveQuery{Query: "x", Mode: genai.RetrieveVector, K: 3}, axis(0)); len(hits) == 0 || hits[0].ID != "k#0" {
		t.Errorf("vector search best = %v, want k#0 first", chunkIDs(hits))
	}
	for _, mode := range allModes {
		if hits := retrieve(t, s, genai.RetrieveQuery{Query: "lighthouse", Mode: mode, K: genai.MaxRetrieveK}, axis(0)); len(hits) != len(texts) {
			t.Errorf("%s search k=%d returned %d hits, want all %d", mode, genai.MaxRetrieveK, len(hits), len(texts))
		}
	}
}

func testDocumentFilter(t *testing.T, s genai.ChunkStore) {
	// The other documents match better, by words and by vector, than the filtered one.
	for i, id := range []string{"best1", "best2", "best3"} {
		d := document(id, "Tide tables", i)
		texts := make([]string, 10)
		for j := range texts {
			texts[j] = "tide tide tide tables"
		}
		vecs := make([][]float32, 10)
		for j := range vecs {
			vecs[j] = Vec(1, 0.01*float64(j))
		}
		putDoc(t, s, d, chunksOf(id, texts...), vecs)
	}
	target := document("target", "Harbour", 5)
	putDoc(t, s, target, chunksOf(target.ID, "the tide came in", "boats and moorings", "harbour walls"),
		[][]float32{Vec(0.3, 1), Vec(0, 1), Vec(0, 0, 1)})
	for _, mode := range allModes {
		hits := retrieve(t, s, genai.RetrieveQuery{Query: "tide", Mode: mode, K: 2, DocumentID: target.ID}, axis(0))
		if len(hits) == 0 {
			t.Errorf("%s search filtered by %s found nothing", mode, target.ID)
		}
		for _, h := range hits {
			if h.DocumentID != target.ID || h.Title != target.Title {
				t.Errorf("%s search filtered by %s returned %+v", mode, target.ID, h)
			}
		}
		if mode != genai.RetrieveBM25 && len(hits) != 2 {
			t.Errorf("%s search k=2 filtered by %s returned %d hits, want 2", mode, target.ID, len(hits))
		}
		if len(hits) > 0 && hits[0].ID != "target#0" {
			t.Errorf("%s search filtered by %s = %v, want target#0 first", mode, target.ID, chunkIDs(hits))
		}
		hits = retrieve(t, s, genai.RetrieveQuery{Query: "tide", Mode: mode, K: 100, DocumentID: "no-such-document"}, axis(0))
		if len(hits) != 0 {
			t.Errorf("%s search filtered by an unknown document = %v, want nothing", mode, chunkIDs(hits))
		}
	}
	hits := retrieve(t, s, genai.RetrieveQuery{Query: "x", Mode: genai.RetrieveVector, K: 100, DocumentID: target.ID}, axis(0))
	if len(hits) != 3 {
		t.Errorf("vector search k=100 filtered by %s = %v, want its 3 chunks", target.ID, chunkIDs(hits))
	}
}

func testEmptyChunkStore(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	for _, mode := range allModes {
		if hits := retrieve(t, s, genai.RetrieveQuery{Query: "anything at all", Mode: mode, K: 5}, axis(0)); len(hits) != 0 {
			t.Errorf("%s search on an empty store = %v", mode, chunkIDs(hits))
		}
	}
	docs, err := s.ListDocuments(ctx)
	if err != nil || len(docs) != 0 {
		t.Errorf("ListDocuments on an empty store = %v, %v; want none", docs, err)
	}
}

// testChunkQueryIsText checks that a query's words are only ever words: no query
// syntax of the underlying engine gets through, and no query fails.
func testChunkQueryIsText(t *testing.T, s genai.ChunkStore) {
	d := document("q", "Operators", 1)
	putDoc(t, s, d, chunksOf(d.ID, "AND or NEAR and NOT as words", "Quoted \"text\" (with) parens: col*"), axes(0, 2))
	for _, query := range []string{
		`AND (`, `"`, `NEAR`, `NEAR(a b)`, `text:foo`, `a OR`, `*`, `-`, `^x`, `{text}: x`,
		`"unbalanced`, `)(`, `col*`, `'; DROP TABLE chunks; --`, `\`, `+ - && || ! ( ) { } [ ] ^ " ~ * ? : \ /`,
	} {
		if _, err := s.RankChunks(context.Background(), genai.ChunkRanking{Text: query, N: 5}); err != nil {
			t.Errorf("bm25 search %q: %v", query, err)
		}
	}
	if hits := retrieve(t, s, genai.RetrieveQuery{Query: "NEAR", Mode: genai.RetrieveBM25, K: 5}, nil); !slices.Contains(chunkIDs(hits), "q#0") {
		t.Errorf("bm25 search %q = %v, want q#0 (the word itself)", "NEAR", chunkIDs(hits))
	}
	if hits := retrieve(t, s, genai.RetrieveQuery{Query: `"parens"`, Mode: genai.RetrieveBM25, K: 5}, nil); !slices.Contains(chunkIDs(hits), "q#1") {
		t.Errorf("bm25 search %q = %v, want q#1", `"parens"`, chunkIDs(hits))
	}
}

func testInvalidDocument(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	good := document("good", "Good", 1)
	goodChunks := chunksOf(good.ID, "good text", "more good text")
	short := make([]float32, Dim-1)
	short[0] = 1

	// Each of these is refused and stores nothing.
	for _, tc := range []struct {
		what    string
		doc     genai.Document
		chunks  []genai.Chunk
		vectors [][]float32
	}{
		{"a short vector", good, goodChunks, [][]float32{axis(0), short}},
		{"a long vector", good, goodChunks, [][]float32{make([]float32, Dim+1), axis(1)}},
		{"fewer vectors than chunks", good, goodChunks, axes(0, 1)},
		{"no vectors", good, goodChunks, nil},
		{"an empty document id", genai.Document{Title: "No ID", CreatedAt: at(1)}, nil, nil},
		{"an empty chunk id", good, []genai.Chunk{{DocumentID: good.ID, Text: "x"}}, axes(0, 1)},
		{"a chunk of another document", good, chunksOf("elsewhere", "x"), axes(0, 1)},
		{"a chunk id twice", good, append(chunksOf(good.ID, "x"), chunksOf(good.ID, "y")...), axes(0, 2)},
	} {
		err := s.PutDocument(ctx, tc.doc, tc.chunks, tc.vectors)
		wantCode(t, "PutDocument with "+tc.what, err, genai.EINVALID)
		if _, err := s.GetDocument(ctx, good.ID); genai.ErrorCode(err) != genai.ENOTFOUND {
			t.Errorf("PutDocument with %s stored the document: GetDocument error = %v", tc.what, err)
		}
	}
	err := s.PutDocument(ctx, good, goodChunks, [][]float32{axis(0), short})
	if err != nil && !strings.Contains(err.Error(), fmt.Sprint(Dim)) {
		t.Errorf("PutDocument with a short vector: error %q does not name the dimension %d", err, Dim)
	}
	if hits := retrieve(t, s, genai.RetrieveQuery{Query: "good text", Mode: genai.RetrieveBM25, K: 5}, nil); len(hits) != 0 {
		t.Errorf("refused documents left chunks behind: %v", chunkIDs(hits))
	}

	putDoc(t, s, good, goodChunks, axes(0, 2))
	for _, v := range [][]float32{short, make([]float32, Dim+1), {}} {
		for _, doc := range []string{"", good.ID} {
			_, err := s.RankChunks(ctx, genai.ChunkRanking{Vector: v, N: 5, DocumentID: doc})
			wantCode(t, fmt.Sprintf("vector search (document %q) with a vector of %d dimensions", doc, len(v)), err, genai.EINVALID)
			if err != nil && !strings.Contains(err.Error(), fmt.Sprint(Dim)) {
				t.Errorf("vector search with a vector of %d dimensions: error %q does not name the dimension %d", len(v), err, Dim)
			}
		}
	}
	got, err := s.GetDocument(ctx, good.ID)
	if err != nil {
		t.Fatalf("GetDocument after the valid put: %v", err)
	}
	checkDocument(t, "GetDocument", got, good, 2)
}

// wholeRanking checks that a ranking filtered by document id names all the chunks of
// one of its versions (id#0 to id#n-1, n a version's chunk count), or none.
func wholeRanking(hits []genai.ChunkHit, id string, nchunks func(v int) int) error {
	if len(hits) == 0 {
		return nil
	}
	got := chunkIDs(hits)
	slices.Sort(got)
	for v := range 3 {
		want := make([]string, nchunks(v))
		for i := range want {
			want[i] = fmt.Sprintf("%s#%d", id, i)
		}
		slices.Sort(want)
		if slices.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("ranking of %s = %v, not every chunk of one version", id, got)
}

// testChunkConcurrency runs many goroutines that put documents and search them at
// once. Writers rewrite their documents in versions whose every chunk names the
// version, and each version has a different number of chunks, so a reader can tell a
// torn document (chunks of two versions, or some missing) from a whole one.
func testChunkConcurrency(t *testing.T, s genai.ChunkStore) {
	ctx := context.Background()
	const (
		workers  = 64
		writers  = 24
		versions = 4
	)
	nchunks := func(v int) int { return 3 + v%3*2 } // 3, 5, 7, 3
	version := func(w, v int) (genai.Document, []genai.Chunk, [][]float32) {
		id := fmt.Sprintf("w%02d", w)
		d := document(id, fmt.Sprintf("Concurrent %s v%d", id, v), w*10+v)
		texts := make([]string, nchunks(v))
		vecs := make([][]float32, len(texts))
		for i := range texts {
			texts[i] = fmt.Sprintf("concurrent %s v%d chunk %d of %d", id, v, i, len(texts))
			vecs[i] = Vec(1, float64(w)/10, float64(i)/10)
		}
		return d, chunksOf(id, texts...), vecs
	}
	// whole checks that the hits of document id within one search are all of one
	// version and, when want, that all its chunks are there.
	whole := func(hits []genai.ChunkHit, id string, all bool) error {
		var tag string
		n, seen := 0, 0
		for _, h := range hits {
			if h.DocumentID != id {
				continue
			}
			var w, v, i, of int
			if _, err := fmt.Sscanf(h.Text, "concurrent w%02d v%d chunk %d of %d", &w, &v, &i, &of); err != nil {
				return fmt.Errorf("unexpected chunk %+v", h)
			}
			t := fmt.Sprintf("v%d", v)
			if tag == "" {
				tag, n = t, of
			} else if t != tag {
				return fmt.Errorf("chunks of %s versions %s and %s in one search", id, tag, t)
			}
			if !strings.HasSuffix(h.Title, " "+t) || of != nchunks(v) || h.ID != fmt.Sprintf("%s#%d", id, i) {
				return fmt.Errorf("torn chunk %+v", h)
			}
			seen++
		}
		if all && seen != n {
			return fmt.Errorf("%d of the %d chunks of %s %s in a search that should find them all", seen, n, id, tag)
		}
		return nil
	}
	for w := range writers {
		d, c, vecs := version(w, 0)
		putDoc(t, s, d, c, vecs)
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers*versions*4)
	for g := range workers {
		wg.Go(func() {
			if g < writers {
				for v := 1; v < versions; v++ {
					d, c, vecs := version(g, v)
					if err := s.PutDocument(ctx, d, c, vecs); err != nil {
						errs <- fmt.Errorf("writer %d: PutDocument: %w", g, err)
						return
					}
				}
				return
			}
			for r := range versions * 2 {
				id := fmt.Sprintf("w%02d", (g+r)%writers)
				mode := allModes[(g+r)%len(allModes)]
				vec := Vec(1, float64((g+r)%writers)/10)
				// Filtered by document, with n above any version's chunk count: every
				// chunk of one version, and loaded, chunks of one version.
				q := genai.RetrieveQuery{Query: "concurrent " + id, Mode: mode, K: 20, DocumentID: id}
				ranked, err := s.RankChunks(ctx, ranking(q, vec))
				if err != nil {
					errs <- fmt.Errorf("reader %d: %s search of %s: %w", g, mode, id, err)
					continue
				}
				if err := wholeRanking(ranked, id, nchunks); err != nil {
					errs <- fmt.Errorf("reader %d: %s search of %s: %w", g, mode, id, err)
				}
				hits, err := s.LoadChunks(ctx, ranked)
				if err != nil {
					errs <- fmt.Errorf("reader %d: load the %s search of %s: %w", g, mode, id, err)
					continue
				}
				if err := whole(hits, id, false); err != nil {
					errs <- fmt.Errorf("reader %d: %s search of %s: %w", g, mode, id, err)
				}
				// Unfiltered: never two versions of a document.
				q = genai.RetrieveQuery{Query: "concurrent chunk", Mode: mode, K: 50}
				if ranked, err = s.RankChunks(ctx, ranking(q, vec)); err == nil {
					hits, err = s.LoadChunks(ctx, ranked)
				}
				if err != nil {
					errs <- fmt.Errorf("reader %d: %s search: %w", g, mode, err)
					continue
				}
				for w := range writers {
					if err := whole(hits, fmt.Sprintf("w%02d", w), false); err != nil {
						errs <- fmt.Errorf("reader %d: %s search: %w", g, mode, err)
					}
				}
				d, err := s.GetDocument(ctx, id)
				if err != nil {
					errs <- fmt.Errorf("reader %d: GetDocument(%s): %w", g, id, err)
					continue
				}
				var w, v int
				if _, err := fmt.Sscanf(d.Title, "Concurrent w%02d v%d", &w, &v); err != nil {
					errs <- fmt.Errorf("reader %d: GetDocument(%s) = %+v", g, id, d)
				} else if d.Chunks != nchunks(v) {
					errs <- fmt.Errorf("reader %d: GetDocument(%s) = %+v: %d chunks, want %d", g, id, d, d.Chunks, nchunks(v))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Nothing lost: every document is at its last version, with all its chunks.
	last := versions - 1
	for w := range writers {
		want, chunks, _ := version(w, last)
		got, err := s.GetDocument(ctx, want.ID)
		if err != nil {
			t.Errorf("GetDocument(%s) after the writers: %v", want.ID, err)
			continue
		}
		checkDocument(t, "final document", got, want, len(chunks))
		hits := retrieve(t, s, genai.RetrieveQuery{Query: "concurrent", Mode: genai.RetrieveBM25, K: 20, DocumentID: want.ID}, nil)
		if len(hits) != len(chunks) {
			t.Errorf("final %s has %d chunks found by bm25, want %d", want.ID, len(hits), len(chunks))
		}
		for _, h := range hits {
			if !strings.HasPrefix(h.Text, fmt.Sprintf("concurrent %s v%d ", want.ID, last)) {
				t.Errorf("final %s: chunk of an old version %+v", want.ID, h)
			}
		}
	}
	docs, err := s.ListDocuments(ctx)
	if err != nil {
		t.Fatalf("ListDocuments: %v", err)
	}
	if len(docs) != writers {
		t.Errorf("ListDocuments after the writers = %d documents, want %d", len(docs), writers)
	}
	total := 0
	for _, d := range docs {
		total += d.Chunks
	}
	if want := writers * nchunks(last); total != want {
		t.Errorf("ListDocuments after the writers counts %d chunks, want %d", total, want)
	}
	hits := retrieve(t, s, genai.RetrieveQuery{Query: "concurrent", Mode: genai.RetrieveBM25, K: genai.MaxRetrieveK}, nil)
	if len(hits) != writers*nchunks(last) {
		t.Errorf("bm25 search of every chunk after the writers = %d hits, want %d", len(hits), writers*nchunks(last))
	}
}
