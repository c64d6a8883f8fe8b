package localembed

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	sciFactSchemes = flag.String("schemes", "", "comma-separated names of the schemes BenchmarkSciFact measures; empty for all candidates")
	sciFactDims    = flag.String("dims", "512,1024", "comma-separated dimensions BenchmarkSciFact measures")
)

// sciFactDir finds the SciFact data: GENAI_SCIFACT_DIR, else ../../shared/data/scifact
// beside the repository.
func sciFactDir(b *testing.B) string {
	dir := os.Getenv("GENAI_SCIFACT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data", "scifact")
	}
	if _, err := os.Stat(filepath.Join(dir, "corpus.jsonl")); err != nil {
		b.Skipf("SciFact data not found (set GENAI_SCIFACT_DIR): %v", err)
	}
	return dir
}

type beirDoc struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

func readJSONL(b *testing.B, path string) []beirDoc {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var docs []beirDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var d beirDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return docs
}

// readQrels returns query id → relevant corpus id → grade.
func readQrels(b *testing.B, path string) map[string]map[string]int {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	qrels := map[string]map[string]int{}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) != 3 {
			continue // header
		}
		grade, err := strconv.Atoi(f[2])
		if err != nil || grade <= 0 {
			continue
		}
		if qrels[f[0]] == nil {
			qrels[f[0]] = map[string]int{}
		}
		qrels[f[0]][f[1]] = grade
	}
	return qrels
}

// metrics are the mean retrieval figures over the judged queries.
type metrics struct{ ndcg10, recall100, mrr10 float64 }

// evaluate ranks the corpus for each judged query by exact dot product.
func evaluate(docIDs []string, docVecs, queryVecs [][]float32, queryIDs []string, qrels map[string]map[string]int) metrics {
	type scored struct {
		i     int
		score float32
	}
	var m metrics
	n := 0
	ranked := make([]scored, len(docVecs))
	for qi, qid := range queryIDs {
		rel := qrels[qid]
		if len(rel) == 0 {
			continue
		}
		n++
		q := queryVecs[qi]
		for di, d := range docVecs {
			var s float32
			for k := range q {
				s += q[k] * d[k]
			}
			ranked[di] = scored{di, s}
		}
		slices.SortFunc(ranked, func(a, b scored) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		var dcg, idcg, found float64
		for r := 0; r < 100; r++ {
			g, ok := rel[docIDs[ranked[r].i]]
			if !ok {
				continue
			}
			found++
			if r < 10 {
				dcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(r+2))
				if m.mrr10 >= 0 && found == 1 {
					m.mrr10 += 1 / float64(r+1)
				}
			}
		}
		grades := make([]int, 0, len(rel))
		for _, g := range rel {
			grades = append(grades, g)
		}
		slices.SortFunc(grades, func(a, b int) int { return b - a })
		for r, g := range grades[:min(10, len(grades))] {
			idcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(r+2))
		}
		m.ndcg10 += dcg / idcg
		m.recall100 += found / float64(len(rel))
	}
	m.ndcg10 /= float64(n)
	m.recall100 /= float64(n)
	m.mrr10 /= float64(n)
	return m
}

// BenchmarkSciFact embeds SciFact's corpus and train queries with each candidate scheme
// at 512 and 1024 dimensions, ranks by exact dot product and prints nDCG@10, Recall@100,
// MRR@10 and corpus embedding throughput (one goroutine). Run it with
//
//	go test -run '^$' -bench BenchmarkSciFact -benchtime 1x ./localembed
func BenchmarkSciFact(b *testing.B) {
	dir := sciFactDir(b)
	corpus := readJSONL(b, filepath.Join(dir, "corpus.jsonl"))
	queries := readJSONL(b, filepath.Join(dir, "queries.jsonl"))
	qrels := readQrels(b, filepath.Join(dir, "qrels", "train.tsv"))
	docIDs := make([]string, len(corpus))
	docTexts := make([]string, len(corpus))
	for i, d := range corpus {
		docIDs[i] = d.ID
		docTexts[i] = d.Title + "\n\n" + d.Text // as genai.Note.EmbeddingText
	}
	var queryIDs, queryTexts []string
	for _, q := range queries {
		if len(qrels[q.ID]) > 0 {
			queryIDs, queryTexts = append(queryIDs, q.ID), append(queryTexts, q.Text)
		}
	}
	b.Logf("SciFact: %d documents, %d judged train queries", len(corpus), len(queryIDs))

	var table strings.Builder
	fmt.Fprintf(&table, "%-22s %5s %8s %10s %7s %8s\n", "scheme", "dims", "nDCG@10", "Recall@100", "MRR@10", "docs/s")
	var dimsList []int
	for _, f := range strings.Split(*sciFactDims, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("-dims: %v", err)
		}
		dimsList = append(dimsList, d)
	}
	schemes := candidates
	if *sciFactSchemes != "" {
		schemes = nil
		for _, sc := range candidates {
			if slices.Contains(strings.Split(*sciFactSchemes, ","), sc.name) {
				schemes = append(schemes, sc)
			}
		}
	}
	for b.Loop() {
		for _, sc := range schemes {
			for _, dims := range dimsList {
				e, err := newEmbedder(sc, Options{Dimensions: dims})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				docVecs, err := e.Embed(context.Background(), docTexts)
				if err != nil {
					b.Fatal(err)
				}
				rate := float64(len(docTexts)) / time.Since(start).Seconds()
				queryVecs, err := e.Embed(context.Background(), queryTexts)
				if err != nil {
					b.Fatal(err)
				}
				m := evaluate(docIDs, docVecs, queryVecs, queryIDs, qrels)
				fmt.Fprintf(&table, "%-22s %5d %8.3f %10.3f %7.3f %8.0f\n", sc.name, dims, m.ndcg10, m.recall100, m.mrr10, rate)
			}
		}
	}
	fmt.Print(table.String())
}
