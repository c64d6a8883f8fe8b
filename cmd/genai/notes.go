package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"

	"genai"
)

// notesCommand runs "genai notes add|import|search|reembed".
func notesCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(`notes: want a subcommand: add, import, search or reembed; run "genai -h"`)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("genai notes "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c, err := configFlags(fs, getenv)
	if err != nil {
		return err
	}
	title := fs.String("title", "", "title of the note (add)")
	link := fs.String("link", "", "link of the note (add)")
	mode := fs.String("mode", "hybrid", "search mode: semantic, title or hybrid (search)")
	k := fs.Int("k", genai.DefaultSearchK, "number of results (search)")
	batch := fs.Int("batch", 100, "notes per write (import)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	m := NewMain()
	m.Config = c
	if sub == "reembed" {
		return m.reembed(ctx, stderr)
	}
	svc, err := m.openNotes(ctx)
	if err != nil {
		return err
	}
	defer svc.Store.Close()

	switch sub {
	case "add":
		text := strings.Join(fs.Args(), " ")
		added, err := svc.Add(ctx, []genai.Note{{Title: *title, Link: *link, Text: text}})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, added[0].ID)
		return nil
	case "import":
		if fs.NArg() != 1 {
			return errors.New("notes import: want one FILE.jsonl (or - for standard input)")
		}
		return importNotes(ctx, svc, fs.Arg(0), *batch, stdout, stderr)
	case "search":
		hits, err := svc.Search(ctx, genai.NoteSearch{Query: strings.Join(fs.Args(), " "), Mode: genai.SearchMode(*mode), K: *k})
		if err != nil {
			return err
		}
		for i, h := range hits {
			fmt.Fprintf(stdout, "%d. %.4f  %s  %s\n", i+1, h.Score, h.ID, oneLine(h.Title, 60))
			if h.Link != "" {
				fmt.Fprintf(stdout, "   %s\n", h.Link)
			}
			fmt.Fprintf(stdout, "   %s\n", oneLine(h.Text, 100))
		}
		if len(hits) == 0 {
			fmt.Fprintln(stderr, "no notes found")
		}
		return nil
	}
	return fmt.Errorf("notes: unknown subcommand %q: want add, import, search or reembed", sub)
}

// importNotes adds the notes of a JSON Lines file in batches, with a progress bar on
// stderr. A bad line is reported with its number and skipped; the rest goes on. Each
// note has a stable ID, its "id" or else its ContentID, and a note already stored is
// skipped: an import killed midway, run again, adds only the rest.
func importNotes(ctx context.Context, svc *genai.NoteService, path string, batch int, stdout, stderr io.Writer) error {
	if batch < 1 || batch > genai.MaxBulkNotes {
		return fmt.Errorf("notes import: -batch must be from 1 to %d", genai.MaxBulkNotes)
	}
	var in io.Reader = os.Stdin
	var size int64 = -1
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("notes import: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100e6), progressbar.OptionClearOnFinish())
	sc := bufio.NewScanner(io.TeeReader(in, bar))
	sc.Buffer(make([]byte, 64<<10), genai.MaxNoteTextBytes*2)
	var pending []genai.Note
	imported, skipped, failed, line := 0, 0, 0, 0
	fail := func(n int, err error) {
		failed++
		bar.Clear()
		fmt.Fprintf(stderr, "line %d: %s\n", n, genai.ErrorMessage(err))
	}
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		// Each note was validated as it was read, so a failure here is the embedder's
		// or the store's, and stops the import: what was acknowledged stays.
		added, skips, err := svc.Import(ctx, pending)
		if err != nil {
			return err
		}
		imported += len(added)
		skipped += skips
		if skipped > 0 {
			bar.Describe(fmt.Sprintf("importing (%d already stored, skipped)", skipped))
		}
		pending = pending[:0]
		return nil
	}
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var n struct{ ID, Title, Link, Text string }
		if err := genai.DecodeJSON(sc.Bytes(), &n); err != nil {
			fail(line, err)
			continue
		}
		note := genai.Note{ID: n.ID, Title: n.Title, Link: n.Link, Text: n.Text}
		if err := note.Validate(); err != nil {
			fail(line, err)
			continue
		}
		if note.ID == "" {
			note.ID = note.ContentID()
		} else if err := genai.ValidateNoteID(note.ID); err != nil {
			fail(line, err)
			continue
		}
		pending = append(pending, note)
		if len(pending) == batch {
			if err := flush(); err != nil {
				return fmt.Errorf("notes import: at line %d: %w", line, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("notes import: after line %d: %w", line, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("notes import: at line %d: %w", line, err)
	}
	bar.Finish()
	fmt.Fprintf(stdout, "imported %d notes, skipped %d already stored, %d lines failed\n", imported, skipped, failed)
	if failed > 0 && imported+skipped == 0 {
		return errors.New("notes import: no note was imported")
	}
	return nil
}

// oneLine shortens s to at most n runes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
