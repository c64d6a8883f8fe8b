package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"genai"
	"genai/sqlite"
	"genai/storetest"
)

// Two handles on one file stand for two processes, such as a running server and the
// genai notes command: each one's searches see the other's writes.
func TestWritesOfAnotherProcessAreSearched(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "genai.db")
	open := func() *sqlite.DB {
		db, err := sqlite.Open(ctx, path, sqlite.Options{Space: storetest.Space})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	server, cli := open(), open()
	semantic := func(db *sqlite.DB) []genai.NoteHit {
		hits, err := db.SearchNotes(ctx, genai.NoteSearch{Query: "x", Mode: genai.SearchSemantic, K: 5}, storetest.Vec(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	semantic(server) // the server has loaded its vectors before the command writes
	note := genai.Note{ID: "n1", Text: "imported from the command line", CreatedAt: time.Now()}
	if err := cli.PutNotes(ctx, []genai.Note{note}, [][]float32{storetest.Vec(1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if hits := semantic(server); len(hits) != 1 || hits[0].ID != "n1" {
		t.Fatalf("the server does not find the command's note: %+v", hits)
	}
	if err := server.PutNotes(ctx, []genai.Note{{ID: "n2", Text: "added by the server", CreatedAt: time.Now()}}, [][]float32{storetest.Vec(0.9, 0.1, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := cli.DeleteNote(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if hits := semantic(server); len(hits) != 1 || hits[0].ID != "n2" {
		t.Errorf("after the command deleted n1, the server finds %+v; want only n2", hits)
	}
	if hits := semantic(cli); len(hits) != 1 || hits[0].ID != "n2" {
		t.Errorf("the command finds %+v; want n2, written by the server", hits)
	}
}
