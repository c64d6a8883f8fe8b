package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/server"
	"genai/sqlite"
)

// TestKBDocumentChunks uploads a Markdown file and a PDF to a real store and reads
// each back with GET /api/kb/documents/{id}: the document and its chunks in order,
// with their heading paths and, for the PDF, their pages.
func TestKBDocumentChunks(t *testing.T) {
	e, err := localembed.New(localembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "genai.db"), sqlite.Options{Space: e.Space()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	in := &rag.Ingester{Store: db, Embedder: e, ChunkTokens: 20, OverlapTokens: -1}
	base := newServer(t, server.Options{Ingest: in}).URL
	pdf, err := os.ReadFile("../rag/testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	status, body := postMultipart(t, base+"/api/kb/documents",
		filePart{"file", "guide.md", "# Guide\n\nFirst words of the guide.\n\n## Install\n\nRun the installer, then restart the machine to finish."},
		filePart{"file", "notes.pdf", string(pdf)},
	)
	var up uploadBody
	decodeJSON(t, body, &up)
	if status != 201 || len(up.Documents) != 2 {
		t.Fatalf("upload: %d %s", status, body)
	}

	var got struct {
		Document genai.Document
		Chunks   []genai.Chunk
	}
	status, body = do(t, "GET", base+"/api/kb/documents/"+up.Documents[0].ID, "")
	decodeJSON(t, body, &got)
	if status != 200 || got.Document.URI != "guide.md" || len(got.Chunks) != got.Document.Chunks || len(got.Chunks) < 2 {
		t.Fatalf("get guide.md: %d %s", status, body)
	}
	if c := got.Chunks[0]; c.Index != 0 || !slices.Equal(c.Headings, []string{"Guide"}) || c.Text != "First words of the guide." {
		t.Errorf("first chunk %+v", c)
	}
	if c := got.Chunks[1]; c.Index != 1 || !slices.Equal(c.Headings, []string{"Guide", "Install"}) || !strings.HasPrefix(c.Text, "Run the installer") {
		t.Errorf("second chunk %+v", c)
	}
	if strings.Contains(string(body), `"page"`) {
		t.Errorf("a Markdown chunk has a page: %s", body)
	}

	status, body = do(t, "GET", base+"/api/kb/documents/"+up.Documents[1].ID, "")
	decodeJSON(t, body, &got)
	if status != 200 || got.Document.Format != "pdf" || len(got.Chunks) < 2 {
		t.Fatalf("get notes.pdf: %d %s", status, body)
	}
	var text strings.Builder
	for i, c := range got.Chunks {
		if c.Index != i || c.Page != 1 {
			t.Errorf("PDF chunk %d: index %d, page %d; want %d, 1", i, c.Index, c.Page, i)
		}
		text.WriteString(c.Text + " ")
	}
	if !strings.Contains(text.String(), "Retrieval augmented generation depends on extraction") {
		t.Errorf("the PDF's chunks do not hold its text: %s", text.String())
	}

	if status, body = do(t, "GET", base+"/api/kb/documents/nope", ""); status != 404 || errorCode(t, body) != "not_found" {
		t.Errorf("unknown document: %d %s", status, body)
	}
}
