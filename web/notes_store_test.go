package web_test

import (
	"context"
	"path/filepath"
	"testing"

	"genai"
	"genai/localembed"
	"genai/sqlite"
)

func init() {
	newNotes = func(t *testing.T) (*genai.NoteService, string) {
		emb, err := localembed.New(localembed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "notes.db"), sqlite.Options{Space: emb.Space()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return &genai.NoteService{Store: db, Embedder: emb}, "sqlite"
	}
}
