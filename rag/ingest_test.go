package rag

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"genai"
	"genai/localembed"
)

// ingestMemStore is a map-based genai.ChunkStore for the ingester's tests.
type ingestMemStore struct {
	genai.ChunkSearcher // nil: ingestion never searches
	mu                  sync.Mutex
	docs                map[string]genai.Document
	chunks              map[string][]genai.Chunk
	puts                int
}

func newIngestMemStore() *ingestMemStore {
	return &ingestMemStore{docs: map[string]genai.Document{}, chunks: map[string][]genai.Chunk{}}
}

func (s *ingestMemStore) PutDocument(ctx context.Context, doc genai.Document, chunks []genai.Chunk, vectors [][]float32) error {
	if len(chunks) != len(vectors) {
		return genai.Errorf(genai.EINVALID, "%d chunks, %d vectors", len(chunks), len(vectors))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[doc.ID] = doc
	s.chunks[doc.ID] = slices.Clone(chunks)
	s.puts++
	return nil
}

func (s *ingestMemStore) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.docs[id]; ok {
		return &d, nil
	}
	return nil, genai.Errorf(genai.ENOTFOUND, "document %q not found", id)
}

func (s *ingestMemStore) DocumentByURI(ctx context.Context, uri string) (*genai.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.docs {
		if d.URI == uri {
			return &d, nil
		}
	}
	return nil, genai.Errorf(genai.ENOTFOUND, "document %q not found", uri)
}

func (s *ingestMemStore) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []genai.Document
	for _, d := range s.docs {
		out = append(out, d)
	}
	return out, nil
}

func (s *ingestMemStore) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[id]; !ok {
		return nil, genai.Errorf(genai.ENOTFOUND, "document %q not found", id)
	}
	return slices.Clone(s.chunks[id]), nil
}

func (s *ingestMemStore) DeleteDocument(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.docs, id)
	delete(s.chunks, id)
	return nil
}

// ingestCountingEmbedder counts the texts it embeds.
type ingestCountingEmbedder struct {
	genai.Embedder
	texts, calls atomic.Int64
}

func (e *ingestCountingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.texts.Add(int64(len(texts)))
	e.calls.Add(1)
	return e.Embedder.Embed(ctx, texts)
}

func newTestIngester(t testing.TB) (*Ingester, *ingestMemStore, *ingestCountingEmbedder) {
	t.Helper()
	local, err := localembed.New(localembed.Options{Dimensions: 64})
	if err != nil {
		t.Fatal(err)
	}
	store, emb := newIngestMemStore(), &ingestCountingEmbedder{Embedder: local}
	return &Ingester{Store: store, Embedder: emb}, store, emb
}

