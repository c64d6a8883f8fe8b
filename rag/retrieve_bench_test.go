package rag_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"genai"
	"genai/localembed"
	"genai/rag"
	"genai/sqlite"
)

// BenchmarkRetrieve measures rag.Retriever on the embedded store (sqlite, local
// embedder) at 5,000, 20,000 and 100,000 chunks of SciFact text, in two phases per
// size:
//
//  1. Latency: SciFact's 809 queries by Retriever.Retrieve in bm25, vector and
//     hybrid mode, k 10, and every fourth as a plain FTS5 query (the baseline:
//     SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank
//     LIMIT k on the same database, the query's words OR'd). It prints p50 and p99 of
//     each and the baseline's divided by them (how many times faster).
//  2. Writes beside searches: one note (PutNotes), or one of the stored abstracts
//     again (PutDocument, about 5 chunks), at a time, each a durable commit, for a second each alone and
//     then with two goroutines running hybrid retrievals back to back, five times
//     in turn. It prints writes per second of each and the ratio.
//
// The corpus: each SciFact abstract under its title, split by rag.Chunker at 128
// tokens (about 5 chunks an abstract, 25,400 chunks in all). Beyond those the
// abstracts come again, copy c of each with its sentences in another order (seeded)
// and one word in ten left out, so that no two copies are the same text. Stores are
// built by size in a temporary directory; GENAI_BENCH_CACHE=dir keeps them there for
// the next run (building 100,000 chunks, with its HNSW graph, takes minutes).
//
//	go test -run '^$' -bench BenchmarkRetrieve -benchtime 1x -timeout 60m ./rag
//
// GENAI_RETRIEVE_SIZES=5000,20000 picks sizes; GENAI_RETRIEVE_QUERIES=n runs only the
// first n queries.
func BenchmarkRetrieve(b *testing.B) {
	dir := sciFactDir(b)
	ctx := b.Context()
	e, err := localembed.New(localembed.Options{})
	must(b, err)
	corpus := readLines(b, filepath.Join(dir, "corpus.jsonl"))
	var queries []string
	for _, q := range readLines(b, filepath.Join(dir, "queries.jsonl")) {
		queries = append(queries, q.Text)
	}
	if n, err := strconv.Atoi(os.Getenv("GENAI_RETRIEVE_QUERIES")); err == nil && n > 0 {
		queries = queries[:min(n, len(queries))]
	}
	sizes := []int{5_000, 20_000, 100_000}
	if s := os.Getenv("GENAI_RETRIEVE_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			must(b, err)
			sizes = append(sizes, n)
		}
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("chunks=%d", size), func(b *testing.B) {
			store, path := benchStore(b, e, corpus, size)
			defer store.Close()
			fts, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
			must(b, err)
			defer fts.Close()
			r := &rag.Retriever{Store: store, Embedder: e}
			for b.Loop() {
				lat := retrieveLatency(b, ctx, r, fts, queries)
				base := lat["fts5"]
				fmt.Printf("%d chunks, %d queries (fts5: %d), k 10\n%-8s %9s %9s %17s\n", size, len(queries), len(base), "mode", "p50", "p99", "fts5 ÷ mode p50/p99")
				for _, mode := range []string{"fts5", "bm25", "vector", "hybrid"} {
					p50, p99 := percentile(lat[mode], 0.50), percentile(lat[mode], 0.99)
					fmt.Printf("%-8s %9s %9s %8.1f× %7.1f×\n", mode, ms(p50), ms(p99),
						float64(percentile(base, 0.50))/float64(p50), float64(percentile(base, 0.99))/float64(p99))
					b.ReportMetric(float64(p50.Microseconds())/1000, mode+"-p50-ms")
					b.ReportMetric(float64(p99.Microseconds())/1000, mode+"-p99-ms")
				}
				writesBesideSearches(b, ctx, store, r, e, corpus, queries)
			}
		})
	}
}

// ftsEvery: the baseline runs every ftsEvery-th query only; at 100,000 chunks it takes
// half a second a query.
const ftsEvery = 4

