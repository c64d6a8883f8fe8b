package localembed

import (
	_ "embed"
	"strconv"
	"strings"
	"sync"
)

// weightsTable lists word stems by how common they are in general English: each line is
// "stem rank", rank being the place (from 1) of the stem's most frequent form among the
// 200,000 most frequent words of GloVe 6B's vocabulary (Wikipedia and Gigaword; public
// domain). internal/genweights writes it; its doc says how.
//
//go:embed weights.txt
var weightsTable string

// unknownRank is the rank of a stem not in the table: rarer than all of them.
const unknownRank = 200001

// ranks parses weightsTable once, on first use.
var ranks = sync.OnceValue(func() map[string]uint32 {
	m := make(map[string]uint32, strings.Count(weightsTable, "\n"))
	for line := range strings.Lines(weightsTable) {
		stem, rank, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		if !ok {
			continue
		}
		if r, err := strconv.ParseUint(rank, 10, 32); err == nil {
			m[stem] = uint32(r)
		}
	}
	return m
})

// rankOf returns the rank of stem in weightsTable, or unknownRank.
func rankOf(stem string) uint32 {
	if r, ok := ranks()[stem]; ok {
		return r
	}
	return unknownRank
}
