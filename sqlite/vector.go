package sqlite

import (
	"container/heap"
	"encoding/binary"
	"math"
	"sync"

	"genai/internal/hnsw"
)

// vectorIndex holds every note's (or chunk's) vector in memory, in one flat slice (no
// per-vector allocation, no second copy), and answers exact nearest-neighbour queries
// by a scan. Vectors are unit length, so the dot product is the cosine similarity.
//
// A search takes the read lock for one block of vectors at a time, so a write waits
// for at most one block's scan, not a whole search (a 20,000 × 1024 scan is several
// milliseconds, more when the search's goroutine is descheduled meanwhile). So that a
// search still sees every vector once, a removed vector's slot is marked free and
// reused, never moved into.
//
// Written by hand: an exact scan is a loop, and no library keeps vectors keyed by our
// row IDs without a copy of its own.
type vectorIndex struct {
	dim int

	mu     sync.RWMutex
	data   []float32       // len(rowids)*dim floats, slot i at data[i*dim:]
	rowids []int64         // the row of each slot; freeSlot for a free one
	slot   map[int64]int32 // rowid → slot
	free   []int32         // free slots, reused first
}

// freeSlot marks a slot without a vector; rows are never negative.
const freeSlot = -1

// scanBlock is the number of vectors a search scans under one hold of the read lock:
// 256 × 1024 dimensions is about 50 µs.
const scanBlock = 256

func newVectorIndex(dim, capacity int) *vectorIndex {
	return &vectorIndex{
		dim:    dim,
		data:   make([]float32, 0, capacity*dim),
		rowids: make([]int64, 0, capacity),
		slot:   make(map[int64]int32, capacity),
	}
}

// len returns the number of vectors.
func (x *vectorIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.slot)
}

// slotFor returns the slot of rowid, giving it a free or new one if it has none. The
// caller holds the write lock.
func (x *vectorIndex) slotFor(rowid int64) int {
	if i, ok := x.slot[rowid]; ok {
		return int(i)
	}
	var i int32
	if n := len(x.free); n > 0 {
		i, x.free = x.free[n-1], x.free[:n-1]
		x.rowids[i] = rowid
	} else {
		i = int32(len(x.rowids))
		x.rowids = append(x.rowids, rowid)
		x.data = append(x.data, make([]float32, x.dim)...)
	}
	x.slot[rowid] = i
	return int(i)
}

// put sets the vector of rowid.
func (x *vectorIndex) put(rowid int64, v []float32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := x.slotFor(rowid)
	copy(x.data[i*x.dim:(i+1)*x.dim], v)
}

// putBlob sets the vector of rowid from its stored bytes.
func (x *vectorIndex) putBlob(rowid int64, blob []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := x.slotFor(rowid)
	decodeVector(x.data[i*x.dim:(i+1)*x.dim], blob)
}

// remove deletes the vector of rowid, freeing its slot.
func (x *vectorIndex) remove(rowid int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i, ok := x.slot[rowid]
	if !ok {
		return
	}
	delete(x.slot, rowid)
	x.rowids[i] = freeSlot
	x.free = append(x.free, i)
}

// each calls fn with the row and vector of every slot in use, under the read lock.
func (x *vectorIndex) each(fn func(rowid int64, v []float32)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i, r := range x.rowids {
		if r != freeSlot {
			fn(r, x.data[i*x.dim:(i+1)*x.dim])
		}
	}
}

// scored is a note row with its similarity to a query.
type scored struct {
	rowid int64
	score float32
}

// search returns the k rows most similar to q, best first. Large sets are scanned by
// several goroutines, each over its own part.
func (x *vectorIndex) search(q []float32, k int) []scored {
	x.mu.RLock()
	n := len(x.rowids)
	x.mu.RUnlock()
	if k <= 0 || n == 0 {
		return nil
	}
	parts := 1
	if n*x.dim >= 1<<20 {
		parts = min(searchSlots(), 8) // not every processor: see DB.searchSlot
	}
	heaps := make([]topK, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Go(func() { heaps[p] = x.scan(q, k, lo, hi) })
	}
	wg.Wait()
	all := heaps[0]
	for _, h := range heaps[1:] {
		for _, s := range h {
			all.offer(s, k)
		}
	}
	return all.sorted()
}

// scan returns the best k of slots lo to hi, taking the read lock a block at a time.
// Slots never move or go away, so lo and hi stay valid between blocks.
func (x *vectorIndex) scan(q []float32, k, lo, hi int) topK {
	h := make(topK, 0, k+1)
	for b := lo; b < hi; b += scanBlock {
		x.mu.RLock()
		for i := b; i < min(b+scanBlock, hi); i++ {
			if r := x.rowids[i]; r != freeSlot {
				h.offer(scored{r, dot(q, x.data[i*x.dim:(i+1)*x.dim])}, k)
			}
		}
		x.mu.RUnlock()
	}
	return h
}

// dot is the cosine similarity of unit vectors a and b.
func dot(a, b []float32) float32 { return hnsw.Dot(a, b) }

// topK is a min-heap of the best k results so far; the worst is at the root.
type topK []scored

func (h topK) Len() int { return len(h) }
func (h topK) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].rowid > h[j].rowid // ties: the older row wins, so results are stable
}
func (h topK) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *topK) Push(x any)   { *h = append(*h, x.(scored)) }
func (h *topK) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *topK) offer(s scored, k int) {
	if len(*h) < k {
		heap.Push(h, s)
		return
	}
	if (topK{s, (*h)[0]}).Less(1, 0) {
		(*h)[0] = s
		heap.Fix(h, 0)
	}
}

// sorted empties the heap into a slice, best first.
func (h *topK) sorted() []scored {
	out := make([]scored, len(*h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(scored)
	}
	return out
}

// encodeVector returns v as little-endian float32 bytes.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// decodeVector fills v from little-endian float32 bytes.
func decodeVector(v []float32, b []byte) {
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// normalize returns v scaled to unit length (a copy), or false if it has a value that
// is not finite or is all zeros.
func normalize(v []float32) ([]float32, bool) {
	var sum float64
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, false
		}
		sum += float64(f) * float64(f)
	}
	out := make([]float32, len(v))
	norm := math.Sqrt(sum)
	if norm == 0 {
		return nil, false
	}
	for i, f := range v {
		out[i] = float32(float64(f) / norm)
	}
	return out, true
}
