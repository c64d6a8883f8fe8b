package opensearch

import (
	"testing"

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