// retrieveLatency runs every query in each mode, the modes of one query one after
// another so that a busy moment of the machine falls on all of them alike.
func retrieveLatency(b *testing.B, ctx context.Context, r *rag.Retriever, fts *sql.DB, queries []string) map[string][]time.Duration {
	lat := map[string][]time.Duration{}
	stmt, err := fts.PrepareContext(ctx, `SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?`)
	must(b, err)
	defer stmt.Close()
	for i, q := range queries {
		if i%ftsEvery == 0 {
			t0 := time.Now()
			rows, err := stmt.QueryContext(ctx, plainFTSQuery(q), 10)
			must(b, err)
			for rows.Next() {
				var rowid int64
				var rank float64
				must(b, rows.Scan(&rowid, &rank))
			}
			must(b, rows.Err())
			rows.Close()
			lat["fts5"] = append(lat["fts5"], time.Since(t0))
		}
		for _, mode := range []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector, genai.RetrieveHybrid} {
			t0 := time.Now()
			hits, err := r.Retrieve(ctx, genai.RetrieveQuery{Query: q, K: 10, Mode: mode})
			must(b, err)
			lat[string(mode)] = append(lat[string(mode)], time.Since(t0))
			if len(hits) == 0 {
				b.Fatalf("%s %q: no hits", mode, q)
			}
		}
	}
	return lat
}

