package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIngestWalkHonoursGitignoreAndGlobs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".gitignore":           "# comment\n*.log\n!keep.log\nbuild/\n/top-only.md\ndocs/**/private.md\n",
		"a.md":                 "a",
		"b.txt":                "b",
		"c.log":                "c",
		"keep.log":             "k",
		"image.png":            "p",
		"top-only.md":          "t",
		"build/out.md":         "o",
		"nested/top-only.md":   "n",
		"nested/.gitignore":    "draft*.md\n",
		"nested/draft1.md":     "d",
		"nested/final.md":      "f",
		"docs/x/y/private.md":  "p",
		"docs/x/y/public.md":   "p",
		"vendor/lib/v.md":      "v",
		".git/COMMIT_MSG.md":   "g",
		"notes [1].md":         "brackets",
		"deep/a/b/c/paper.pdf": "%PDF-",
	})
	files, errs := collectIngestFiles([]string{root}, ingestOptions{
		Include: splitComma("*.md,*.txt,*.log,*.pdf"),
		Exclude: []string{"vendor/"},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		got = append(got, filepath.ToSlash(rel))
	}
	want := []string{"a.md", "b.txt", "deep/a/b/c/paper.pdf", "docs/x/y/public.md", "keep.log", "nested/final.md", "nested/top-only.md", "notes [1].md"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("walked\n %q\nwant\n %q", got, want)
	}

	// A file named on the command line is taken whatever the globs say.
	files, _ = collectIngestFiles([]string{filepath.Join(root, "image.png")}, ingestOptions{Include: splitComma(defaultIngestInclude)})
	if len(files) != 1 {
		t.Errorf("explicit file: %q", files)
	}
	_, errs = collectIngestFiles([]string{filepath.Join(root, "missing")}, ingestOptions{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "missing") {
		t.Errorf("missing path: %v", errs)
	}
}

func TestIgnoreRules(t *testing.T) {
	for _, tt := range []struct {
		pattern, path string
		dir, want     bool
	}{
		{"*.md", "a/b/c.md", false, true},
		{"/*.md", "a/c.md", false, false},
		{"a/*.md", "a/c.md", false, true},
		{"a/*.md", "x/a/c.md", false, false},
		{"**/foo", "x/y/foo", false, true},
		{"a/**", "a/b/c", false, true},
		{"a/**/b", "a/b", false, true},
		{"a/**/b", "a/x/y/b", false, true},
		{"build/", "build", false, false},
		{"build/", "build", true, true},
		{"f[0-9].txt", "f7.txt", false, true},
		{"f[!0-9].txt", "f7.txt", false, false},
		{"\\#hash", "#hash", false, true},
		{"?.md", "ab.md", false, false},
	} {
		r, ok := parseIgnoreRule(tt.pattern, "")
		if !ok {
			t.Fatalf("%q did not parse", tt.pattern)
		}
		if got := r.match(tt.path, tt.dir); got != tt.want {
			t.Errorf("%q matches %q (dir %v) = %v, want %v", tt.pattern, tt.path, tt.dir, got, tt.want)
		}
	}
}

func newIngestTestSetup(t testing.TB) (*rag.Ingester, *sqlite.DB) {
	t.Helper()
	emb, err := localembed.New(localembed.Options{Dimensions: 64})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kb.db"), sqlite.Options{Space: emb.Space()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &rag.Ingester{Store: db, Embedder: emb}, db
}

func TestRunIngestReportsAndGoesOn(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"guide.md":   "# Guide\n\nHow to do it.",
		"page.html":  "<title>Page</title><p>Some text.</p>",
		"junk.txt":   "\x00\x01\x02 binary",
		"empty.md":   "   ",
		"fake.pdf":   "PK\x03\x04 a zip",
		"photo.jpeg": "ignored by the globs",
	})
	in, db := newIngestTestSetup(t)
	var stdout, stderr bytes.Buffer
	err := runIngest(context.Background(), in, []string{root}, ingestOptions{Include: splitComma(defaultIngestInclude), Workers: 2}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "3 of 5 files failed") {
		t.Errorf("err = %v", err)
	}
	for _, want := range []string{"junk.txt: not a text file", "empty.md: no text found", "fake.pdf: not a PDF file: it is a ZIP archive"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if !strings.Contains(stdout.String(), "ingested 2, unchanged 0, failed 3; 2 chunks in") {
		t.Errorf("stdout: %s", stdout.String())
	}
	docs, _ := db.ListDocuments(context.Background())
	if len(docs) != 2 {
		t.Errorf("%d documents stored", len(docs))
	}

	stdout.Reset()
	runIngest(context.Background(), in, []string{root}, ingestOptions{Include: splitComma(defaultIngestInclude)}, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "ingested 0, unchanged 2, failed 3") {
		t.Errorf("second run: %s", stdout.String())
	}
}

// TestRunIngest10000TinyFiles walks and ingests 10,000 tiny files into the embedded store.
func TestRunIngest10000TinyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 files")
	}
	root := t.TempDir()
	for d := range 100 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d))
		os.Mkdir(dir, 0o755)
		for f := range 100 {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.txt", f)), fmt.Appendf(nil, "File %d of folder %d.", f, d), 0o644)
		}
	}
	in, db := newIngestTestSetup(t)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if err := runIngest(context.Background(), in, []string{root}, ingestOptions{Include: splitComma(defaultIngestInclude), Workers: 4}, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	t.Logf("%s(%v)", stdout.String(), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stdout.String(), "ingested 10000, unchanged 0, failed 0; 10000 chunks") {
		t.Errorf("stdout: %s", stdout.String())
	}
	docs, _ := db.ListDocuments(context.Background())
	if len(docs) != 10000 {
		t.Errorf("%d documents stored", len(docs))
	}
}
