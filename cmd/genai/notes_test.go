package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	lines = append(lines, `{"title":"Sourdough","link":"https://example.com/bread","text":"A starter of flour and water leavens the bread."}`)
	lines = append(lines, `{"title":"broken"`)          // bad JSON
	lines = append(lines, `{"title":"no text at all"}`) // no text
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600)

	out, errOut, err := notesCLI(t, env, "import", file)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "imported 251 notes, 2 lines failed") || !strings.Contains(errOut, "line 252:") || !strings.Contains(errOut, "line 253: text: required") {
		t.Errorf("import summary %q, errors %q", out, errOut)
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
