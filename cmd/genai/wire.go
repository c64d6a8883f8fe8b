package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"

	"genai"
	"genai/bedrock"
	"genai/localembed"
	"genai/openai"
	"genai/opensearch"
	"genai/rag"
	"genai/sqlite"
	"genai/telemetry"
)

// sqliteFile is the embedded store's file in GENAI_DATA_DIR.
const sqliteFile = "genai.db"

// responsesFile is the file in GENAI_DATA_DIR of the Responses API's stored responses and
// the knowledge base's sessions when the embedded store holds the notes.
const responsesFile = "responses.db"

// conversations is what a follow-up request needs: the Responses API's stored responses
// and the knowledge base's sessions. It lives in the configured store, so that every
// server task on one store answers the follow-ups of the others.
type conversations interface {
	genai.ResponseStore
	genai.SessionStore
	Close() error
}

// openConversations opens the store of conversations: the indexes beside the notes' on
// OpenSearch (through the store already open for the notes, so nothing of them is on the
// task's disk), else responses.db in GENAI_DATA_DIR.
func (m *Main) openConversations(ctx context.Context) (conversations, error) {
	if st, ok := m.notes.Store.(*opensearch.Store); ok {
		return sharedStore{st}, nil
	}
	return sqlite.OpenResponses(ctx, filepath.Join(m.Config.DataDir, responsesFile))
}

// sharedStore is the notes' OpenSearch store as the store of conversations: closing it
// is left to the notes' service, which owns it.
type sharedStore struct{ *opensearch.Store }

func (sharedStore) Close() error { return nil }

// embedder builds the configured embedder. An OpenAI-compatible endpoint is asked for
// one embedding when no dimension is configured, so the store knows its space.
func (m *Main) embedder(ctx context.Context) (genai.Embedder, error) {
	c := m.Config
	switch c.Embedder {
	case "bedrock":
		cfg, err := bedrock.LoadConfig(ctx, c.AWSRegion)
		if err != nil {
			return nil, fmt.Errorf("GENAI_EMBEDDER=bedrock: %w", err)
		}
		e, err := bedrock.NewEmbedder(cfg, bedrock.EmbedOptions{Model: c.EmbedModel, Dimensions: c.EmbedDimensions})
		if err != nil {
			return nil, err
		}
		return genai.EmbedderWithDeadline(e, c.deadlines()), nil
	case "openai":
		e := genai.EmbedderWithDeadline(openai.NewEmbedder(openai.EmbedOptions{BaseURL: c.OpenAIBaseURL, APIKey: c.OpenAIAPIKey, Model: c.EmbedModel, Dimensions: c.EmbedDimensions}), c.deadlines())
		if e.Space().Dimensions == 0 {
			if _, err := e.Embed(ctx, []string{"dimension probe"}); err != nil {
				return nil, fmt.Errorf("GENAI_EMBEDDER=openai: embedding a probe to learn the dimensions of %s: %w", c.EmbedModel, err)
			}
		}
		return e, nil
	default:
		return localembed.New(localembed.Options{Dimensions: c.EmbedDimensions})
	}
}

// store is what each store offers: the notes and the knowledge base's chunks.
type store interface {
	genai.NoteStore
	genai.ChunkStore
}

// openChunkStore opens the configured store for the knowledge base.
func (m *Main) openChunkStore(ctx context.Context, space genai.EmbeddingSpace) (genai.ChunkStore, error) {
	return m.openStore(ctx, space)
}

// openStore opens the configured store in the embedder's space.
func (m *Main) openStore(ctx context.Context, space genai.EmbeddingSpace) (store, error) {
	c := m.Config
	if c.Store == "opensearch" {
		opts := opensearch.Options{
			URL: c.OpenSearchURL, Index: c.OpenSearchIndex, Auth: c.OpenSearchAuth,
			Username: c.OpenSearchUsername, Password: c.OpenSearchPassword, Space: space,
		}
		if c.OpenSearchAuth == "sigv4-aoss" || c.OpenSearchAuth == "sigv4-es" {
			cfg, err := bedrock.LoadConfig(ctx, c.AWSRegion)
			if err != nil {
				return nil, fmt.Errorf("GENAI_OPENSEARCH_AUTH=%s: %w", c.OpenSearchAuth, err)
			}
			opts.AWSConfig = &cfg
		}
		return opensearch.Open(ctx, opts)
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("GENAI_DATA_DIR: %w", err)
	}
	return sqlite.Open(ctx, filepath.Join(c.DataDir, sqliteFile), sqlite.Options{Space: space})
}

