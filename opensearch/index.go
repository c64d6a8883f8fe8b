package opensearch

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
)

// indexMeta is what the index records about itself in the _meta of its mapping.
type indexMeta struct {
	Space  genai.EmbeddingSpace `json:"embedding_space"`
	Schema int                  `json:"schema"`
}

// schemaVersion is the version of the mapping below; bump it when fields change.
const schemaVersion = 1

// indexBody is the body of the PUT /{index} that creates the index of notes.
func indexBody(space genai.EmbeddingSpace, engine string) map[string]any {
	return map[string]any{
		// No shard or replica counts: AOSS refuses them, and a cluster's defaults suit.
		"settings": map[string]any{"index": map[string]any{"knn": true}},
		"mappings": map[string]any{
			// Strict: a document with a misspelt field is refused, not silently mapped.
			"dynamic": "strict",
			"_meta":   map[string]any{"genai": indexMeta{Space: space, Schema: schemaVersion}},
			"properties": map[string]any{
				// The ID again, as a keyword with doc values: ListNotes breaks ties
				// by it, and sorting on _id needs fielddata on _id, which is
				// deprecated on 2.x and not available everywhere.
				"id": map[string]any{"type": "keyword"},
				"title": map[string]any{"type": "text",
					"fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 256}}},
				"link":       map[string]any{"type": "keyword", "index": false},
				"text":       map[string]any{"type": "text"},
				"created_at": map[string]any{"type": "date"},
				"embedding": map[string]any{
					"type":      "knn_vector",
					"dimension": space.Dimensions,
					"method": map[string]any{
						"name":       "hnsw",
						"space_type": "cosinesimil",
						"engine":     engine,
						"parameters": map[string]any{"m": 16, "ef_construction": 128},
					},
				},
			},
		},
	}
}

// ensureIndex checks that an existing index was made for the store's embedding space,
// and creates the index if absent. It reads the mapping rather than asking HEAD
// /{index}: a refused HEAD has no body to say why.
func (s *Store) ensureIndex(ctx context.Context, engine string) error {
	err := s.checkIndex(ctx)
	if genai.ErrorCode(err) != genai.ENOTFOUND {
		return err
	}
	body, err := json.Marshal(indexBody(s.space, engine))
	if err != nil {
		return err
	}
	created, err := s.client.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: s.index, Body: bytes.NewReader(body)})
	if err != nil {
		if errorType(created.Inspect().Response) == "resource_already_exists_exception" {
			return s.checkIndex(ctx) // another server created it meanwhile
		}
		return s.fail("create index", created.Inspect().Response, err)
	}
	return nil
}

// checkIndex reads the mapping of the index and refuses it unless it holds vectors of
// the store's space. It returns an ENOTFOUND error if there is no such index.
func (s *Store) checkIndex(ctx context.Context) error {
	resp, err := s.client.Indices.Mapping.Get(ctx, &opensearchapi.MappingGetReq{Indices: []string{s.index}})
	if err != nil {
		r := resp.Inspect().Response
		if errorType(r) == "index_not_found_exception" {
			return genai.Errorf(genai.ENOTFOUND, "opensearch: no index %q", s.index)
		}
		return s.fail("read mapping", r, err)
	}
	raw, ok := resp.GetIndices()[s.index]
	if !ok {
		return genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: the mapping response does not name the index", s.index)
	}
	var m struct {
		Meta struct {
			Genai *indexMeta `json:"genai"`
		} `json:"_meta"`
		Properties struct {
			Embedding struct {
				Type      string `json:"type"`
				Dimension int    `json:"dimension"`
			} `json:"embedding"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw.Mappings, &m); err != nil {
		return genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable mapping: %v", s.index, err)
	}
	if m.Meta.Genai == nil {
		return genai.Errorf(genai.EINVALID,
			"opensearch: index %q exists but was not made by genai (its mapping records no embedding space); "+
				"choose another index with GENAI_OPENSEARCH_INDEX, or delete this one", s.index)
	}
	have := m.Meta.Genai.Space
	if have != s.space || m.Properties.Embedding.Type != "knn_vector" || m.Properties.Embedding.Dimension != s.space.Dimensions {
		return genai.Errorf(genai.EINVALID,
			"opensearch: index %q holds vectors of embedding space %q, but the embedder makes %q; vectors of different spaces cannot be compared. "+
				"Use the embedder that built the index (GENAI_EMBEDDER, GENAI_EMBED_MODEL), or choose a new index with GENAI_OPENSEARCH_INDEX and import the notes again",
			s.index, have, s.space)
	}
	return nil
}
