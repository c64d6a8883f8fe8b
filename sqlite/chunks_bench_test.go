package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"genai"
)

// benchDocument returns document i of 20 chunks of about 60 Zipf-drawn words with
// 256-d vectors.
func benchDocument(r *rand.Rand, i int) (genai.Document, []genai.Chunk, [][]float32) {
	words := func(n int) string {
		w := make([]string, n)
		for j := range w {
			w[j] = zipfWord(r)
		}
		return strings.Join(w, " ")
	}
	id := fmt.Sprintf("doc%06d", i)
	doc := genai.Document{ID: id, Title: words(5), URI: "file:///bench/" + id, Format: "text", CreatedAt: genaiEpoch.AddDate(0, 0, i%1000)}
	chunks := make([]genai.Chunk, 20)
	vecs := make([][]float32, len(chunks))
	for c := range chunks {
		chunks[c] = genai.Chunk{ID: fmt.Sprintf("%s-%02d", id, c), DocumentID: id, Index: c, Headings: []string{words(3)}, Text: words(60)}
		vecs[c] = randomUnit(r, benchDim)
	}
	return doc, chunks, vecs
}

// BenchmarkPutDocument measures ingestion of documents of 20 chunks with 256-d
// vectors, each document one durable (fsynced) transaction, into a store that already
// holds 2,000 chunks.
func BenchmarkPutDocument(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "genai.db"), Options{Space: genai.EmbeddingSpace{Model: "bench", Dimensions: benchDim}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 100 {
		doc, cs, vecs := benchDocument(r, i)
		if err := db.PutDocument(ctx, doc, cs, vecs); err != nil {
			b.Fatal(err)
		}
	}
	chunks := 0
	for i := 100; b.Loop(); i++ {
		b.StopTimer()
		doc, cs, vecs := benchDocument(r, i)
		b.StartTimer()
		if err := db.PutDocument(ctx, doc, cs, vecs); err != nil {
			b.Fatal(err)
		}
		chunks += len(cs)
	}
	b.ReportMetric(float64(chunks)/b.Elapsed().Seconds(), "chunks/s")
}

// BenchmarkSearchChunks measures each ranking, ranked and the 10 best loaded, at
// 50,000 chunks of 256 dimensions (2,500 documents; the vectors in an HNSW graph,
// beyond the default exact threshold of 20,000), unfiltered and filtered by a document.
func BenchmarkSearchChunks(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "genai.db"), Options{Space: genai.EmbeddingSpace{Model: "bench", Dimensions: benchDim}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(2, 2))
	var vecs [][]float32
	const docs = 2500
	for i := range docs {
		doc, cs, vs := benchDocument(r, i)
		if err := db.PutDocument(ctx, doc, cs, vs); err != nil {
			b.Fatal(err)
		}
		vecs = append(vecs, vs...)
	}
	for _, filtered := range []bool{false, true} {
		for _, mode := range []genai.RetrievalMode{genai.RetrieveBM25, genai.RetrieveVector} {
			name := string(mode)
			if filtered {
				name += "/document"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					q := genai.ChunkRanking{Text: zipfWord(r) + " " + zipfWord(r) + " " + zipfWord(r), N: 10}
					if mode == genai.RetrieveVector {
						q.Vector = vecs[r.IntN(len(vecs))]
					}
					if filtered {
						q.DocumentID = fmt.Sprintf("doc%06d", r.IntN(docs))
					}
					if _, err := searchChunks(ctx, db, q); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/query")
			})
		}
	}
}