// openNotes wires the note service: embedder and store.
func (m *Main) openNotes(ctx context.Context) (*genai.NoteService, error) {
	e, err := m.embedder(ctx)
	if err != nil {
		return nil, err
	}
	st, err := m.openStore(ctx, e.Space())
	if err != nil {
		return nil, err
	}
	provider := "" // the local embedder runs in process
	if m.Config.Embedder != "local" {
		provider = telemetry.Provider(m.Config.Embedder)
	}
	return &genai.NoteService{Store: st, Embedder: m.tel.Embedder(e, provider)}, nil
}

// reembed re-embeds every note of the embedded store with the configured embedder.
func (m *Main) reembed(ctx context.Context, progress io.Writer) error {
	if m.Config.Store != "sqlite" {
		return fmt.Errorf("notes reembed: works on the embedded store; for OpenSearch, create a new index (GENAI_OPENSEARCH_INDEX) and import the notes again")
	}
	e, err := m.embedder(ctx)
	if err != nil {
		return err
	}
	db, err := sqlite.OpenForReembed(ctx, filepath.Join(m.Config.DataDir, sqliteFile), sqlite.Options{Space: e.Space()})
	if err != nil {
		return err
	}
	defer db.Close()
	var bar *progressbar.ProgressBar
	err = db.Reembed(ctx, e, func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(progress), progressbar.OptionSetDescription("re-embedding"))
		}
		bar.Set(done)
	})
	if err != nil {
		return fmt.Errorf("notes reembed: %w", err)
	}
	fmt.Fprintf(progress, "\nre-embedded every note in %s\n", e.Space())
	return nil
}

// reranker builds the reranker of GENAI_RERANK_MODEL on Amazon Bedrock, bounded by the
// upstream call deadline, or returns nil when none is configured.
func (m *Main) reranker(ctx context.Context) (genai.Reranker, error) {
	c := m.Config
	if c.RerankModel == "" {
		return nil, nil
	}
	cfg, err := bedrock.LoadConfig(ctx, c.AWSRegion)
	if err != nil {
		return nil, fmt.Errorf("GENAI_RERANK_MODEL: %w", err)
	}
	r, err := bedrock.NewReranker(cfg, bedrock.RerankOptions{Model: c.RerankModel})
	if err != nil {
		return nil, fmt.Errorf("GENAI_RERANK_MODEL: %w", err)
	}
	return genai.RerankerWithDeadline(r, c.deadlines()), nil
}

// sessions returns the store of the knowledge base's sessions: that of conversations,
// or none when it is not open ("genai mcp", whose tools keep no sessions).
func (m *Main) sessions() genai.SessionStore {
	if m.responses == nil {
		return nil
	}
	return m.responses
}

// knowledgeBase builds the configured knowledge base: Amazon Bedrock's, whose documents
// are managed in Bedrock, or the local one on the store of notes, answering with chat
// (extractively when chat is nil).
func (m *Main) knowledgeBase(ctx context.Context, notes *genai.NoteService, chat genai.ChatModel, model string) (genai.KnowledgeBase, genai.DocumentService, error) {
	c := m.Config
	if c.KB == "bedrock" {
		cfg, err := bedrock.LoadConfig(ctx, c.AWSRegion)
		if err != nil {
			return nil, nil, fmt.Errorf("GENAI_KB=bedrock: %w", err)
		}
		opts := bedrock.KBOptions{KnowledgeBaseID: c.BedrockKBID, ModelARN: c.BedrockKBModel}
		if c.RerankModel != "" {
			// Bedrock reranks a managed knowledge base's passages itself, in the same call.
			if opts.RerankModelARN, err = bedrock.RerankModelARN(cfg.Region, c.RerankModel); err != nil {
				return nil, nil, fmt.Errorf("GENAI_RERANK_MODEL: %w", err)
			}
			opts.RerankCandidates = rag.DefaultRerankCandidates
		}
		if c.GuardrailID != "" {
			opts.Guardrail = &bedrock.Guardrail{ID: c.GuardrailID, Version: c.GuardrailVersion}
		}
		kb, err := bedrock.NewKnowledgeBase(cfg, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("GENAI_KB=bedrock: %w", err)
		}
		return m.tel.KnowledgeBase(kb, c.BedrockKBID), nil, nil
	}
	chunks, ok := notes.Store.(genai.ChunkStore)
	if !ok {
		return nil, nil, fmt.Errorf("the %s store does not hold knowledge-base documents", c.Store)
	}
	rr, err := m.reranker(ctx)
	if err != nil {
		return nil, nil, err
	}
	local := &rag.Local{
		Retriever: m.tel.Retriever(&rag.Retriever{Store: chunks, Embedder: notes.Embedder, Reranker: rr}, "local"),
		Chat:      chat,
		Model:     model,
		Sessions:  m.sessions(),

		CacheContext: c.KBCacheContext,
	}
	docs := &rag.Ingester{Store: chunks, Embedder: notes.Embedder, Limiter: rag.NewParseLimiter(c.Parses, c.ParseQueue)}
	return local, docs, nil
}
