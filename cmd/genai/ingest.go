package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"genai"
	"genai/rag"
)

// defaultIngestInclude are the files a folder walk takes when -include is not given.
const defaultIngestInclude = "*.txt,*.md,*.markdown,*.html,*.htm,*.pdf"

// chunkStoreOpener is what ingest needs of the wiring: *Main implements it in wire.go.
type chunkStoreOpener interface {
	openChunkStore(ctx context.Context, space genai.EmbeddingSpace) (genai.ChunkStore, error)
}

// ingestCommand runs "genai ingest [flags] PATH...": it ingests files, and the files of
// folders that match -include and are not excluded by -exclude or a .gitignore, into the
// knowledge base, with a progress bar on stderr and a summary on stdout. A file that fails is
// reported and the rest goes on; the command fails if any file did.
func ingestCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("genai ingest", flag.ContinueOnError)
	fset.SetOutput(stderr)
	c, err := configFlags(fset, getenv)
	if err != nil {
		return err
	}
	include := fset.String("include", defaultIngestInclude, "comma-separated globs of the files to take from folders (a glob without / matches the base name)")
	var exclude ingestPatterns
	fset.Var(&exclude, "exclude", "`PATTERN` of paths to skip, as in .gitignore (repeatable); .gitignore files in walked folders are honoured too")
	chunkTokens := fset.Int("chunk-tokens", rag.DefaultChunkTokens, "target chunk size in estimated tokens")
	overlapTokens := fset.Int("overlap-tokens", rag.DefaultOverlapTokens, "overlap of consecutive chunks in estimated tokens (0 for none)")
	workers := fset.Int("workers", min(4, runtime.GOMAXPROCS(0)), "files ingested at once")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "usage: genai ingest [flags] PATH...\n\nIngests files (.txt, .md, .html, .pdf) and folders into the knowledge base.")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return errors.New(`ingest: want at least one PATH (a file or a folder); run "genai ingest -h"`)
	}
	if *overlapTokens == 0 {
		*overlapTokens = -1 // the flag's 0 means none; the Ingester's means its default
	}
	m := NewMain()
	m.Config = c
	e, err := m.embedder(ctx)
	if err != nil {
		return err
	}
	opener, ok := any(m).(chunkStoreOpener)
	if !ok {
		return errors.New("ingest: this build has no knowledge-base store wired")
	}
	store, err := opener.openChunkStore(ctx, e.Space())
	if err != nil {
		return err
	}
	if closer, ok := store.(io.Closer); ok {
		defer closer.Close()
	}
	// Every worker may wait its turn: a command line is not refused as busy.
	limiter := rag.NewParseLimiter(c.Parses, max(c.ParseQueue, *workers))
	in := &rag.Ingester{Store: store, Embedder: e, ChunkTokens: *chunkTokens, OverlapTokens: *overlapTokens, Limiter: limiter}
	opts := ingestOptions{Include: splitComma(*include), Exclude: exclude, Workers: *workers}
	return runIngest(ctx, in, fset.Args(), opts, stdout, stderr)
}

// ingestPatterns is a repeatable flag.
type ingestPatterns []string

func (p *ingestPatterns) String() string     { return strings.Join(*p, ",") }
func (p *ingestPatterns) Set(v string) error { *p = append(*p, v); return nil }

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ingestOptions choose the files of a run and how many are ingested at once.
type ingestOptions struct {
	Include []string // globs of files to take from folders; none means all
	Exclude []string // .gitignore-style patterns, relative to each PATH
	Workers int
}

// ingestSummary counts the outcome of a run.
type ingestSummary struct {
	Ingested, Unchanged, Failed, Chunks int
	Elapsed                             time.Duration
}

