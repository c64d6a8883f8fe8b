package genai

import (
	"context"
	"iter"
	"strings"
	"time"
	"unicode/utf8"
)

// Document is a file or text ingested into the knowledge base: its extracted text is
// split into chunks, each embedded and indexed for retrieval.
type Document struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	URI       string    `json:"uri"`    // where it came from: a path, a URL or an upload's name
	Hash      string    `json:"hash"`   // SHA-256 (hex) of the extracted text; same text, same hash
	Format    string    `json:"format"` // "text", "markdown", "html", "pdf", "docx", "pptx", "xlsx", "odt", "csv", "epub" or "image"
	Chunks    int       `json:"chunks"`
	Bytes     int64     `json:"bytes"` // size of the source
	CreatedAt time.Time `json:"created_at"`
}

// Chunk is a passage of a document, the unit of retrieval.
type Chunk struct {
	ID         string   `json:"chunk_id"`
	DocumentID string   `json:"document_id"`
	Index      int      `json:"index"`              // position in the document, from 0
	Headings   []string `json:"headings,omitempty"` // the heading path above it, outermost first
	Page       int      `json:"page,omitempty"`     // the page it starts on (from 1), for paged formats such as PDF
	Text       string   `json:"text"`
}

// EmbeddingText is the text a chunk's embedding is computed from: its heading path, then
// its text. Ingestion and re-embedding both use it, so their vectors agree.
func (c *Chunk) EmbeddingText() string {
	if len(c.Headings) == 0 {
		return c.Text
	}
	return strings.Join(c.Headings, " > ") + "\n\n" + c.Text
}

// RetrievalMode chooses how chunks are matched: by words (BM25), by meaning (vector
// similarity) or both fused.
type RetrievalMode string

// The retrieval modes.
const (
	RetrieveBM25   RetrievalMode = "bm25"
	RetrieveVector RetrievalMode = "vector"
	RetrieveHybrid RetrievalMode = "hybrid"
)

// Limits of retrieval.
const (
	DefaultRetrieveK = 6
	MaxRetrieveK     = 100
)

// RetrieveQuery asks for the chunks most relevant to Query.
type RetrieveQuery struct {
	Query      string        `json:"query"`
	K          int           `json:"k"`
	Mode       RetrievalMode `json:"mode,omitempty"`        // default hybrid
	DocumentID string        `json:"document_id,omitempty"` // when set, only that document's chunks
}

// Validate fills in the defaults (k 6, mode hybrid) and checks the rules of a query.
func (q *RetrieveQuery) Validate() error {
	if q.K == 0 {
		q.K = DefaultRetrieveK
	}
	if q.Mode == "" {
		q.Mode = RetrieveHybrid
	}
	switch {
	case !utf8.ValidString(q.Query):
		return Errorf(EINVALID, "query: not valid UTF-8")
	case strings.TrimSpace(q.Query) == "":
		return Errorf(EINVALID, "query: required")
	case len(q.Query) > MaxQueryBytes:
		return Errorf(ETOOLARGE, "query: %d bytes, over the limit of %d", len(q.Query), MaxQueryBytes)
	case q.K < 1 || q.K > MaxRetrieveK:
		return Errorf(EINVALID, "k: must be from 1 to %d, got %d", MaxRetrieveK, q.K)
	case q.Mode != RetrieveBM25 && q.Mode != RetrieveVector && q.Mode != RetrieveHybrid:
		return Errorf(EINVALID, "mode: %q is not \"bm25\", \"vector\" or \"hybrid\"", q.Mode)
	}
	return nil
}

// ChunkHit is a chunk found by retrieval, with its document's title and URI and a score
// (higher is better; the scale depends on the mode).
type ChunkHit struct {
	Chunk
	Title string  `json:"title"`
	URI   string  `json:"uri"`
	Score float64 `json:"score"`
}

// ChunkStore keeps documents, their chunks and the chunks' vectors.
//
// PutDocument stores doc with its chunks and one vector per chunk in one transaction,
// replacing a document of the same ID and all its old chunks; when it returns nil the
// document is durable and no chunk of it is missing or left over. GetDocument,
// DocumentByURI, DocumentChunks and DeleteDocument return an ENOTFOUND error for an
// unknown document; DeleteDocument removes its chunks from every index. ListDocuments
// returns documents newest first. DocumentChunks returns a document's chunks in order
// (by Index), as they were extracted. SearchChunks answers q, with vector the query's embedding (nil for
// RetrieveBM25).
type ChunkStore interface {
	PutDocument(ctx context.Context, doc Document, chunks []Chunk, vectors [][]float32) error
	GetDocument(ctx context.Context, id string) (*Document, error)
	DocumentByURI(ctx context.Context, uri string) (*Document, error)
	ListDocuments(ctx context.Context) ([]Document, error)
	DocumentChunks(ctx context.Context, id string) ([]Chunk, error)
	DeleteDocument(ctx context.Context, id string) error
	SearchChunks(ctx context.Context, q RetrieveQuery, vector []float32) ([]ChunkHit, error)
}

// Citation is a source an answer cites as [N].
type Citation struct {
	N          int    `json:"n"`
	ChunkID    string `json:"chunk_id"`
	DocumentID string `json:"document_id"`
	Title      string `json:"title"`
	URI        string `json:"uri"`
	Text       string `json:"text"`
}

// AnswerRequest asks the knowledge base a question: Query, or the last user message of
// Messages (earlier turns give context); SessionID continues an earlier conversation.
type AnswerRequest struct {
	Query      string
	Messages   []Message
	K          int
	SessionID  string
	DocumentID string // when set, answer from that document only
	// Owner is who asks (the API key's identity, "" on a server without keys). A
	// session belongs to the owner that started it: another owner can neither read
	// nor add to it.
	Owner string
}

// Answer is an answer being made: its sources, known before the text, and the text as
// a stream of events (Event.Text deltas citing sources as [N], then Event.Done).
// Extractive is set when no model wrote it: the text is the most relevant sentences of
// the sources, each with its citation.
type Answer struct {
	SessionID  string
	Citations  []Citation
	Extractive bool
	Events     iter.Seq2[Event, error]
}

// KnowledgeBase retrieves passages and answers questions from them. The local one is
// in package rag; Amazon Bedrock Knowledge Bases is in package bedrock.
type KnowledgeBase interface {
	Retrieve(ctx context.Context, q RetrieveQuery) ([]ChunkHit, error)
	Answer(ctx context.Context, req *AnswerRequest) (*Answer, error)
}
