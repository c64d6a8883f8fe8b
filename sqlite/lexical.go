package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/unicode/norm"

	"genai"
)

// lexicalIndex is the BM25 index of the chunks, in memory beside their vectors: for
// each stemmed word, the chunks it is in and how often (weighted by column), and the
// length of each chunk in words. It scores as FTS5's bm25() does (k1 1.2, b 0.75,
// idf log((N-n+0.5)/(n+0.5)) floored at 1e-6, a chunk's title, headings and text
// weighed by Options.ChunkBM25Weights), but term at a time into an array, and so in
// time linear in the postings of the query's words.
//
// Written by hand because FTS5's bm25() reads each matching row's length from a
// B-tree: at 100,000 SciFact chunks a plain "MATCH ? ORDER BY rank LIMIT 10" took
// 360 ms at the median, nearly all of it in those reads (BenchmarkRetrieve), and no
// library served here ranks BM25 over our rows. chunks_fts is still written by its
// triggers, as the schema has it.
//
// Writes of this process change it under DB.mu after their commit, as they change the
// vectors; searches take its read lock only while they score.
type lexicalIndex struct {
	weights [3]float64

	mu       sync.RWMutex
	rowids   []int64   // slot → chunk row
	ids      []string  // slot → chunk ID
	docs     []string  // slot → document ID
	lengths  []float32 // slot → words in all three columns; 0 for a deleted slot
	slot     map[int64]uint32
	postings map[string]*postingList
	live     int
	words    int64 // in the live chunks
	dead     int   // deleted slots still in postings
	scratch  sync.Pool
}

// postingList holds the slots a word is in, ascending, with its weighted frequency in
// each.
type postingList struct {
	slots []uint32
	freqs []float32
}

const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

func newLexicalIndex(weights [3]float64) *lexicalIndex {
	return &lexicalIndex{weights: weights, slot: map[int64]uint32{}, postings: map[string]*postingList{}}
}

// lexicalChunk is what the index learns of a chunk.
type lexicalChunk struct {
	rowid    int64
	id       string
	document string
	title    string
	headings []string
	text     string
}

// lexicalRow is a chunk as the index keeps it: its words with their weighted
// frequencies, and its length.
type lexicalRow struct {
	rowid        int64
	id, document string
	words        []lexicalWord
	length       float32
}

type lexicalWord struct {
	stem string
	freq float32
}

// analyze returns the row of chunk c for an index of column weights w, stemming with
// stem. It takes no lock: writers analyze before they take DB.mu.
func analyze(c lexicalChunk, w [3]float64, stem func(string) string) lexicalRow {
	freq := map[string]float32{}
	n := 0
	count := func(col int, s string) {
		tokens(s, func(t string) {
			freq[stem(t)] += float32(w[col])
			n++
		})
	}
	count(0, c.title)
	for _, h := range c.headings {
		count(1, h)
	}
	count(2, c.text)
	r := lexicalRow{rowid: c.rowid, id: c.id, document: c.document, words: make([]lexicalWord, 0, len(freq)), length: float32(n)}
	for st, f := range freq {
		r.words = append(r.words, lexicalWord{st, f})
	}
	return r
}

// stemCache remembers the stems of the words it has seen, up to a million: text
// meets the same words again and again, and stemming is most of analyze's work.
type stemCache struct {
	m sync.Map
	n atomic.Int64
}

func (c *stemCache) stem(w string) string {
	if st, ok := c.m.Load(w); ok {
		return st.(string)
	}
	st := stemWord(w)
	if c.n.Load() < 1<<20 {
		c.m.Store(strings.Clone(w), st)
		c.n.Add(1)
	}
	return st
}

// replace removes the chunks of rows old and adds rows, at once for searches. Callers
// hold DB.mu (or own the index alone).
func (x *lexicalIndex) replace(old []int64, rows []lexicalRow) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range old {
		x.removeLocked(r)
	}
	for _, c := range rows {
		if _, ok := x.slot[c.rowid]; ok {
			x.removeLocked(c.rowid)
		}
		s := uint32(len(x.rowids))
		x.slot[c.rowid] = s
		x.rowids = append(x.rowids, c.rowid)
		x.ids = append(x.ids, c.id)
		x.docs = append(x.docs, c.document)
		x.lengths = append(x.lengths, c.length)
		x.live++
		x.words += int64(c.length)
		for _, e := range c.words {
			p := x.postings[e.stem]
			if p == nil {
				p = &postingList{}
				x.postings[e.stem] = p
			}
			p.slots = append(p.slots, s)
			p.freqs = append(p.freqs, e.freq)
		}
	}
	x.compactIfSparse()
}

