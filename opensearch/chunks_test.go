package opensearch

import (
	"context"
	"fmt"
	"os"
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
			storetest.TestChunkStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.ChunkStore {
				o := opts
				o.Space, o.Index = space, newIndexName("chunks")
				s, err := Open(context.Background(), o)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return s
			})
		})
	}
}

// TestChunkConformanceRealCluster runs the chunk conformance suite against a real
// cluster when GENAI_TEST_OPENSEARCH_URL is set (see TestConformanceRealCluster). On
// AOSS, whose writes show in searches only after about a second, expect failures of
// the tests that read right after writing.
func TestChunkConformanceRealCluster(t *testing.T) {
	endpoint := os.Getenv("GENAI_TEST_OPENSEARCH_URL")
	if endpoint == "" {
		t.Skip("set GENAI_TEST_OPENSEARCH_URL to run the chunk conformance suite against a real OpenSearch cluster")
	}
	opts := Options{
		URL:      endpoint,
		Auth:     os.Getenv("GENAI_TEST_OPENSEARCH_AUTH"),
		Username: os.Getenv("GENAI_TEST_OPENSEARCH_USERNAME"),
		Password: os.Getenv("GENAI_TEST_OPENSEARCH_PASSWORD"),
	}
	run := fmt.Sprintf("genai-test-chunks-%d", time.Now().UnixNano())
	storetest.TestChunkStore(t, func(t *testing.T, space genai.EmbeddingSpace) genai.ChunkStore {
		o := opts
		o.Space, o.Index = space, newIndexName(run)
		s, err := Open(context.Background(), o)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			indexes := []string{o.Index, s.documentsIndex(), s.chunksIndex()}
			if _, err := s.client.Indices.Delete(ctx, opensearchapi.IndicesDeleteReq{Indices: indexes}); err != nil {
				t.Logf("delete test indexes %v: %v", indexes, err)
			}
		})
		return s
	})
}
