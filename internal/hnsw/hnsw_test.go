package hnsw

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// clustered returns n unit vectors of dim dimensions drawn around clusters random
// centres: centre + Gaussian noise of norm about noise, normalised. Real embeddings
// look like this (topics); uniform random vectors in high dimension are all nearly
// orthogonal, a degenerate worst case for any ANN index.
func clustered(rng *rand.Rand, n, dim, clusters int, noise float64) [][]float32 {
	centres := make([][]float32, clusters)
	for i := range centres {
		centres[i] = gaussian(rng, dim, 1/math.Sqrt(float64(dim)))
	}
	flat := make([]float32, n*dim)
	out := make([][]float32, n)
	for i := range out {
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		c := centres[rng.IntN(clusters)]
		sigma := noise * (0.5 + rng.Float64()) / math.Sqrt(float64(dim))
		var sum float64
		for j := range v {
			f := float64(c[j]) + rng.NormFloat64()*sigma
			v[j] = float32(f)
			sum += f * f
		}
		inv := float32(1 / math.Sqrt(sum))
		for j := range v {
			v[j] *= inv
		}
		out[i] = v
	}
	return out
}

func gaussian(rng *rand.Rand, dim int, sigma float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sigma)
	}
	return v
}

func seq(n int) []uint32 {
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

// recall returns the mean fraction of Exact's top k that Search finds.
func recall(x *Index, queries [][]float32, k int) float64 {
	var hit, total int
	for _, q := range queries {
		want := map[uint32]bool{}
		for _, r := range x.Exact(q, k) {
			want[r.ID] = true
		}
		for _, r := range x.Search(q, k) {
			if want[r.ID] {
				hit++
			}
		}
		total += len(want)
	}
	return float64(hit) / float64(total)
}

func build(t testing.TB, n, dim int) (*Index, [][]float32, [][]float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	data := clustered(rng, n+200, dim, n/50, 1)
	x := New(dim, Options{Seed: 1})
	if err := x.AddBatch(seq(n), data[:n]); err != nil {
		t.Fatal(err)
	}
	return x, data[:n], data[n:]
}

func TestRecall(t *testing.T) {
	x, _, queries := build(t, 5000, 128)
	if x.Len() != 5000 {
		t.Fatalf("Len = %d, want 5000", x.Len())
	}
	if r := recall(x, queries, 10); r < 0.95 {
		t.Errorf("recall@10 = %.3f at default EfSearch, want >= 0.95", r)
	}
}

func TestSerialAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := clustered(rng, 2100, 32, 40, 1)
	x := New(32, Options{})
	for i, v := range data[:2000] {
		if err := x.Add(uint32(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if r := recall(x, data[2000:], 10); r < 0.95 {
		t.Errorf("recall@10 = %.3f, want >= 0.95", r)
	}
}

func TestSearchFindsItself(t *testing.T) {
	x, data, _ := build(t, 2000, 64)
	for i := 0; i < len(data); i += 97 {
		res := x.Search(data[i], 1)
		if len(res) != 1 || res[0].ID != uint32(i) || math.Abs(float64(res[0].Score)-1) > 1e-4 {
			t.Fatalf("Search(vector %d) = %v, want itself with score 1", i, res)
		}
	}
}

func TestDelete(t *testing.T) {
	x, data, queries := build(t, 3000, 64)
	for i := 0; i < 3000; i += 2 {
		x.Delete(uint32(i))
	}
	x.Delete(1 << 30) // absent: no effect
	if x.Len() != 1500 {
		t.Fatalf("Len = %d after deleting half, want 1500", x.Len())
	}
	for _, q := range append(queries, data[:100]...) {
		for _, r := range x.Search(q, 10) {
			if r.ID%2 == 0 {
				t.Fatalf("Search returned deleted id %d", r.ID)
			}
		}
		for _, r := range x.Exact(q, 10) {
			if r.ID%2 == 0 {
				t.Fatalf("Exact returned deleted id %d", r.ID)
			}
		}
	}
	if r := recall(x, queries, 10); r < 0.9 {
		t.Errorf("recall@10 = %.3f with half the graph deleted, want >= 0.9", r)
	}

	// New vectors reuse the deleted slots without growing the index.
	slots := len(x.ids)
	rng := rand.New(rand.NewPCG(5, 6))
	more := clustered(rng, 1500, 64, 30, 1)
	ids := make([]uint32, len(more))
	for i := range ids {
		ids[i] = uint32(10000 + i)
	}
	if err := x.AddBatch(ids, more); err != nil {
		t.Fatal(err)
	}
	if len(x.ids) != slots || x.Len() != 3000 {
		t.Errorf("after refilling: %d slots (want %d), Len %d (want 3000)", len(x.ids), slots, x.Len())
	}
	if r := recall(x, queries, 10); r < 0.9 {
		t.Errorf("recall@10 = %.3f after reusing deleted slots, want >= 0.9", r)
	}
	for i := 0; i < len(more); i += 50 {
		if res := x.Search(more[i], 1); len(res) != 1 || res[0].ID != ids[i] {
			t.Fatalf("Search(new vector %d) = %v, want id %d", i, res, ids[i])
		}
	}

	for id := range uint32(3000) {
		x.Delete(id)
	}
	for _, id := range ids {
		x.Delete(id)
	}
	if x.Len() != 0 || x.Search(queries[0], 5) != nil || x.Exact(queries[0], 5) != nil {
		t.Errorf("empty index: Len %d, Search %v", x.Len(), x.Search(queries[0], 5))
	}
}

func TestReplace(t *testing.T) {
	x, data, _ := build(t, 2000, 64)
	// Give id 7 the vector of id 1500 (negated, so it is unlike anything else).
	v := make([]float32, 64)
	for i, f := range data[1500] {
		v[i] = -2 * f
	}
	if err := x.Add(7, v); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 2000 {
		t.Fatalf("Len = %d after replacing, want 2000", x.Len())
	}
	res := x.Search(v, 3)
	if len(res) == 0 || res[0].ID != 7 || math.Abs(float64(res[0].Score)-1) > 1e-4 {
		t.Fatalf("Search(new vector of 7) = %v, want 7 first with score 1", res)
	}
	for _, r := range x.Search(data[7], 10) {
		if r.ID == 7 {
			t.Fatalf("Search(old vector of 7) still finds 7: %v", r)
		}
	}
	// Replacing within one batch: the later vector wins.
	if err := x.AddBatch([]uint32{9, 9}, [][]float32{data[100], data[200]}); err != nil {
		t.Fatal(err)
	}
	if res := x.Search(data[200], 2); res[0].Score < 0.9999 || (res[0].ID != 9 && res[1].ID != 9) {
		t.Fatalf("Search(data[200]) = %v, want id 9 at score 1", res)
	}
}

func TestInvalidInput(t *testing.T) {
	x := New(8, Options{})
	for _, tc := range []struct {
		name string
		vec  []float32
	}{
		{"short", make([]float32, 7)},
		{"long", make([]float32, 9)},
		{"zero", make([]float32, 8)},
		{"nan", []float32{1, float32(math.NaN()), 0, 0, 0, 0, 0, 0}},
		{"inf", []float32{1, float32(math.Inf(1)), 0, 0, 0, 0, 0, 0}},
	} {
		if err := x.Add(1, tc.vec); err == nil {
			t.Errorf("Add(%s) succeeded", tc.name)
		}
	}
	ok := []float32{1, 0, 0, 0, 0, 0, 0, 0}
	if err := x.AddBatch([]uint32{1, 2}, [][]float32{ok, make([]float32, 3)}); err == nil {
		t.Error("AddBatch with one bad vector succeeded")
	}
	if err := x.AddBatch([]uint32{1}, nil); err == nil {
		t.Error("AddBatch with mismatched lengths succeeded")
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d after failed adds, want 0", x.Len())
	}
	if err := x.Add(1, ok); err != nil {
		t.Fatal(err)
	}
	if r := x.Search(make([]float32, 7), 1); r != nil {
		t.Errorf("Search with wrong dimension = %v, want nil", r)
	}
	if r := x.Search(ok, 0); r != nil {
		t.Errorf("Search with k=0 = %v, want nil", r)
	}
	if r := x.Search([]float32{2, 0, 0, 0, 0, 0, 0, 0}, 5); len(r) != 1 || r[0].ID != 1 || r[0].Score != 1 {
		t.Errorf("Search(unnormalised query) = %v, want [{1 1}]", r)
	}
	var zero Index
	if err := zero.Add(1, ok); err == nil {
		t.Error("Add on a zero Index succeeded")
	}
}

func TestRoundTrip(t *testing.T) {
	x, _, queries := build(t, 3000, 48)
	for i := uint32(0); i < 3000; i += 7 {
		x.Delete(i)
	}
	var buf bytes.Buffer
	n, err := x.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	data := bytes.Clone(buf.Bytes())

	var y Index
	if n, err := y.ReadFrom(&buf); err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom = %d, %v, want %d, nil", n, err, len(data))
	}
	// Through a file too, where ReadFrom sizes its arrays from Stat.
	path := filepath.Join(t.TempDir(), "index.hnsw")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := New(3, Options{})
	if _, err := z.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []*Index{&y, z} {
		if idx.Len() != x.Len() || idx.Dim() != 48 {
			t.Fatalf("loaded Len %d Dim %d, want %d 48", idx.Len(), idx.Dim(), x.Len())
		}
		for _, q := range queries {
			want, got := x.Search(q, 10), idx.Search(q, 10)
			if !equalResults(want, got) {
				t.Fatalf("loaded index: Search = %v, want %v", got, want)
			}
		}
	}
	// The loaded index keeps working: adds reuse its deleted slots.
	if err := y.Add(99999, queries[0]); err != nil {
		t.Fatal(err)
	}
	if r := y.Search(queries[0], 1); len(r) != 1 || r[0].ID != 99999 {
		t.Fatalf("Search after Add on loaded index = %v", r)
	}
}

func equalResults(a, b []Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadFromCorrupt(t *testing.T) {
	x, _, queries := build(t, 500, 16)
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	y := New(16, Options{})
	if err := y.Add(42, queries[0]); err != nil {
		t.Fatal(err)
	}
	check := func(what string, b []byte, r func([]byte) *bytes.Reader) {
		t.Helper()
		_, err := y.ReadFrom(r(b))
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("%s: ReadFrom error %v, want ErrFormat", what, err)
		}
		if y.Len() != 1 || y.Dim() != 16 {
			t.Fatalf("%s: failed ReadFrom changed the index", what)
		}
	}
	// onlyReader hides Len, so ReadFrom cannot size the input in advance.
	plain := func(b []byte) *bytes.Reader { return bytes.NewReader(b) }
	for _, cut := range []int{0, 7, 20, headerSize, headerSize + 100, len(data) / 2, len(data) - 4, len(data) - 1} {
		check("truncated", data[:cut], plain)
		if _, err := y.ReadFrom(onlyReader{bytes.NewReader(data[:cut])}); !errors.Is(err, ErrFormat) {
			t.Fatalf("truncated at %d (unsized): %v, want ErrFormat", cut, err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		b := bytes.Clone(data)
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		check("flipped byte", b, plain)
	}
}

type onlyReader struct{ r *bytes.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// FuzzReadFrom feeds ReadFrom damaged index files. Checksums catch random damage;
// with the checksums recomputed, the structural checks must catch the rest.
func FuzzReadFrom(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := New(4, Options{M: 2})
	if err := x.AddBatch(seq(40), clustered(rng, 40, 4, 4, 1)); err != nil {
		f.Fatal(err)
	}
	x.Delete(3)
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= headerSize+4 {
			b = bytes.Clone(b)
			reseal(b)
		}
		var y Index
		if _, err := y.ReadFrom(bytes.NewReader(b)); err != nil {
			return
		}
		q := []float32{1, 2, 3, 4}
		y.Search(q, 5)
		y.Exact(q, 5)
		if y.Dim() == 4 {
			_ = y.Add(1000, q)
			y.Delete(1)
			y.Search(q, 5)
		}
	})
}

// reseal recomputes both checksums of an index file in place.
func reseal(b []byte) {
	le := func(i int, v uint32) { b[i], b[i+1], b[i+2], b[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	le(headerSize-4, crcOf(b[:headerSize-4]))
	le(len(b)-4, crcOf(b[:len(b)-4]))
}

func TestConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	data := clustered(rng, 1200, 32, 30, 1)
	x := New(32, Options{})
	if err := x.AddBatch(seq(200), data[:200]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				q := data[(g*300+i)%len(data)]
				for _, r := range x.Search(q, 5) {
					if r.Score < -1.01 || r.Score > 1.01 {
						t.Errorf("score %v out of range", r.Score)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := 200; i < 1200; i += 100 {
			if err := x.AddBatch(seq(1200)[i:i+100], data[i:i+100]); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i := range 100 {
			if err := x.Add(uint32(5000+i), data[i]); err != nil {
				t.Error(err)
			}
			x.Delete(uint32(i))
		}
	})
	wg.Go(func() {
		for range 3 {
			var buf bytes.Buffer
			if _, err := x.WriteTo(&buf); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if x.Len() != 1200 {
		t.Errorf("Len = %d, want 1200", x.Len())
	}
}

func TestDotAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{0, 1, 3, 7, 8, 9, 15, 31, 32, 33, 63, 64, 100, 256, 1023, 1024, 1536} {
		a, b := gaussian(rng, n, 1), gaussian(rng, n, 1)
		var want float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
		}
		tol := 1e-4 * (1 + math.Sqrt(float64(n)))
		if got := dotGeneric(a, b); math.Abs(float64(got)-want) > tol {
			t.Errorf("dotGeneric(len %d) = %v, want %v", n, got, want)
		}
		if got := dot(a, b); math.Abs(float64(got)-want) > tol {
			t.Errorf("dot(len %d) = %v, want %v", n, got, want)
		}
	}
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func BenchmarkDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, y := gaussian(rng, 1024, 1), gaussian(rng, 1024, 1)
	var sink float32
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			sink += dotGeneric(x, y)
		}
	})
	b.Run("dispatch", func(b *testing.B) {
		for b.Loop() {
			sink += dot(x, y)
		}
	})
	_ = sink
}

// A document ingested again and again gives the same vectors again and again. Once
// those copies are deleted, a search that the graph leads to them still finds the k
// live vectors nearest its query.
func TestCopiesDeleted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	copyOf := gaussian(rng, 64, 1)
	x := New(64, Options{Seed: 1})
	var ids []uint32
	var copies [][]float32
	for i := range 40 {
		ids, copies = append(ids, uint32(i)), append(copies, copyOf)
	}
	if err := x.AddBatch(ids, copies); err != nil { // the first nodes: the graph's entry is a copy
		t.Fatal(err)
	}
	vecs := clustered(rng, 2000, 64, 20, 0.3)
	others := make([]uint32, len(vecs))
	for i := range others {
		others[i] = uint32(100 + i)
	}
	if err := x.AddBatch(others, vecs); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		x.Delete(id)
	}
	for _, q := range [][]float32{copyOf, vecs[0], vecs[1000]} {
		got, want := x.Search(q, 10), x.Exact(q, 10)
		if len(got) != 10 || got[0].ID != want[0].ID {
			t.Fatalf("Search found %v; exact %v", got, want)
		}
	}
}
