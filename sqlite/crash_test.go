package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"genai"
)

// The crash test runs its own test binary as a child that bulk-imports notes; the
// child is told so by these variables.
const (
	crashChildEnv = "GENAI_SQLITE_CRASH_CHILD" // the database path
	crashNotes    = 10_000
	crashBatch    = 100
	crashDim      = 32
)

var crashSpace = genai.EmbeddingSpace{Model: "crash-test", Dimensions: crashDim}

func TestMain(m *testing.M) {
	for env, child := range map[string]func(string) error{crashChildEnv: crashChild, chunkCrashChildEnv: chunkCrashChild} {
		path := os.Getenv(env)
		if path == "" {
			continue
		}
		if err := child(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if benchDB != nil {
		benchDB.Close()
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// crashNote returns the i-th note of the import and its vector, the same in child and
// parent.
func crashNote(i int) (genai.Note, []float32) {
	id := fmt.Sprintf("crash%05d", i)
	r := rand.New(rand.NewPCG(uint64(i), 7))
	return genai.Note{
		ID: id, Title: "Imported " + id, Link: "https://example.com/" + id,
		Text:      strings.Repeat("body of "+id+" ", 10),
		CreatedAt: time.UnixMilli(1_700_000_000_000 + int64(i)).UTC(),
	}, randomUnit(r, crashDim)
}

// crashChild imports the notes and prints the IDs of each batch once PutNotes has
// returned, until it is killed.
func crashChild(path string) error {
	db, err := Open(context.Background(), path, Options{Space: crashSpace})
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for start := 0; start < crashNotes; start += crashBatch {
		notes := make([]genai.Note, crashBatch)
		vecs := make([][]float32, crashBatch)
		ids := make([]string, crashBatch)
		for i := range notes {
			notes[i], vecs[i] = crashNote(start + i)
			ids[i] = notes[i].ID
		}
		if err := db.PutNotes(context.Background(), notes, vecs); err != nil {
			return err
		}
		fmt.Fprintln(out, "ack", strings.Join(ids, " "))
		out.Flush()
	}
	fmt.Fprintln(out, "done")
	out.Flush()
	return db.Close()
}

// TestCrashDuringImport kills (SIGKILL) a child process in the middle of a bulk import
// of 10,000 notes, at several points, and checks that the store opens intact with
// every acknowledged note in it and searchable, and nothing half-written.
func TestCrashDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	killPoints := []int{1, 13, 42, 77}
	if raceEnabled {
		killPoints = []int{1, 13, 30}
	}
	for _, killAfter := range killPoints {
		t.Run(fmt.Sprintf("after%dBatches", killAfter), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "notes.db")
			acked := runAndKill(t, crashChildEnv, path, killAfter)
			checkAfterCrash(t, path, acked)
		})
	}
}

// runAndKill runs the importing child that env names and kills it once it has
// acknowledged killAfter batches, a moment into the next; it returns the acknowledged
// IDs.
func runAndKill(t *testing.T, env, path string, killAfter int) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	batches := 0
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if ids, ok := strings.CutPrefix(line, "ack "); ok {
			acked = append(acked, strings.Fields(ids)...)
			batches++
		}
		if batches == killAfter {
			// Let the child get into the next batch: vary the moment a little.
			time.Sleep(time.Duration(killAfter%5) * 300 * time.Microsecond)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	// Acknowledgements already in the pipe count too: the child's writes returned.
	for sc.Scan() {
		if ids, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, strings.Fields(ids)...)
		}
	}
	err = cmd.Wait()
	if batches < killAfter {
		t.Fatalf("the child ended after %d batches, before the kill: %v", batches, err)
	}
	t.Logf("killed after %d acknowledged (%v)", len(acked), err)
	return acked
}

func checkAfterCrash(t *testing.T, path string, acked []string) {
	ctx := context.Background()
	db, err := Open(ctx, path, Options{Space: crashSpace})
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	defer db.Close()
	var check string
	if err := db.writer.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	if _, err := db.writer.ExecContext(ctx, `INSERT INTO notes_fts (notes_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("FTS5 integrity-check: %v", err)
	}
	var notes, vectors, orphans, bare int
	err = db.writer.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM notes), (SELECT count(*) FROM vectors),
		(SELECT count(*) FROM vectors WHERE note_rowid NOT IN (SELECT rowid FROM notes)),
		(SELECT count(*) FROM notes WHERE rowid NOT IN (SELECT note_rowid FROM vectors))`).Scan(&notes, &vectors, &orphans, &bare)
	if err != nil {
		t.Fatal(err)
	}
	if notes != vectors || orphans != 0 || bare != 0 {
		t.Errorf("half-written notes: %d notes, %d vectors, %d vectors without a note, %d notes without a vector", notes, vectors, orphans, bare)
	}
	// Batches are atomic: the store has the acknowledged ones and at most the one
	// in flight.
	if notes%crashBatch != 0 || notes < len(acked) || notes > len(acked)+crashBatch {
		t.Errorf("the store has %d notes after %d were acknowledged in batches of %d", notes, len(acked), crashBatch)
	}
	if n := db.notes.vec.Load().len(); n != notes {
		t.Errorf("%d vectors in memory, %d notes", n, notes)
	}
	for i, id := range acked {
		want, vec := crashNote(i)
		if want.ID != id {
			t.Fatalf("acknowledged note %d is %s, want %s", i, id, want.ID)
		}
		got, err := db.GetNote(ctx, id)
		if err != nil {
			t.Fatalf("GetNote(%s) of an acknowledged note: %v", id, err)
		}
		if *got != want {
			t.Fatalf("GetNote(%s) = %+v, want %+v", id, *got, want)
		}
		if raceEnabled && i%20 != 0 && i < len(acked)-crashBatch {
			continue // a sample and the last batch: -race makes each search slow
		}
		hits, err := db.SearchNotes(ctx, genai.NoteSearch{Query: id, Mode: genai.SearchTitle, K: 1}, nil)
		if err != nil || len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("title search for %s = %v, %v", id, hits, err)
		}
		hits, err = db.SearchNotes(ctx, genai.NoteSearch{Query: id, Mode: genai.SearchSemantic, K: 1}, vec)
		if err != nil || len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("semantic search for %s = %v, %v", id, hits, err)
		}
	}
}