// runIngest ingests the files of paths with in, printing the progress and each failure
// to stderr and a summary to stdout. It returns an error when a path could not be walked or a file failed.
func runIngest(ctx context.Context, in *rag.Ingester, paths []string, opts ingestOptions, stdout, stderr io.Writer) error {
	start := time.Now()
	files, walkErrs := collectIngestFiles(paths, opts)
	var mu sync.Mutex // guards sum, bar and stderr
	sum := ingestSummary{Failed: len(walkErrs)}
	for _, err := range walkErrs {
		fmt.Fprintf(stderr, "%v\n", err)
	}
	bar := progressbar.NewOptions(len(files),
		progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("ingesting"),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range max(1, opts.Workers) {
		wg.Go(func() {
			for file := range jobs {
				doc, err := ingestFile(ctx, in, file)
				mu.Lock()
				switch {
				case err != nil:
					sum.Failed++
					bar.Clear()
					fmt.Fprintln(stderr, ingestErrorText(err))
				case doc.Unchanged:
					sum.Unchanged++
				default:
					sum.Ingested++
					sum.Chunks += doc.Chunks
				}
				bar.Add(1)
				mu.Unlock()
			}
		})
	}
feed:
	for _, f := range files {
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	bar.Finish()
	sum.Elapsed = time.Since(start)
	fmt.Fprintf(stdout, "ingested %d, unchanged %d, failed %d; %d chunks in %.1fs\n",
		sum.Ingested, sum.Unchanged, sum.Failed, sum.Chunks, sum.Elapsed.Seconds())
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ingest: stopped: %w", err)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("ingest: %d of %d files failed", sum.Failed, len(files)+len(walkErrs))
	}
	return nil
}

// ingestFile reads a file, refusing one over the size limit before reading it, and
// ingests it with its absolute path as URI, so the same file replaces itself from any
// working directory.
func ingestFile(ctx context.Context, in *rag.Ingester, file string) (*genai.Ingested, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := in.MaxFileBytes
	if limit <= 0 {
		limit = rag.DefaultMaxFileBytes
	}
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: %d bytes, over the limit of %d per file", file, st.Size(), limit)
	}
	return in.IngestFile(ctx, file, f) // read once it has its turn
}

