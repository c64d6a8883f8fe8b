package hnsw

import (
	"math/rand/v2"
	"testing"
)

// Every stored vector is found by a search for itself, whether the graph was grown
// one node at a time or by parallel batches from empty (which once left nodes
// unreachable).
func TestSelfSearchSmall(t *testing.T) {
	for _, batch := range []bool{false, true} {
		r := rand.New(rand.NewPCG(1, 2))
		x := New(16, Options{})
		var vecs [][]float32
		var ids []uint32
		for i := range 300 {
			v := make([]float32, 16)
			for j := range v {
				v[j] = float32(r.NormFloat64())
			}
			vecs = append(vecs, v)
			ids = append(ids, uint32(i+1))
		}
		if batch {
			for i := 0; i < 300; i += 50 {
				if err := x.AddBatch(ids[i:i+50], vecs[i:i+50]); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			for i := range ids {
				x.Add(ids[i], vecs[i])
			}
		}
		miss := 0
		for i, v := range vecs {
			res := x.Search(v, 1)
			if len(res) != 1 || res[0].ID != ids[i] {
				miss++
			}
		}
		if miss > 0 {
			t.Errorf("batch=%v: %d of 300 self-searches miss", batch, miss)
		}
	}
}
