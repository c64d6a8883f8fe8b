package hnsw

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/hnsw"
	"github.com/philippgille/chromem-go"
)

// BenchmarkANN measures the index on clustered 1024-d data against exact search
// and against chromem-go (and github.com/coder/hnsw with GENAI_ANN_CODER=1), all
// on the same vectors in the same run, and prints one table:
//
//	go test -run '^$' -bench BenchmarkANN -benchtime 1x -timeout 60m ./internal/hnsw
//
// GENAI_ANN_N (default 100000), GENAI_ANN_DIM (1024) and GENAI_ANN_QUERIES (1000)
// shrink it for a quick run.
func BenchmarkANN(b *testing.B) {
	n, dim, nq := envInt("GENAI_ANN_N", 100_000), envInt("GENAI_ANN_DIM", 1024), envInt("GENAI_ANN_QUERIES", 1000)
	const k = 10
	clusters := max(1, n/50)
	rng := rand.New(rand.NewPCG(42, 42))
	all := clustered(rng, n+nq, dim, clusters, 1)
	data, queries := all[:n], all[n:]
	rawMB := float64(n*dim*4) / 1e6
	fmt.Printf("data: %d stored + %d query vectors, %d-d, unit length: %d Gaussian cluster centres "+
		"(about 50 vectors each) plus Gaussian noise of 0.5-1.5x the centre's norm, normalised; "+
		"queries drawn the same way, none identical to a stored vector; raw vectors %.1f MB\n",
		n, nq, dim, clusters, rawMB)
	fmt.Printf("machine: GOMAXPROCS=%d, %s/%s, k=%d\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, k)

	// HNSW build.
	heap0 := heapBytes()
	x := New(dim, Options{})
	start := time.Now()
	if err := x.AddBatch(seq(n), data); err != nil {
		b.Fatal(err)
	}
	build := time.Since(start)
	hnswHeap := heapBytes() - heap0
	fmt.Printf("hnsw build: %v for %d vectors = %.0f inserts/s (AddBatch on %d goroutines; M=%d efConstruction=%d efSearch=%d)\n",
		build.Round(time.Millisecond), n, float64(n)/build.Seconds(), runtime.GOMAXPROCS(0), x.opts.M, x.opts.EfConstruction, x.opts.EfSearch)

	// Exact search: the ground truth and the baseline.
	truth := make([][]Result, nq)
	exact := timeQueries(queries, func(i int, q []float32) []string {
		truth[i] = x.Exact(q, k)
		return nil
	})
	want := make([]map[string]bool, nq)
	for i, rs := range truth {
		want[i] = map[string]bool{}
		for _, r := range rs {
			want[i][strconv.Itoa(int(r.ID))] = true
		}
	}
	idStrings := func(rs []Result) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = strconv.Itoa(int(r.ID))
		}
		return out
	}

	x.Search(queries[0], k) // warm the searcher pool
	ann := timeQueries(queries, func(_ int, q []float32) []string { return idStrings(x.Search(q, k)) })

	fmt.Printf("\n%-42s %8s %9s %8s %9s %9s %10s %9s\n", "engine", "recall", "QPS", "vs exact", "p50", "p99", "heap MB", "vs raw")
	row := func(name string, m measured, heap int64) {
		fmt.Printf("%-42s %8.4f %9.1f %7.1fx %9s %9s %10.1f %8.2fx\n", name, m.recall(want), m.qps(), m.qps()/exact.qps(),
			m.pct(50), m.pct(99), float64(heap)/1e6, float64(heap)/1e6/rawMB)
	}
	row("exact (Index.Exact, 1 goroutine)", exact.withRecall(1), hnswHeap)
	row(fmt.Sprintf("hnsw (Index.Search, 1 goroutine) ef=%d", x.opts.EfSearch), ann, hnswHeap)
	for _, ef := range []int{16, 32, 128} { // how the default EfSearch was chosen
		x.opts.EfSearch = ef
		row(fmt.Sprintf("  with EfSearch=%d", ef), timeQueries(queries, func(_ int, q []float32) []string { return idStrings(x.Search(q, k)) }), hnswHeap)
	}
	x.opts.EfSearch = DefaultEfSearch
	b.ReportMetric(ann.recall(want), "recall@10")
	b.ReportMetric(ann.qps(), "hnsw-qps")
	b.ReportMetric(ann.qps()/exact.qps(), "x-exact")
	b.ReportMetric(float64(ann.pct(99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(hnswHeap)/1e6/rawMB, "mem/raw")

	// Persistence: how fast a store reloads the graph instead of rebuilding it.
	path := filepath.Join(b.TempDir(), "index.hnsw")
	saveDur, loadDur, size := persist(b, x, path)

	// chromem-go: exact search over its in-memory collection, parallel per query.
	// The peers are slow per query at 100k; a prefix of the same queries bounds the run.
	peerQueries := queries[:min(len(queries), envInt("GENAI_ANN_PEER_QUERIES", 200))]
	chromemHeap, chromemBuild, chromemRes := benchChromem(b, data, peerQueries, k)
	row(fmt.Sprintf("chromem-go %s (%d goroutines)", chromemVersion, runtime.NumCPU()), chromemRes, chromemHeap)
	fmt.Printf("  (chromem-go over the first %d queries; exact search on those: %.1f QPS, so %.2fx exact)\n",
		len(peerQueries), exact.prefix(len(peerQueries)).qps(), chromemRes.qps()/exact.prefix(len(peerQueries)).qps())

	if os.Getenv("GENAI_ANN_CODER") == "1" {
		coderHeap, coderBuild, coderRes := benchCoder(b, data, peerQueries, k)
		row("coder/hnsw v0.6.1 (1 goroutine)", coderRes, coderHeap)
		fmt.Printf("coder/hnsw build: %v = %.0f inserts/s (Add, one goroutine)\n", coderBuild.Round(time.Millisecond), float64(n)/coderBuild.Seconds())
	}
	fmt.Printf("\nhnsw build %v (%.0f inserts/s) vs chromem-go AddDocuments %v (%.0f docs/s)\n",
		build.Round(time.Millisecond), float64(n)/build.Seconds(), chromemBuild.Round(time.Millisecond), float64(n)/chromemBuild.Seconds())
	fmt.Printf("hnsw file: %.1f MB, WriteTo %v, ReadFrom %v (rebuild: %v)\n", float64(size)/1e6,
		saveDur.Round(time.Millisecond), loadDur.Round(time.Millisecond), build.Round(time.Millisecond))
	fmt.Printf("process RSS at end: %.1f MB (holds the test data too)\n", float64(rssBytes())/1e6)
	runtime.KeepAlive(x)
}

const chromemVersion = "v0.7.0"

func benchChromem(b *testing.B, data, queries [][]float32, k int) (int64, time.Duration, measured) {
	ctx := context.Background()
	heap0 := heapBytes()
	db := chromem.NewDB()
	col, err := db.CreateCollection("bench", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	docs := make([]chromem.Document, len(data))
	for i, v := range data {
		// chromem keeps the caller's slice; a copy makes its heap figure count the vectors.
		docs[i] = chromem.Document{ID: strconv.Itoa(i), Embedding: slices.Clone(v)}
	}
	start := time.Now()
	if err := col.AddDocuments(ctx, docs, runtime.GOMAXPROCS(0)); err != nil {
		b.Fatal(err)
	}
	build := time.Since(start)
	docs = nil
	heap := heapBytes() - heap0
	res := timeQueries(queries, func(_ int, q []float32) []string {
		rs, err := col.QueryEmbedding(ctx, q, k, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, len(rs))
		for i, r := range rs {
			ids[i] = r.ID
		}
		return ids
	})
	runtime.KeepAlive(db)
	return heap, build, res
}

func benchCoder(b *testing.B, data, queries [][]float32, k int) (int64, time.Duration, measured) {
	heap0 := heapBytes()
	g := coder.NewGraph[uint32]()
	g.M = DefaultM
	g.Distance = coder.CosineDistance
	g.EfSearch = DefaultEfConstruction // coder/hnsw builds with its search ef
	start := time.Now()
	for i, v := range data {
		g.Add(coder.MakeNode(uint32(i), slices.Clone(v)))
	}
	build := time.Since(start)
	heap := heapBytes() - heap0
	g.EfSearch = DefaultEfSearch
	res := timeQueries(queries, func(_ int, q []float32) []string {
		nodes := g.Search(q, k)
		ids := make([]string, len(nodes))
		for i, nd := range nodes {
			ids[i] = strconv.Itoa(int(nd.Key))
		}
		return ids
	})
	runtime.KeepAlive(g)
	return heap, build, res
}

func persist(b *testing.B, x *Index, path string) (save, load time.Duration, size int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	w := bufio.NewWriter(f)
	if _, err := x.WriteTo(w); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	save = time.Since(start)
	f, err = os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	start = time.Now()
	var y Index
	size, err = y.ReadFrom(f)
	if err != nil {
		b.Fatal(err)
	}
	load = time.Since(start)
	if y.Len() != x.Len() {
		b.Fatalf("reloaded Len %d, want %d", y.Len(), x.Len())
	}
	return save, load, size
}

// measured holds per-query latencies and result ids of one engine.
type measured struct {
	lat    []time.Duration // sorted
	raw    []time.Duration // in query order
	total  time.Duration
	ids    [][]string
	recall func(want []map[string]bool) float64
}

func timeQueries(queries [][]float32, search func(i int, q []float32) []string) measured {
	m := measured{lat: make([]time.Duration, len(queries)), ids: make([][]string, len(queries))}
	for i, q := range queries {
		start := time.Now()
		m.ids[i] = search(i, q)
		m.lat[i] = time.Since(start)
		m.total += m.lat[i]
	}
	m.raw = slices.Clone(m.lat)
	slices.Sort(m.lat)
	m.recall = func(want []map[string]bool) float64 {
		var hit, all int
		for i, ids := range m.ids {
			for _, id := range ids {
				if want[i][id] {
					hit++
				}
			}
			all += len(want[i])
		}
		return float64(hit) / float64(max(all, 1))
	}
	return m
}

// prefix returns the measurement of the first n queries alone.
func (m measured) prefix(n int) measured {
	var total time.Duration
	for _, d := range m.raw[:n] {
		total += d
	}
	return measured{lat: m.raw[:n], total: total}
}

// withRecall sets the recall of an engine that is its own ground truth.
func (m measured) withRecall(r float64) measured {
	m.recall = func([]map[string]bool) float64 { return r }
	return m
}

func (m measured) qps() float64 { return float64(len(m.lat)) / m.total.Seconds() }

func (m measured) pct(p int) time.Duration {
	return m.lat[min(len(m.lat)-1, len(m.lat)*p/100)].Round(time.Microsecond)
}

func heapBytes() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