// remove deletes the chunks of rows from the index. Callers hold DB.mu.
func (x *lexicalIndex) remove(rowids []int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, r := range rowids {
		x.removeLocked(r)
	}
	x.compactIfSparse()
}

// compactIfSparse rewrites the postings without deleted slots once those outnumber
// the live ones; until then searches skip them. The caller holds the write lock.
func (x *lexicalIndex) compactIfSparse() {
	if x.dead > 1024 && x.dead > x.live {
		x.compactLocked()
	}
}

func (x *lexicalIndex) removeLocked(rowid int64) {
	s, ok := x.slot[rowid]
	if !ok {
		return
	}
	delete(x.slot, rowid)
	x.words -= int64(x.lengths[s])
	x.lengths[s] = 0
	x.ids[s], x.docs[s] = "", ""
	x.live--
	x.dead++
}

// compactLocked renumbers the live slots densely and drops the dead ones from every
// posting list.
func (x *lexicalIndex) compactLocked() {
	renum := make([]uint32, len(x.rowids))
	var rowids []int64
	var ids, docs []string
	var lengths []float32
	for s, r := range x.rowids {
		if _, ok := x.slot[r]; !ok || x.slot[r] != uint32(s) {
			renum[s] = math.MaxUint32
			continue
		}
		renum[s] = uint32(len(rowids))
		x.slot[r] = renum[s]
		rowids = append(rowids, r)
		ids = append(ids, x.ids[s])
		docs = append(docs, x.docs[s])
		lengths = append(lengths, x.lengths[s])
	}
	for w, p := range x.postings {
		n := 0
		for i, s := range p.slots {
			if renum[s] != math.MaxUint32 {
				p.slots[n], p.freqs[n] = renum[s], p.freqs[i]
				n++
			}
		}
		if n == 0 {
			delete(x.postings, w)
			continue
		}
		p.slots, p.freqs = slices.Clip(p.slots[:n]), slices.Clip(p.freqs[:n])
	}
	x.rowids, x.ids, x.docs, x.lengths, x.dead = rowids, ids, docs, lengths, 0
	x.scratch = sync.Pool{} // sized for the old slot count
}

// lexicalScratch is the per-search state: a score for every slot and the slots
// scored, reused across searches.
type lexicalScratch struct {
	score   []float32
	touched []uint32
}

// search returns up to n chunk rows by BM25 for the words of query (see queryTerms),
// best first, ties by row; only rows from lo to hi when hi > 0.
func (x *lexicalIndex) search(query string, n int, lo, hi int64) []scored {
	terms := queryTerms(query)
	if len(terms) == 0 || n <= 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.live == 0 {
		return nil
	}
	sc, _ := x.scratch.Get().(*lexicalScratch)
	if sc == nil || len(sc.score) < len(x.rowids) {
		sc = &lexicalScratch{score: make([]float32, len(x.rowids)+len(x.rowids)/4+64)}
	}
	defer x.scratch.Put(sc)
	rows := float64(x.live)
	avg := float64(x.words) / rows
	// norm[s] would be one more array the size of the store; the length term is
	// computed per posting instead.
	for _, t := range terms {
		p := x.postings[t]
		if p == nil {
			continue
		}
		hits := len(p.slots)
		if x.dead > 0 {
			hits = 0
			for _, s := range p.slots {
				if x.lengths[s] > 0 {
					hits++
				}
			}
		}
		idf := math.Log((rows - float64(hits) + 0.5) / (float64(hits) + 0.5))
		if idf <= 0 {
			idf = 1e-6
		}
		fidf := float32(idf)
		k := float32(bm25K1 * (1 - bm25B))
		kl := float32(bm25K1 * bm25B / avg)
		for i, s := range p.slots {
			l := x.lengths[s]
			if l == 0 { // deleted
				continue
			}
			f := p.freqs[i]
			if sc.score[s] == 0 {
				sc.touched = append(sc.touched, s)
			}
			sc.score[s] += fidf * f * (bm25K1 + 1) / (f + k + kl*l)
		}
	}
	h := make(topK, 0, n+1)
	for _, s := range sc.touched {
		v := sc.score[s]
		sc.score[s] = 0
		r := x.rowids[s]
		if hi > 0 && (r < lo || r > hi) {
			continue
		}
		h.offer(scored{r, v}, n)
	}
	sc.touched = sc.touched[:0]
	return h.sorted()
}

