package opensearch

import (
	"cmp"
	"slices"
)

// rrf merges rankings by reciprocal rank fusion (score = Σ 1/(rrfK + rank)), best
// first. key identifies a hit across the lists and score points at the score that the
// fused one replaces. Hits of equal score share a rank (the best of their places), so
// the order a ranker gives to ties does not decide the fusion; equal fused scores go to
// the hit with the better single rank.
func rrf[H any](key func(H) string, score func(*H) *float64, lists ...[]H) []H {
	type fused struct {
		hit   H
		score float64
		best  int
	}
	byKey := map[string]*fused{}
	var order []*fused
	for _, list := range lists {
		rank := 0
		for i := range list {
			if i == 0 || *score(&list[i]) != *score(&list[i-1]) {
				rank = i + 1
			}
			f := byKey[key(list[i])]
			if f == nil {
				f = &fused{hit: list[i], best: rank}
				byKey[key(list[i])] = f
				order = append(order, f)
			}
			f.score += 1 / float64(rrfK+rank)
			f.best = min(f.best, rank)
		}
	}
	slices.SortStableFunc(order, func(a, b *fused) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.best, b.best)
	})
	out := make([]H, len(order))
	for i, f := range order {
		*score(&f.hit) = f.score
		out[i] = f.hit
	}
	return out
}
