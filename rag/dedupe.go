package rag

import (
	"strings"

	"genai"
)

// nearDuplicate is the Jaccard similarity of two chunks' word trigrams at or over which
// the lower-ranked one is dropped: the same passage copied into many files (a licence,
// a boilerplate paragraph), with at most a few words changed.
const nearDuplicate = 0.8

// dedupe keeps hits that are not near duplicates of one it kept before, so that k
// results are k different passages. Hits are compared by the sets of their lower-cased
// word trigrams (shingles), which is insensitive to white space, punctuation and case
// and cheap for the few dozen hits a query keeps.
type dedupe struct {
	kept []map[string]bool
}

// keep reports whether h is not a near duplicate of a hit kept before, and keeps it.
func (d *dedupe) keep(h genai.ChunkHit) bool {
	sh := shingles(h.Text)
	for _, other := range d.kept {
		if jaccard(sh, other) >= nearDuplicate {
			return false
		}
	}
	d.kept = append(d.kept, sh)
	return true
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
