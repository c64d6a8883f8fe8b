package rag

import (
	"strings"

	"genai"
)

// nearDuplicate is the Jaccard similarity of two chunks' word trigrams at or over which
// the lower-ranked one is dropped: the same passage copied into many files (a licence,
// a boilerplate paragraph), with at most a few words changed.
const nearDuplicate = 0.8

// collapseNearDuplicates returns the first k hits of ranked that are not near
// duplicates of a better one, so that k results are k different passages. Hits are
// compared by the sets of their lower-cased word trigrams (shingles), which is
// insensitive to white space, punctuation and case and cheap for the few dozen hits
// a query keeps.
func collapseNearDuplicates(ranked []genai.ChunkHit, k int) []genai.ChunkHit {
	out := make([]genai.ChunkHit, 0, min(k, len(ranked)))
	var kept []map[string]bool
	for _, h := range ranked {
		if len(out) == k {
			break
		}
		sh := shingles(h.Text)
		dup := false
		for _, other := range kept {
			if jaccard(sh, other) >= nearDuplicate {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, h)
			kept = append(kept, sh)
		}
	}
	return out
}

// shingles returns the set of word trigrams of s (its words when it has fewer than
// three).
func shingles(s string) map[string]bool {
	w := words(s)
	set := map[string]bool{}
	if len(w) < 3 {
		set[strings.Join(w, " ")] = true
		return set
	}
	for i := 0; i+3 <= len(w); i++ {
		set[w[i]+" "+w[i+1]+" "+w[i+2]] = true
	}
	return set
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) > len(b) {
		a, b = b, a
	}
	inter := 0
	for s := range a {
		if b[s] {
			inter++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}