// plainFTSQuery is the baseline's FTS5 query: the query's words, each quoted, OR'd,
// without the English stop words the store leaves out too (Lucene's list), so that
// the baseline matches the same rows as the store's first BM25 query.
func plainFTSQuery(q string) string {
	var terms []string
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		if !stopWords[w] && !slices.Contains(terms, `"`+w+`"`) {
			terms = append(terms, `"`+w+`"`)
		}
	}
	return strings.Join(terms, " OR ")
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be but by for if in into is it no not of on or
		such that the their then there these they this to was will with`) {
		m[w] = true
	}
	return m
}()

// writesBesideSearches measures note and chunk writes per second alone and beside two
// goroutines retrieving (hybrid) back to back. The writes replace 10 notes, and 10 of
// the store's documents with themselves, over and over, so that the store keeps its
// size (and, at 20,000 chunks, its exact vector search).
func writesBesideSearches(b *testing.B, ctx context.Context, store *sqlite.DB, r *rag.Retriever, e *localembed.Embedder, corpus []line, queries []string) {
	const phase, rounds = time.Second, 5
	text := "Aspirin lowers the risk of colorectal cancer in adults over fifty, a trial of ten years found."
	vecs, err := e.Embed(ctx, []string{text})
	must(b, err)
	seq := 0
	writeNotes := func(d time.Duration) float64 {
		n := 0
		start := time.Now()
		for time.Since(start) < d {
			seq++
			note := genai.Note{ID: fmt.Sprintf("bench-note-%d", seq%10), Title: "bench", Text: text, CreatedAt: time.Now()}
			must(b, store.PutNotes(ctx, []genai.Note{note}, vecs[:1]))
			n++
		}
		return float64(n) / time.Since(start).Seconds()
	}
	type document struct {
		doc    genai.Document
		chunks []genai.Chunk
		vecs   [][]float32
	}
	var again []document // the first abstracts, ingested again and again
	for i := 0; len(again) < 10; i++ {
		if doc, cs, vs := benchDocument(b, e, corpus, 0, i); len(cs) > 0 {
			again = append(again, document{doc, cs, vs})
		}
	}
	writeChunks := func(d time.Duration) float64 {
		n := 0
		start := time.Now()
		for time.Since(start) < d {
			seq++
			w := again[seq%len(again)]
			must(b, store.PutDocument(ctx, w.doc, w.chunks, w.vecs))
			n += len(w.chunks)
		}
		return float64(n) / time.Since(start).Seconds()
	}
	// Alone and beside searches in turns, so that a change in the machine's other
	// load falls on both alike.
	var aloneNotes, aloneChunks, busyNotes, busyChunks, searchRate float64
	for range rounds {
		aloneNotes += writeNotes(phase) / rounds
		aloneChunks += writeChunks(phase) / rounds

		stop := make(chan struct{})
		var wg sync.WaitGroup
		var searches atomic.Int64
		for w := range 2 {
			wg.Go(func() {
				for i := w; ; i += 2 {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := r.Retrieve(ctx, genai.RetrieveQuery{Query: queries[i%len(queries)], K: 10}); err != nil {
						b.Error(err)
						return
					}
					searches.Add(1)
				}
			})
		}
		start := time.Now()
		busyNotes += writeNotes(phase) / rounds
		busyChunks += writeChunks(phase) / rounds
		close(stop)
		wg.Wait()
		searchRate += float64(searches.Load()) / time.Since(start).Seconds() / rounds
	}
	for i := range 10 { // leave a kept store (GENAI_BENCH_CACHE) as it was
		must(b, store.DeleteNote(ctx, fmt.Sprintf("bench-note-%d", i)))
	}
	fmt.Printf("writes      alone    beside %.0f hybrid retrievals/s   ratio\n", searchRate)
	fmt.Printf("notes/s  %8.0f %10.0f %29.2f\n", aloneNotes, busyNotes, busyNotes/aloneNotes)
	fmt.Printf("chunks/s %8.0f %10.0f %29.2f\n", aloneChunks, busyChunks, busyChunks/aloneChunks)
	b.ReportMetric(busyNotes/aloneNotes, "notes-ratio")
	b.ReportMetric(busyChunks/aloneChunks, "chunks-ratio")
}

func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// benchStore returns a store of size chunks of SciFact text (see BenchmarkRetrieve)
// and the path of its database file.
func benchStore(b *testing.B, e *localembed.Embedder, corpus []line, size int) (*sqlite.DB, string) {
	ctx := b.Context()
	dir := os.Getenv("GENAI_BENCH_CACHE")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("retrieve-%d.db", size))
	store, err := sqlite.Open(ctx, path, sqlite.Options{Space: e.Space()})
	must(b, err)
	var have int
	listed, err := store.ListDocuments(ctx)
	must(b, err)
	for _, d := range listed {
		have += d.Chunks
	}
	if have == size {
		return store, path
	}
	if have != 0 {
		b.Fatalf("%s holds %d chunks, not %d: remove it", path, have, size)
	}
	start := time.Now()
	var (
		docs    []genai.Document
		chunks  [][]genai.Chunk
		vectors [][][]float32
	)
	flush := func() {
		if len(docs) > 0 {
			must(b, store.PutDocuments(ctx, docs, chunks, vectors))
			docs, chunks, vectors = docs[:0], chunks[:0], vectors[:0]
		}
	}
	total := 0
	for c := 0; total < size; c++ {
		for i := range corpus {
			if total >= size {
				break
			}
			doc, cs, vs := benchDocument(b, e, corpus, c, i)
			if len(cs) == 0 {
				continue
			}
			cs, vs = cs[:min(len(cs), size-total)], vs[:min(len(cs), size-total)]
			docs, chunks, vectors = append(docs, doc), append(chunks, cs), append(vectors, vs)
			total += len(cs)
			if len(docs) == 256 {
				flush()
			}
		}
	}
	flush()
	fmt.Printf("built %d chunks in %.1fs\n", total, time.Since(start).Seconds())
	return store, path
}

// benchDocument is copy c of SciFact abstract i as BenchmarkRetrieve stores it: under
// its title, chunked at 128 tokens, embedded.
func benchDocument(b *testing.B, e *localembed.Embedder, corpus []line, c, i int) (genai.Document, []genai.Chunk, [][]float32) {
	d := corpus[i]
	text := d.Text
	if c > 0 {
		text = variant(text, uint64(c), uint64(i))
	}
	uri := fmt.Sprintf("scifact:%s#%d", d.ID, c)
	id := rag.DocumentID(uri)
	doc := genai.Document{ID: id, Title: d.Title, URI: uri, Format: "text", CreatedAt: time.Now()}
	if strings.TrimSpace(text) == "" {
		return doc, nil, nil
	}
	cs := rag.Chunker{Tokens: 128}.Split([]rag.Section{{Headings: []string{d.Title}, Text: text}})
	texts := make([]string, len(cs))
	for j := range cs {
		cs[j].ID = fmt.Sprintf("%s-%d", id, j)
		cs[j].DocumentID = id
		texts[j] = cs[j].EmbeddingText()
	}
	vs, err := e.Embed(b.Context(), texts)
	must(b, err)
	return doc, cs, vs
}

// variant is copy c of abstract i: its sentences shuffled and one word in ten dropped.
func variant(text string, c, i uint64) string {
	r := rand.New(rand.NewPCG(c, i))
	sentences := strings.SplitAfter(text, ". ")
	r.Shuffle(len(sentences), func(a, b int) { sentences[a], sentences[b] = sentences[b], sentences[a] })
	var kept []string
	for _, w := range strings.Fields(strings.Join(sentences, " ")) {
		if r.IntN(10) != 0 {
			kept = append(kept, w)
		}
	}
	return strings.Join(kept, " ")
}
