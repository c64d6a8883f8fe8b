package rag

import (
	"math"
	"testing"

	"genai"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMetricsHandMade(t *testing.T) {
	// Grades 2 and 1 relevant, d9 judged not relevant.
	rel := map[string]int{"a": 2, "b": 1, "d9": 0}
	ranked := []string{"x", "b", "d9", "a"}
	// DCG = 1/log2(3) + 2/log2(5); ideal = 2/log2(2) + 1/log2(3).
	wantNDCG := (1/math.Log2(3) + 2/math.Log2(5)) / (2 + 1/math.Log2(3))
	if got := ndcgAt(10, ranked, rel); !near(got, wantNDCG) {
		t.Errorf("nDCG@10 = %v, want %v", got, wantNDCG)
	}
	if got := ndcgAt(2, ranked, rel); !near(got, (1/math.Log2(3))/(2+1/math.Log2(3))) {
		t.Errorf("nDCG@2 = %v", got)
	}
	if got := ndcgAt(10, []string{"a", "b"}, rel); !near(got, 1) {
		t.Errorf("nDCG of the ideal ranking = %v, want 1", got)
	}
	if got := recallAt(100, ranked, rel); !near(got, 1) {
		t.Errorf("Recall@100 = %v, want 1", got)
	}
	if got := recallAt(2, ranked, rel); !near(got, 0.5) {
		t.Errorf("Recall@2 = %v, want 0.5", got)
	}
	if got := mrrAt(10, ranked, rel); !near(got, 0.5) {
		t.Errorf("MRR@10 = %v, want 0.5", got)
	}
	if got := mrrAt(1, ranked, rel); got != 0 {
		t.Errorf("MRR@1 = %v, want 0", got)
	}
	if got := score(nil, rel); got != (Metrics{}) {
		t.Errorf("empty ranking = %+v, want zeros", got)
	}
	m := mean([]Metrics{{1, 1, 1}, {0, 0.5, 0}})
	if !near(m.NDCG10, 0.5) || !near(m.Recall100, 0.75) || !near(m.MRR10, 0.5) {
		t.Errorf("mean = %+v", m)
	}
}

func TestDocumentRankingBestChunk(t *testing.T) {
	hits := []genai.ChunkHit{
		{Chunk: genai.Chunk{ID: "1", DocumentID: "A"}}, {Chunk: genai.Chunk{ID: "2", DocumentID: "B"}},
		{Chunk: genai.Chunk{ID: "3", DocumentID: "A"}}, {Chunk: genai.Chunk{ID: "4", DocumentID: "C"}},
	}
	got := documentRanking(hits, map[string]string{"A": "a", "B": "b", "C": "c"})
	if len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("documentRanking = %v, want [a b c]", got)
	}
}

func TestCombineByScore(t *testing.T) {
	lex := []genai.ChunkHit{{Chunk: genai.Chunk{ID: "x"}, Score: 10}, {Chunk: genai.Chunk{ID: "y"}, Score: 5}, {Chunk: genai.Chunk{ID: "z"}, Score: 0}}
	vec := []genai.ChunkHit{{Chunk: genai.Chunk{ID: "z"}, Score: 0.9}, {Chunk: genai.Chunk{ID: "y"}, Score: 0.5}, {Chunk: genai.Chunk{ID: "w"}, Score: 0.1}}
	got := fuseByScore(lex, vec, 0.5)
	// x: 0.5·1; y: 0.5·0.5 + 0.5·0.5; z: 0 + 0.5·1; w: 0.
	want := map[string]float64{"x": 0.5, "y": 0.5, "z": 0.5, "w": 0}
	for _, h := range got {
		if !near(h.Score, want[h.ID]) {
			t.Errorf("%s: %v, want %v", h.ID, h.Score, want[h.ID])
		}
	}
	if len(got) != 4 || got[3].ID != "w" || got[0].ID != "x" {
		t.Errorf("order %v", got)
	}
}
