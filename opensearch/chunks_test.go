package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
	"genai/storetest"
)

func TestChunkConformance(t *testing.T) {
	for _, auth := range []string{AuthSigV4AOSS, AuthSigV4ES, AuthBasic} {
		t.Run(auth, func(t *testing.T) {
			_, opts := fakeFor(t, auth)
			open := opener(opts, "chunks")
			storetest.TestChunkStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.ChunkStore { return open(t, space) })
		})
	}
}

// TestChunkConformanceRealCluster runs the chunk conformance suite against a real
// cluster when GENAI_TEST_OPENSEARCH_URL is set (see TestConformanceRealCluster).
func TestChunkConformanceRealCluster(t *testing.T) {
	open := realCluster(t)
	storetest.TestChunkStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.ChunkStore { return open(t, space) })
}

// A chunks index made before pages were stored (its strict mapping has no page field)
// takes pages once the store opens it: the field is added to its mapping, and the
// pages come back from DocumentChunks and from search hits.
func TestChunkPagesOnAnOlderIndex(t *testing.T) {
	ctx := context.Background()
	_, opts := fakeFor(t, AuthBasic)
	opts.Index = newIndexName("pages")
	s := open(t, opts)
	old := chunksIndexBody(s.space, s.engine)
	delete(old["mappings"].(map[string]any)["properties"].(map[string]any), "page")
	body, _ := json.Marshal(old)
	if _, err := s.client.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: s.chunksIndex(), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	chunks := []genai.Chunk{{ID: "m0", Page: 1, Text: "the manual's cover"}, {ID: "m1", Index: 1, Page: 12, Text: "replace the carburettor filter"}}
	if err := s.PutDocument(ctx, genai.Document{ID: "m", Title: "Manual", CreatedAt: time.Now()}, chunks, [][]float32{storetest.Vec(1), storetest.Vec(0, 1)}); err != nil {
		t.Fatalf("PutDocument with pages on an older index: %v", err)
	}
	got, err := s.DocumentChunks(ctx, "m")
	if err != nil || len(got) != 2 || got[0].Page != 1 || got[1].Page != 12 {
		t.Fatalf("DocumentChunks = %+v, %v; want pages 1 and 12", got, err)
	}
	ranked, err := s.RankChunks(ctx, genai.ChunkRanking{Text: "carburettor", N: 5})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := s.LoadChunks(ctx, ranked)
	if err != nil || len(hits) != 1 || hits[0].ID != "m1" || hits[0].Page != 12 || hits[0].Title != "Manual" {
		t.Fatalf("hits = %+v, %v; want m1 of page 12", hits, err)
	}
}