// ingestErrorText is the line printed for a failed file: the message of an
// application error (which names the file), or the whole of any other error.
func ingestErrorText(err error) string {
	var e *genai.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// collectIngestFiles returns the absolute paths of the files to ingest, in walk order:
// a PATH that is a file as is; the files of a PATH that is a folder when they match an
// include glob and are not excluded. Folders named .git are never walked.
func collectIngestFiles(paths []string, opts ingestOptions) (files []string, errs []error) {
	var include []ignoreRule
	for _, g := range opts.Include {
		if r, ok := parseIgnoreRule(g, ""); ok {
			include = append(include, r)
		}
	}
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, arg := range paths {
		root, err := filepath.Abs(arg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", arg, err))
			continue
		}
		st, err := os.Stat(root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.IsDir() {
			add(root)
			continue
		}
		var exclude []ignoreRule
		for _, p := range opts.Exclude {
			if r, ok := parseIgnoreRule(p, ""); ok {
				exclude = append(exclude, r)
			}
		}
		// Rules of the .gitignore files of the folders above the current entry.
		rules := map[string][]ignoreRule{}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err)
				if d != nil && d.IsDir() && p != root {
					return fs.SkipDir
				}
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if p != root {
				if d.IsDir() && d.Name() == ".git" {
					return fs.SkipDir
				}
				if ignored(rel, d.IsDir(), rules, exclude) {
					if d.IsDir() {
						return fs.SkipDir
					}
					return nil
				}
			}
			if d.IsDir() {
				base := rel
				if base == "." {
					base = ""
				}
				if data, err := os.ReadFile(filepath.Join(p, ".gitignore")); err == nil {
					for line := range strings.Lines(string(data)) {
						if r, ok := parseIgnoreRule(line, base); ok {
							rules[base] = append(rules[base], r)
						}
					}
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil // symlinks, devices, sockets
			}
			if len(include) > 0 && !matchesAny(include, rel) {
				return nil
			}
			add(p)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return files, errs
}

// ignored reports whether rel (slash-separated, relative to the walk's root) is
// excluded: by the last matching rule of the .gitignore files from the root down to its
// folder (a "!" rule re-including), or by an -exclude pattern, which has the last word.
func ignored(rel string, isDir bool, rules map[string][]ignoreRule, exclude []ignoreRule) bool {
	out := false
	dir := path.Dir(rel)
	var bases []string
	for d := dir; ; d = path.Dir(d) {
		if d == "." {
			bases = append(bases, "")
			break
		}
		bases = append(bases, d)
	}
	for i := len(bases) - 1; i >= 0; i-- {
		for _, r := range rules[bases[i]] {
			if r.match(rel, isDir) {
				out = !r.negate
			}
		}
	}
	for _, r := range exclude {
		if r.match(rel, isDir) {
			out = !r.negate
		}
	}
	return out
}

func matchesAny(rules []ignoreRule, rel string) bool {
	for _, r := range rules {
		if r.match(rel, false) {
			return true
		}
	}
	return false
}

// ignoreRule is a .gitignore pattern, compiled. Written here rather than taken from
// github.com/sabhiram/go-gitignore, unmaintained since 2021, which mishandles "**" in
// the middle of a pattern, character classes and rules of nested .gitignore files.
type ignoreRule struct {
	re      *regexp.Regexp
	base    string // the folder of its .gitignore, relative to the root ("" for the root)
	negate  bool
	dirOnly bool
}

// parseIgnoreRule compiles a line of a .gitignore in folder base, following
// gitignore(5): "#" comments, "!" negation, a trailing "/" for folders only, a "/" at
// the start or in the middle anchoring the pattern to base (otherwise it matches a name
// at any depth), "*", "?", "[...]" and "**".
func parseIgnoreRule(line, base string) (ignoreRule, bool) {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasSuffix(line, "\\ ") {
		line = strings.TrimRight(line, " \t")
	}
	if line == "" || line[0] == '#' {
		return ignoreRule{}, false
	}
	r := ignoreRule{base: base}
	if line[0] == '!' {
		r.negate, line = true, line[1:]
	} else if line[0] == '\\' && len(line) > 1 && (line[1] == '#' || line[1] == '!') {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		r.dirOnly, line = true, strings.TrimRight(line, "/")
	}
	if line == "" {
		return ignoreRule{}, false
	}
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	var sb strings.Builder
	sb.WriteString("^")
	if !anchored {
		sb.WriteString("(?:.*/)?")
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case strings.HasPrefix(line[i:], "**/") && (i == 0 || line[i-1] == '/'):
			sb.WriteString("(?:.*/)?")
			i += 2
		case strings.HasPrefix(line[i:], "**") && i+2 == len(line) && (i == 0 || line[i-1] == '/'):
			sb.WriteString(".*")
			i++
		case c == '*':
			sb.WriteString("[^/]*")
		case c == '?':
			sb.WriteString("[^/]")
		case c == '[':
			if j := strings.IndexByte(line[i+1:], ']'); j >= 0 {
				class := line[i+1 : i+1+j]
				if strings.HasPrefix(class, "!") {
					class = "^" + class[1:]
				}
				sb.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
				i += j + 1
			} else {
				sb.WriteString(`\[`)
			}
		case c == '\\' && i+1 < len(line):
			i++
			sb.WriteString(regexp.QuoteMeta(line[i : i+1]))
		default:
			sb.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	sb.WriteString("$")
	re, err := regexp.Compile(sb.String())
	if err != nil {
		return ignoreRule{}, false
	}
	r.re = re
	return r, true
}

// match reports whether rel (relative to the walk's root) matches the rule.
func (r ignoreRule) match(rel string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	if r.base != "" {
		var ok bool
		if rel, ok = strings.CutPrefix(rel, r.base+"/"); !ok {
			return false
		}
	}
	return r.re.MatchString(rel)
}
