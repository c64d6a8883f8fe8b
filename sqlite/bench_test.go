package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
)

const benchDim = 256

// benchWords is a vocabulary of 5,000 words, drawn by a Zipf law as in real text.
var benchWords = func() []string {
	w := make([]string, 5000)
	for i := range w {
		w[i] = fmt.Sprintf("w%d", i)
	}
	return w
}()

func zipfWord(r *rand.Rand) string {
	return benchWords[rand.NewZipf(r, 1.1, 1, uint64(len(benchWords)-1)).Uint64()]
}

func benchNote(r *rand.Rand, i int) (genai.Note, []float32) {
	words := func(n int) string {
		w := make([]string, n)
		for j := range w {
			w[j] = zipfWord(r)
		}
		return strings.Join(w, " ")
	}
	return genai.Note{
		ID: fmt.Sprintf("bench%06d", i), Title: words(4), Link: "https://example.com/",
		Text: words(60), CreatedAt: genaiEpoch.AddDate(0, 0, i%1000),
	}, randomUnit(r, benchDim)
}

var genaiEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkPutNotes measures insert throughput in batches of 100 notes with 256-d
// vectors, each batch one durable (fsynced) transaction.
func BenchmarkPutNotes(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "notes.db"), Options{Space: genai.EmbeddingSpace{Model: "bench", Dimensions: benchDim}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(1, 1))
	const batch = 100
	notes := make([]genai.Note, batch)
	vecs := make([][]float32, batch)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for j := range notes {
			notes[j], vecs[j] = benchNote(r, i*batch+j)
		}
		b.StartTimer()
		if err := db.PutNotes(ctx, notes, vecs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "notes/s")
}

var (
	benchOnce sync.Once
	benchDB   *DB
	benchDir  string // removed by TestMain
	benchVecs [][]float32
)

// benchStore returns a store of 10,000 notes with 256-d vectors, made once.
func benchStore(b *testing.B) *DB {
	benchOnce.Do(func() {
		ctx := context.Background()
		var err error
		if benchDir, err = os.MkdirTemp("", "genai-sqlite-bench"); err != nil {
			b.Fatal(err)
		}
		db, err := Open(ctx, filepath.Join(benchDir, "notes.db"), Options{Space: genai.EmbeddingSpace{Model: "bench", Dimensions: benchDim}})
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(2, 2))
		for start := 0; start < 10_000; start += 500 {
			notes := make([]genai.Note, 500)
			vecs := make([][]float32, 500)
			for j := range notes {
				notes[j], vecs[j] = benchNote(r, start+j)
			}
			if err := db.PutNotes(ctx, notes, vecs); err != nil {
				b.Fatal(err)
			}
			benchVecs = append(benchVecs, vecs...)
		}
		benchDB = db
	})
	return benchDB
}

// BenchmarkSearch measures each search mode, k=10, at 10,000 notes of 256 dimensions
// (exact vector search: below the HNSW threshold).
func BenchmarkSearch(b *testing.B) {
	db := benchStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 3))
	for _, mode := range []genai.SearchMode{genai.SearchSemantic, genai.SearchTitle, genai.SearchHybrid} {
		b.Run(string(mode), func(b *testing.B) {
			for b.Loop() {
				q := zipfWord(r) + " " + zipfWord(r)
				var v []float32
				if mode != genai.SearchTitle {
					v = benchVecs[r.IntN(len(benchVecs))]
				}
				if _, err := db.SearchNotes(ctx, genai.NoteSearch{Query: q, Mode: mode, K: 10}, v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		})
	}
}