func TestIngestReplacesAndSkipsUnchanged(t *testing.T) {
	ctx := context.Background()
	in, store, emb := newTestIngester(t)
	in.ChunkTokens, in.OverlapTokens, in.EmbedBatch = 60, 10, 4
	var sb strings.Builder
	sb.WriteString("# Handbook\n\n")
	for i := range 20 {
		fmt.Fprintf(&sb, "## Topic %d\n\nTopic %d explains one thing in a few words. It adds a second sentence.\n\n", i, i)
	}
	v1 := []byte(sb.String())

	got, err := in.Ingest(ctx, "docs/handbook.md", v1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Unchanged || got.Title != "Handbook" || got.Format != FormatMarkdown || got.Chunks != 20 || got.ID != DocumentID("docs/handbook.md") || got.Bytes != int64(len(v1)) || len(got.Hash) != 64 {
		t.Fatalf("first ingest: %+v", got)
	}
	chunks := store.chunks[got.ID]
	if c := chunks[3]; c.ID != got.ID+"-00003" || c.DocumentID != got.ID || c.Index != 3 || !slices.Equal(c.Headings, []string{"Handbook", "Topic 3"}) {
		t.Errorf("chunk 3: %+v", c)
	}
	if emb.texts.Load() != 20 || emb.calls.Load() != 5 {
		t.Errorf("embedded %d texts in %d calls, want 20 in 5 batches of 4", emb.texts.Load(), emb.calls.Load())
	}

	// The same text again: nothing embedded, nothing written.
	again, err := in.Ingest(ctx, "docs/handbook.md", v1)
	if err != nil || !again.Unchanged || again.ID != got.ID || store.puts != 1 || emb.texts.Load() != 20 {
		t.Fatalf("re-ingest: %+v, %v; puts %d, embedded %d", again, err, store.puts, emb.texts.Load())
	}

	// Changed text: replaced under the same ID, with its new chunks only.
	v2 := []byte("# Handbook\n\nNow a single short paragraph.")
	changed, err := in.Ingest(ctx, "docs/handbook.md", v2)
	if err != nil || changed.Unchanged || changed.ID != got.ID || changed.Chunks != 1 || changed.Hash == got.Hash {
		t.Fatalf("changed: %+v, %v", changed, err)
	}
	if n := len(store.docs); n != 1 || len(store.chunks[got.ID]) != 1 {
		t.Errorf("%d documents, %d chunks after replacing", n, len(store.chunks[got.ID]))
	}
}

func TestIngestText(t *testing.T) {
	ctx := context.Background()
	in, store, _ := newTestIngester(t)
	d, err := in.IngestText(ctx, "", "", "Some pasted text.")
	if err != nil || !strings.HasPrefix(d.URI, "text:") || d.Format != FormatText || d.Title != d.URI {
		t.Fatalf("%+v, %v", d, err)
	}
	d, err = in.IngestText(ctx, "Notes", "https://example.com/notes.md", "# H\n\nbody")
	if err != nil || d.Format != FormatMarkdown || d.Title != "Notes" || store.chunks[d.ID][0].Headings[0] != "H" {
		t.Fatalf("%+v, %v", d, err)
	}
	d, err = in.IngestText(ctx, "T", "https://example.com/paper.pdf", "plain text, not a PDF")
	if err != nil || d.Format != FormatText {
		t.Fatalf("%+v, %v", d, err)
	}
	_, err = in.IngestText(ctx, "T", "u1", "  \n ")
	checkFileError(t, err, "u1", genai.EINVALID, "no text found")
	_, err = in.IngestText(ctx, "T", "u2", "bad \x00 bytes")
	checkFileError(t, err, "u2", genai.EINVALID, "NUL")
}

func TestIngestLimits(t *testing.T) {
	ctx := context.Background()
	in, _, _ := newTestIngester(t)
	in.MaxFileBytes, in.MaxChunks, in.ChunkTokens = 1000, 3, 20
	_, err := in.Ingest(ctx, "big.txt", make([]byte, 1001))
	checkFileError(t, err, "big.txt", genai.ETOOLARGE, "limit of 1000 per file")
	_, err = in.Ingest(ctx, "many.txt", []byte(strings.Repeat("A sentence of several words here. ", 20)))
	checkFileError(t, err, "many.txt", genai.ETOOLARGE, "chunks, over the limit of 3")
	_, err = in.Ingest(ctx, "empty.html", []byte("<script>only()</script>"))
	checkFileError(t, err, "empty.html", genai.EINVALID, "no text found")
	_, err = in.Ingest(ctx, "slides.key", []byte("PK\x03\x04"))
	checkFileError(t, err, "slides.key", genai.EMEDIATYPE, "supported are")
	in.MaxTextBytes = 50
	_, err = in.IngestText(ctx, "", "long", strings.Repeat("x ", 30))
	checkFileError(t, err, "long", genai.ETOOLARGE, "limit")
}

// TestIngestManyTinyFiles ingests 10,000 tiny files, a tenth of them junk, reading each
// from disk as the CLI does: every good one stored, every bad one a clear error.
func TestIngestManyTinyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 files")
	}
	ctx := context.Background()
	in, store, _ := newTestIngester(t)
	dir := t.TempDir()
	for i := range 10_000 {
		name, data := fmt.Sprintf("f%05d.txt", i), fmt.Sprintf("Tiny file number %d.", i)
		if i%10 == 0 {
			name, data = fmt.Sprintf("f%05d.txt", i), "\x00\x01junk"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	failed := 0
	peak, elapsed := measurePeak(func() {
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := in.Ingest(ctx, path, data); err != nil {
				if genai.ErrorCode(err) != genai.EINVALID || !strings.HasPrefix(genai.ErrorMessage(err), path+": ") {
					t.Fatalf("%s: %v", path, err)
				}
				failed++
			}
		}
	})
	t.Logf("10,000 tiny files: %v, peak heap in use %.1f MiB", elapsed.Round(time.Millisecond), float64(peak)/(1<<20))
	if failed != 1000 || len(store.docs) != 9000 {
		t.Errorf("%d failed, %d stored; want 1000 and 9000", failed, len(store.docs))
	}
}

func TestIngestParseTimeout(t *testing.T) {
	in, _, _ := newTestIngester(t)
	in.ParseTimeout = time.Nanosecond
	data := pdfWithPages([][]byte{pdfTextContent("a"), pdfTextContent("b")}, "", nil)
	_, err := in.Ingest(context.Background(), "slow.pdf", data)
	checkFileError(t, err, "slow.pdf", genai.ETIMEOUT, "slow.pdf")
}
