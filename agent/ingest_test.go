package agent_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"genai"
	"genai/agent"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

// ingest_document stores a text document as an upload does: found by a search of the
// knowledge base afterwards, replaced when its URI comes again with new text, left as
// it was when the text is the same; and a call without text is refused naming it.
func TestIngestDocument(t *testing.T) {
	ctx := t.Context()
	emb, err := localembed.New(localembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kb.db"), sqlite.Options{Space: emb.Space()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	docs := &rag.Documents{Ingester: &rag.Ingester{Store: db, Embedder: emb}}
	ingest := agent.IngestTools(docs)[0]
	if ingest.Tool().Name != "ingest_document" {
		t.Fatalf("tool %q", ingest.Tool().Name)
	}
	run := func(input string) string {
		t.Helper()
		out, err := ingest.Run(ctx, json.RawMessage(input))
		if err != nil {
			return "error: " + genai.ErrorMessage(err)
		}
		return out.Content[0].Text
	}
	if got := run(`{"title":"Kettle","uri":"kettle.txt","text":"Descale the kettle monthly with citric acid."}`); !strings.HasPrefix(got, "Ingested the document \"Kettle\"") {
		t.Errorf("first ingest: %q", got)
	}
	if got := run(`{"title":"Kettle","uri":"kettle.txt","text":"Descale the kettle monthly with citric acid."}`); !strings.HasPrefix(got, "Left unchanged") {
		t.Errorf("same text again: %q", got)
	}
	if got := run(`{"title":"Kettle","uri":"kettle.txt","text":"Descale the kettle weekly with white vinegar."}`); !strings.HasPrefix(got, "Replaced") {
		t.Errorf("new text: %q", got)
	}
	if got := run(`{"title":"Empty","text":"  "}`); got != "error: text: required" {
		t.Errorf("no text: %q", got)
	}
	kb := &rag.Local{Retriever: &rag.Retriever{Store: db, Embedder: emb}}
	out, err := agent.KnowledgeBaseTools(kb, docs)[0].Run(ctx, json.RawMessage(`{"query":"how to descale a kettle"}`))
	if err != nil {
		t.Fatal(err)
	}
	if text := out.Content[0].Text; !strings.Contains(text, "white vinegar") || strings.Contains(text, "citric acid") {
		t.Errorf("search after the replacement: %q", text)
	}
}
