package rag

import (
	"cmp"
	"math"
	"slices"
)

// Metrics are the standard BEIR retrieval figures, each the mean over the judged queries.
type Metrics struct {
	NDCG10    float64 `json:"ndcg@10"`
	Recall100 float64 `json:"recall@100"`
	MRR10     float64 `json:"mrr@10"`
}

// Qrels are relevance judgements: query ID → document ID → grade. A grade of 0 or less
// means judged not relevant.
type Qrels map[string]map[string]int

// ndcgAt is nDCG at cut-off k with graded relevance as trec_eval (and so BEIR's
// pytrec_eval) computes it: gain is the grade, discount log2(rank+1), the ideal ranking
// being the judged relevant documents by grade.
func ndcgAt(k int, ranked []string, rel map[string]int) float64 {
	var dcg float64
	for i, id := range ranked[:min(k, len(ranked))] {
		if g := rel[id]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
	}
	var grades []int
	for _, g := range rel {
		if g > 0 {
			grades = append(grades, g)
		}
	}
	slices.SortFunc(grades, func(a, b int) int { return cmp.Compare(b, a) })
	var ideal float64
	for i, g := range grades[:min(k, len(grades))] {
		ideal += float64(g) / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// recallAt is the share of the relevant documents found in the first k.
func recallAt(k int, ranked []string, rel map[string]int) float64 {
	var relevant, found int
	for _, g := range rel {
		if g > 0 {
			relevant++
		}
	}
	if relevant == 0 {
		return 0
	}
	for _, id := range ranked[:min(k, len(ranked))] {
		if rel[id] > 0 {
			found++
		}
	}
	return float64(found) / float64(relevant)
}

// mrrAt is the reciprocal rank of the first relevant document within the first k, or 0.
func mrrAt(k int, ranked []string, rel map[string]int) float64 {
	for i, id := range ranked[:min(k, len(ranked))] {
		if rel[id] > 0 {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// score computes the metrics of one query's ranking of document IDs, best first.
func score(ranked []string, rel map[string]int) Metrics {
	return Metrics{NDCG10: ndcgAt(10, ranked, rel), Recall100: recallAt(100, ranked, rel), MRR10: mrrAt(10, ranked, rel)}
}

// mean averages per-query metrics; it is zero for none.
func mean(ms []Metrics) Metrics {
	var m Metrics
	if len(ms) == 0 {
		return m
	}
	for _, x := range ms {
		m.NDCG10 += x.NDCG10
		m.Recall100 += x.Recall100
		m.MRR10 += x.MRR10
	}
	n := float64(len(ms))
	return Metrics{NDCG10: m.NDCG10 / n, Recall100: m.Recall100 / n, MRR10: m.MRR10 / n}
}