// named returns ranked rows as hits with their chunk and document IDs and scores; a
// row the index no longer has (deleted meanwhile) is left out.
func (x *lexicalIndex) named(ranked []scored) []genai.ChunkHit {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]genai.ChunkHit, 0, len(ranked))
	for _, r := range ranked {
		if s, ok := x.slot[r.rowid]; ok {
			out = append(out, genai.ChunkHit{Chunk: genai.Chunk{ID: x.ids[s], DocumentID: x.docs[s]}, Score: float64(r.score)})
		}
	}
	return out
}

// queryTerms returns the stems of the words of query that a search looks up: each
// word once (by its lower-case form, as FTS5 phrases were), stop words left out unless
// the query has nothing else. Two words of one stem count twice, as two FTS5 phrases
// did.
func queryTerms(query string) []string {
	var all, kept []string
	seen := map[string]bool{}
	tokens(query, func(w string) {
		if seen[w] || len(all) == maxQueryTerms {
			return
		}
		seen[w] = true
		st := stemWord(w)
		all = append(all, st)
		if !englishStopWords[w] {
			kept = append(kept, st)
		}
	})
	if len(kept) == 0 {
		return all
	}
	return kept
}

// tokens calls fn with each word of s as FTS5's unicode61 tokenizer with
// remove_diacritics 2 splits it: runs of letters, numbers and private-use characters,
// lower-cased, diacritics removed.
func tokens(s string, fn func(string)) {
	start := -1
	ascii := true
	emit := func(end int) {
		w := s[start:end]
		if ascii {
			fn(lowerASCII(w))
		} else if w = fold(w); w != "" {
			fn(w)
		}
		start, ascii = -1, true
	}
	for i, r := range s {
		word := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') ||
			r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r) || unicode.Is(unicode.Mn, r))
		switch {
		case word && start < 0:
			start = i
			fallthrough
		case word:
			if r >= utf8.RuneSelf {
				ascii = false
			}
		case start >= 0:
			emit(i)
		}
	}
	if start >= 0 {
		emit(len(s))
	}
}

func lowerASCII(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(w)
		}
	}
	return w
}

// fold lower-cases w and removes its diacritics (the marks of its canonical
// decomposition).
func fold(w string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(w) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// stemWord is the stem a word is indexed and looked up by: English (Porter2), as the
// feedback query of package rag stems its words.
func stemWord(w string) string {
	if len(w) < 3 || len(w) > 64 {
		return w
	}
	return english.Stem(w, true)
}

// loadLexical builds the BM25 index of every chunk in the store.
func (db *DB) loadLexical(ctx context.Context) (*lexicalIndex, error) {
	x := newLexicalIndex(db.opts.ChunkBM25Weights)
	rows, err := db.reader.QueryContext(ctx, `SELECT c.rowid, c.id, c.document_id, d.title, c.headings, c.text
		FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY c.rowid`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: load the words of chunks: %w", db.path, err)
	}
	defer rows.Close()
	docs := map[string]string{} // one string per document ID, shared by its chunks
	var batch []lexicalRow
	for rows.Next() {
		var c lexicalChunk
		var headings string
		if err := rows.Scan(&c.rowid, &c.id, &c.document, &c.title, &headings, &c.text); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: load the words of chunks: %w", db.path, err)
		}
		if err := json.Unmarshal([]byte(headings), &c.headings); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: headings of chunk row %d: %w", db.path, c.rowid, err)
		}
		if d, ok := docs[c.document]; ok {
			c.document = d
		} else {
			docs[c.document] = c.document
		}
		if batch = append(batch, analyze(c, x.weights, db.chunks.stems.stem)); len(batch) == 1024 {
			x.replace(nil, batch)
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: load the words of chunks: %w", db.path, err)
	}
	x.replace(nil, batch)
	return x, nil
}
