package rag_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"genai"
	"genai/bedrock/bedrocktest"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

// storeKB is the offline default end to end: documents ingested into the embedded
// SQLite store with the local embedder, hybrid retrieval, and answers.
func storeKB(t *testing.T, chat genai.ChatModel) (*rag.Local, *rag.Ingester) {
	t.Helper()
	ctx := context.Background()
	emb, err := localembed.New(localembed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kb.db"), sqlite.Options{Space: emb.Space()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	docs := &rag.Ingester{Store: db, Embedder: emb}
	for name, text := range map[string]string{
		"metformin.md": "# Metformin\n\nMetformin is a medicine used to treat type 2 diabetes. It lowers the amount of glucose the liver releases.\n\n## Side effects\n\nCommon side effects of metformin include nausea, diarrhoea and stomach pain. Rarely, metformin causes lactic acidosis.",
		"insulin.txt":  "Insulin is a hormone made by the pancreas. People with type 1 diabetes need insulin injections every day.",
		"volcano.txt":  "A volcano is an opening in the crust of a planet through which lava, ash and gases escape.",
	} {
		if _, err := docs.IngestFile(ctx, name, strings.NewReader(text)); err != nil {
			t.Fatal(err)
		}
	}
	return &rag.Local{Retriever: &rag.Retriever{Store: db, Embedder: emb}, Chat: chat, Sessions: &rag.Sessions{}}, docs
}

func TestExtractiveAnswerOnTheStore(t *testing.T) {
	kb, docs := storeKB(t, nil)
	ctx := context.Background()
	a, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "What are the side effects of metformin?"})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := drain(t, a)
	if !a.Extractive || !strings.HasPrefix(text, "Extractive answer (no model configured): ") ||
		!strings.Contains(text, "Common side effects of metformin include nausea, diarrhoea and stomach pain. [1]") {
		t.Fatalf("answer %q", text)
	}
	if len(a.Citations) == 0 || a.Citations[0].N != 1 || !strings.Contains(a.Citations[0].Text, "side effects") || a.Citations[0].URI != "metformin.md" {
		t.Errorf("citations %+v", a.Citations)
	}

	// A follow-up in the session: "it" is resolved by the previous question's terms.
	a2, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "Who needs injections of it every day?", SessionID: a.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := drain(t, a2); !strings.Contains(text, "People with type 1 diabetes need insulin injections every day.") {
		t.Errorf("follow-up %q", text)
	}

	// Deleting a document takes its chunks out of the answers.
	list, err := docs.ListDocuments(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list %v, %v", list, err)
	}
	for _, d := range list {
		if d.URI == "metformin.md" {
			if err := docs.DeleteDocument(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	a3, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "What are the side effects of metformin?"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range a3.Citations {
		if c.URI == "metformin.md" {
			t.Errorf("a deleted document is cited: %+v", c)
		}
	}
}

func TestModelAnswerOnTheStore(t *testing.T) {
	srv := fakeBedrock(t, "", []string{"Nausea ", "[1]."}, bedrocktest.Options{})
	kb, _ := storeKB(t, newModel(t, srv))
	a, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "side effects of metformin", K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := drain(t, a); text != "Nausea [1]." {
		t.Errorf("text %q", text)
	}
	if len(a.Citations) != 2 || !strings.Contains(a.Citations[0].Text, "metformin") {
		t.Errorf("citations %+v", a.Citations)
	}
	prompt := srv.Requests()[0].LastUserText()
	if !strings.Contains(prompt, "[1] Metformin › ") || !strings.Contains(prompt, "[2] ") || strings.Contains(prompt, "[3] ") {
		t.Errorf("prompt:\n%s", prompt)
	}
}
