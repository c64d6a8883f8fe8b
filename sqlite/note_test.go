package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"genai"
	"genai/storetest"
)

func openTest(t testing.TB, path string, space genai.EmbeddingSpace) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{Space: space})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.TestNoteStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.NoteStore {
		return openTest(t, filepath.Join(t.TempDir(), "notes.db"), space)
	})
}
