package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notesCLI runs "genai notes ARGS…" in-process with env and returns its stdout and stderr.
func notesCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := notesCommand(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestNotesCommandLine(t *testing.T) {
	isolateAWS(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "not", "yet") // the command makes the data directory
	env := map[string]string{"GENAI_DATA_DIR": dir}
	file := filepath.Join(tmp, "notes.jsonl")
	var lines []string
	for i := 0; i < 250; i++ {
		lines = append(lines, fmt.Sprintf(`{"title":"Note %d","text":"ordinary filler text number %d"}`, i, i))
	}
	lines = append(lines, `{"id":"sourdough","title":"Sourdough","link":"https://example.com/bread","text":"A starter of flour and water leavens the bread."}`)
	lines = append(lines, `{"title":"broken"`)                                         // bad JSON
	lines = append(lines, `{"title":"no text at all"}`)                                // no text
	lines = append(lines, `{"id":"no/slashes","text":"a note"}`)                       // bad ID
	lines = append(lines, `{"title":"Note 7","text":"ordinary filler text number 7"}`) // a repeat
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)

	out, errOut, err := notesCLI(t, env, "import", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "imported 251 notes, skipped 1 already stored, 3 lines failed") || !strings.Contains(errOut, "line 252:") ||
		!strings.Contains(errOut, "line 253: text: required") || !strings.Contains(errOut, `line 254: id: "no/slashes" has '/'`) {
		t.Errorf("import summary %q, errors %q", out, errOut)
	}
	// The same file again: every note is stored already.
	if out, _, err := notesCLI(t, env, "import", file); err != nil || !strings.Contains(out, "imported 0 notes, skipped 252 already stored, 3 lines failed") {
		t.Errorf("a second import of the same file: %q, %v", out, err)
	}
	out, _, err = notesCLI(t, env, "search", "-mode", "hybrid", "-k", "3", "starter", "bread")
	if err != nil || !strings.HasPrefix(out, "1. ") || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "Sourdough") {
		t.Errorf("search: %v\n%s", err, out)
	}
	id, _, err := notesCLI(t, env, "add", "-title", "Tides", "The moon pulls the oceans twice a day.")
	if err != nil || len(strings.TrimSpace(id)) != 28 {
		t.Fatalf("add: %q %v", id, err)
	}
	if _, _, err := notesCLI(t, env, "search", "-mode", "fuzzy", "x"); err == nil || !strings.Contains(err.Error(), `mode: "fuzzy"`) {
		t.Errorf("a bad mode must be refused naming it: %v", err)
	}

	// A server on the same data directory finds what the command line added, and
	// what is added on the command line while it runs.
	_, base := start(t, map[string]string{"GENAI_DATA_DIR": dir})
	if _, _, err := notesCLI(t, env, "add", "-title", "Lighthouses", "A lighthouse guides ships at night."); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(base + "/api/notes/sourdough"); err != nil || resp.StatusCode != 200 {
		t.Errorf("the note imported with the ID sourdough: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	for _, q := range []string{"moon oceans", "lighthouse ships"} {
		resp, err := http.Post(base+"/api/notes/search", "application/json", strings.NewReader(`{"query":"`+q+`","mode":"semantic","k":1}`))
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Hits []struct{ Title string } }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if len(body.Hits) != 1 || !strings.Contains("Tides Lighthouses", body.Hits[0].Title) {
			t.Errorf("server search %q: %+v", q, body.Hits)
		}
	}
}

// importChildEnv names the file that the test binary, run again as a child by
// TestImportResumesAfterKill, imports.
const importChildEnv = "GENAI_TEST_IMPORT_CHILD"

// TestImportChild is the child of TestImportResumesAfterKill: it imports the file
// that importChildEnv names, as "genai notes import" does, until it is killed.
func TestImportChild(t *testing.T) {
	file := os.Getenv(importChildEnv)
	if file == "" {
		t.Skip("runs only as the child of TestImportResumesAfterKill")
	}
	if err := notesCommand(context.Background(), []string{"import", "-batch", "50", file}, os.Getenv, os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
}

// TestImportResumesAfterKill kills (SIGKILL) an import in a child process midway and
// runs it again: the store then has every note of the file exactly once, and the
// summary counts the notes the first run had stored as skipped.
func TestImportResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	isolateAWS(t)
	const n = 3000
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	file := filepath.Join(tmp, "notes.jsonl")
	var lines []string
	for i := range n {
		if i%2 == 0 { // half with IDs of their own, half with their content's
			lines = append(lines, fmt.Sprintf(`{"id":"given-%d","title":"Given %d","text":"a note with an id, number %d"}`, i, i, i))
		} else {
			lines = append(lines, fmt.Sprintf(`{"title":"Derived %d","text":"a note without an id, number %d"}`, i, i))
		}
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A server on the same store counts what the child has stored.
	m, _ := start(t, map[string]string{"GENAI_DATA_DIR": data})
	ids := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		for cursor := ""; ; {
			page, next, err := m.notes.Store.ListNotes(context.Background(), 1000, cursor)
			if err != nil {
				t.Fatal(err)
			}
			for _, note := range page {
				if out[note.ID] {
					t.Fatalf("note %s listed twice", note.ID)
				}
				out[note.ID] = true
			}
			if next == "" {
				return out
			}
			cursor = next
		}
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestImportChild$")
	cmd.Env = append(os.Environ(), importChildEnv+"="+file, "GENAI_DATA_DIR="+data)
	var childOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for len(ids()) < n/3 {
		select {
		case err := <-exited:
			t.Fatalf("the import ended before it was killed: %v\n%s", err, childOut.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	stored := len(ids())
	if stored >= n {
		t.Fatalf("the child stored all %d notes before it was killed", stored)
	}
	t.Logf("killed with %d of %d notes stored", stored, n)

	out, errOut, err := notesCLI(t, map[string]string{"GENAI_DATA_DIR": data}, "import", "-batch", "50", file)
	if err != nil {
		t.Fatalf("import again: %v\n%s", err, errOut)
	}
	if want := fmt.Sprintf("imported %d notes, skipped %d already stored, 0 lines failed", n-stored, stored); !strings.Contains(out, want) {
		t.Errorf("the second import says %q, want %q", out, want)
	}
	got := ids()
	if len(got) != n {
		t.Errorf("the store has %d notes after the import ran again, want %d", len(got), n)
	}
	for i := 0; i < n; i += 2 {
		if !got[fmt.Sprintf("given-%d", i)] {
			t.Fatalf("note given-%d is missing", i)
		}
	}
}
