package hnsw

import (
	"cmp"
	"slices"
)

// candidate is a slot and its similarity to the vector being searched for.
type candidate struct {
	score float32
	slot  uint32
}

func cmpScoreDesc(a, b candidate) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return cmp.Compare(a.slot, b.slot)
}

// minHeap keeps the lowest score on top. Pushing negated scores makes it a
// max-heap, which is how the search frontier uses it.
type minHeap []candidate

func (h *minHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].score <= s[i].score {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() candidate {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.fix0()
	return top
}

// fix0 restores the heap after its top was replaced.
func (h minHeap) fix0() {
	i, n := 0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].score < h[l].score {
			m = r
		}
		if h[i].score <= h[m].score {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// searcher is the scratch space of one search or insert, pooled per Index.
type searcher struct {
	marks  []uint32 // visited when marks[slot] == epoch
	epoch  uint32
	front  minHeap // negated scores: best candidate on top
	res    minHeap // worst result on top
	nbuf   []uint32
	found  []candidate
	chosen []candidate
	prune  []candidate
	pruned []candidate
}

func (s *searcher) reset(n int) {
	if len(s.marks) < n {
		s.marks = make([]uint32, n+n/4)
		s.epoch = 0
	}
	s.epoch++
	if s.epoch == 0 {
		clear(s.marks)
		s.epoch = 1
	}
}

func (s *searcher) visit(slot uint32) bool {
	if s.marks[slot] == s.epoch {
		return false
	}
	s.marks[slot] = s.epoch
	return true
}

// list returns the neighbour list of slot on layer: its count, then the slots.
func (x *Index) list(slot uint32, layer int) []uint32 {
	if layer == 0 {
		i := int(slot) * (x.m0 + 1)
		return x.links0[i : i+x.m0+1 : i+x.m0+1]
	}
	i := (layer - 1) * (x.opts.M + 1)
	return x.upper[slot][i : i+x.opts.M+1 : i+x.opts.M+1]
}

// neighbours returns the neighbours of slot on layer. During a build (locked) it
// copies them under the slot's lock into the searcher's buffer, because other
// inserts may be rewriting the list.
func (x *Index) neighbours(s *searcher, slot uint32, layer int, locked bool) []uint32 {
	l := x.list(slot, layer)
	if !locked {
		return l[1 : 1+l[0]]
	}
	mu := &x.linkMu[slot%lockStripes]
	mu.Lock()
	s.nbuf = append(s.nbuf[:0], l[1:1+l[0]]...)
	mu.Unlock()
	return s.nbuf
}

// greedy walks layer from cur to a local best for q.
func (x *Index) greedy(s *searcher, q []float32, cur candidate, layer int, locked bool) candidate {
	for changed := true; changed; {
		changed = false
		for _, n := range x.neighbours(s, cur.slot, layer, locked) {
			if d := dot(q, x.vec(n)); d > cur.score {
				cur = candidate{d, n}
				changed = true
			}
		}
	}
	return cur
}

// searchLayer leaves in s.res the (up to) ef best slots for q on layer reachable
// from eps. With skipDeleted, deleted slots are walked through but not returned.
func (x *Index) searchLayer(s *searcher, q []float32, eps []candidate, ef, layer int, skipDeleted, locked bool) {
	s.reset(len(x.ids))
	s.front, s.res = s.front[:0], s.res[:0]
	for _, e := range eps {
		if !s.visit(e.slot) {
			continue
		}
		s.front.push(candidate{-e.score, e.slot})
		if !skipDeleted || !x.isDeleted(e.slot) {
			s.res.push(e)
		}
	}
	for len(s.front) > 0 {
		c := s.front.pop()
		if len(s.res) >= ef && -c.score < s.res[0].score {
			break
		}
		for _, n := range x.neighbours(s, c.slot, layer, locked) {
			if !s.visit(n) {
				continue
			}
			d := dot(q, x.vec(n))
			if len(s.res) < ef || d > s.res[0].score {
				s.front.push(candidate{-d, n})
				if !skipDeleted || !x.isDeleted(n) {
					s.res.push(candidate{d, n})
					if len(s.res) > ef {
						s.res.pop()
					}
				}
			}
		}
	}
}

// insert links a placed slot into the graph. Several inserts may run at once
// under the write lock; neighbour lists are guarded by linkMu, the entry point by
// entryMu, and vectors and levels do not change while they run.
func (x *Index) insert(s *searcher, slot uint32) {
	q := x.vec(slot)
	level := int(x.levels[slot])
	x.entryMu.Lock()
	ep, top := x.entry, x.top
	if top < 0 {
		x.entry, x.top = slot, level
		x.entryMu.Unlock()
		return
	}
	x.entryMu.Unlock()

	cur := candidate{dot(q, x.vec(ep)), ep}
	for l := top; l > level; l-- {
		cur = x.greedy(s, q, cur, l, true)
	}
	eps := []candidate{cur}
	for l := min(level, top); l >= 0; l-- {
		x.searchLayer(s, q, eps, x.opts.EfConstruction, l, false, true)
		s.found = s.found[:0]
		for _, c := range s.res {
			// A reused slot can meet itself through stale links.
			if c.slot != slot {
				s.found = append(s.found, c)
			}
		}
		slices.SortFunc(s.found, cmpScoreDesc)
		s.chosen = x.selectNeighbours(s.found, x.opts.M, s.chosen[:0])
		x.setList(slot, l, s.chosen)
		for _, c := range s.chosen {
			x.addLink(s, c.slot, slot, c.score, l)
		}
		if len(s.found) > 0 {
			eps = append(eps[:0], s.found...)
		}
	}
	if level > top {
		x.entryMu.Lock()
		if level > x.top {
			x.entry, x.top = slot, level
		}
		x.entryMu.Unlock()
	}
}

// selectNeighbours keeps up to m of cands (sorted best first) with the HNSW
// heuristic: a candidate is kept only if it is closer to the base than to every
// neighbour already kept, which spreads links across directions and keeps
// clusters connected to each other.
//
// A copy of a neighbour already kept (the same vector, as a document ingested again
// gives) is not kept: the heuristic alone keeps every copy of the base, since each
// is exactly as close to the others as to it, and a node with many copies then links
// only to them. Once they were deleted, a search that reached them found nothing.
func (x *Index) selectNeighbours(cands []candidate, m int, dst []candidate) []candidate {
	for _, c := range cands {
		if len(dst) >= m {
			break
		}
		v := x.vec(c.slot)
		keep := true
		for _, r := range dst {
			if d := dot(v, x.vec(r.slot)); d > c.score || d >= sameVector {
				keep = false
				break
			}
		}
		if keep {
			dst = append(dst, c)
		}
	}
	return dst
}

// sameVector is the similarity at which two unit vectors count as copies.
const sameVector = 1 - 1e-6

func (x *Index) setList(slot uint32, layer int, cs []candidate) {
	mu := &x.linkMu[slot%lockStripes]
	mu.Lock()
	l := x.list(slot, layer)
	l[0] = uint32(len(cs))
	for i, c := range cs {
		l[1+i] = c.slot
	}
	mu.Unlock()
}

// addLink adds the back link node → slot on layer, pruning node's list with the
// heuristic when it is full.
func (x *Index) addLink(s *searcher, node, slot uint32, score float32, layer int) {
	mu := &x.linkMu[node%lockStripes]
	mu.Lock()
	defer mu.Unlock()
	l := x.list(node, layer)
	n := int(l[0])
	if slices.Contains(l[1:1+n], slot) {
		return
	}
	if n < len(l)-1 {
		l[1+n] = slot
		l[0]++
		return
	}
	base := x.vec(node)
	s.prune = s.prune[:0]
	for _, nb := range l[1 : 1+n] {
		s.prune = append(s.prune, candidate{dot(base, x.vec(nb)), nb})
	}
	s.prune = append(s.prune, candidate{score, slot})
	slices.SortFunc(s.prune, cmpScoreDesc)
	s.pruned = x.selectNeighbours(s.prune, len(l)-1, s.pruned[:0])
	l[0] = uint32(len(s.pruned))
	for i, c := range s.pruned {
		l[1+i] = c.slot
	}
}
