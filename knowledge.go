package genai

import (
	"context"
	"io"
	"iter"
	"strconv"
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

// Citation returns the hit as source n of an answer.
func (h *ChunkHit) Citation(n int) Citation {
	return Citation{N: n, ChunkID: h.ID, DocumentID: h.DocumentID, Title: h.Title, URI: h.URI, Page: h.Page, Text: h.Text}
}

// SourceName names the hit for a reader: its document's title (its URI when untitled),
// its heading path, and its page when known, as in "Manual › Setup (p. 12)".
func (h *ChunkHit) SourceName() string {
	name := h.Title
	if name == "" {
		name = h.URI
	}
	if len(h.Headings) > 0 {
		name += " › " + strings.Join(h.Headings, " › ")
	}
	if h.Page > 0 {
		name += " (p. " + strconv.Itoa(h.Page) + ")"
	}
	return name
}

// ChunkRanking asks a store for one ranking of its chunks: by the words of Text (BM25
// over each chunk's text, headings and document title, the words matched as words
// only, so no query syntax has effect) or, when Vector is set, by cosine similarity to
// Vector. N bounds the hits; DocumentID, when set, keeps only that document's chunks.
type ChunkRanking struct {
	Text       string
	Vector     []float32
	N          int
	DocumentID string
}

// ChunkSearcher is retrieval at a store, in two steps so that a caller fusing hundreds
// of candidates reads only the few passages it keeps.
//
// RankChunks returns up to r.N chunks best first, each once, each hit with only its
// ID, DocumentID and Score (BM25, or the cosine similarity in the store's scale): the
// chunks of one version of each document, never a document's old and new chunks
// together. A store without chunks returns no hits and no error; a vector of the
// wrong dimension is an EINVALID error that names the dimension.
//
// LoadChunks returns hits in full (the chunk with its page, its document's title and
// URI), in their order and with their scores, leaving out chunks no longer stored; the
// chunks it returns of one document are of one version.
type ChunkSearcher interface {
	RankChunks(ctx context.Context, r ChunkRanking) ([]ChunkHit, error)
	LoadChunks(ctx context.Context, hits []ChunkHit) ([]ChunkHit, error)
}

// ChunkStore keeps documents, their chunks and the chunks' vectors, and searches them.
//
// PutDocument stores doc with its chunks and one vector per chunk in one transaction,
// replacing a document of the same ID and all its old chunks; when it returns nil the
// document is durable and no chunk of it is missing or left over. GetDocument,
// DocumentByURI, DocumentChunks and DeleteDocument return an ENOTFOUND error for an
// unknown document; DeleteDocument removes its chunks from every index. ListDocuments
// returns documents newest first. DocumentChunks returns a document's chunks in order
// (by Index), as they were extracted.
type ChunkStore interface {
	PutDocument(ctx context.Context, doc Document, chunks []Chunk, vectors [][]float32) error
	GetDocument(ctx context.Context, id string) (*Document, error)
	DocumentByURI(ctx context.Context, uri string) (*Document, error)
	ListDocuments(ctx context.Context) ([]Document, error)
	DocumentChunks(ctx context.Context, id string) ([]Chunk, error)
	DeleteDocument(ctx context.Context, id string) error
	ChunkSearcher
}

// Citation is a source an answer cites as [N].
type Citation struct {
	N          int    `json:"n"`
	ChunkID    string `json:"chunk_id"`
	DocumentID string `json:"document_id"`
	Title      string `json:"title"`
	URI        string `json:"uri"`
	Page       int    `json:"page,omitempty"` // the page the passage starts on, when its document has pages
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

// maxSessionIDBytes bounds a client's session ID.
const maxSessionIDBytes = 128

// Validate checks r where it enters and fills in its default K (DefaultRetrieveK): it
// has a question (see Conversation) that is a valid query, K from 1 to MaxRetrieveK,
// Messages (when given) ending with the user's question, and a session ID of at most
// 128 letters, digits and "-_.:". Knowledge bases take a validated request.
func (r *AnswerRequest) Validate() error {
	if r.K == 0 {
		r.K = DefaultRetrieveK
	}
	if strings.TrimSpace(r.Query) == "" && len(r.Messages) > 0 {
		last := len(r.Messages) - 1
		if r.Messages[last].Role != RoleUser {
			return Errorf(EINVALID, "messages[%d].role: the last message must be the user's question", last)
		}
		if strings.TrimSpace(r.Messages[last].Text()) == "" {
			return Errorf(EINVALID, "messages[%d].content: the question has no text", last)
		}
	}
	question, _ := r.Conversation()
	if question == "" {
		return Errorf(EINVALID, "query: required (or messages ending with the user's question)")
	}
	if err := (&RetrieveQuery{Query: question, K: r.K, DocumentID: r.DocumentID}).Validate(); err != nil {
		return err
	}
	if len(r.SessionID) > maxSessionIDBytes {
		return Errorf(EINVALID, "session_id: at most %d bytes", maxSessionIDBytes)
	}
	for _, c := range r.SessionID {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return Errorf(EINVALID, "session_id: %q has a character other than letters, digits and - _ . :", r.SessionID)
		}
	}
	return nil
}

// Conversation returns the question of r, trimmed (Query, or else the text of the last
// message), and the turns before it as text; an image-only turn reads "(no text)",
// since images take no part in retrieval.
func (r *AnswerRequest) Conversation() (question string, history []Message) {
	if q := strings.TrimSpace(r.Query); q != "" || len(r.Messages) == 0 {
		return q, nil
	}
	last := len(r.Messages) - 1
	for _, m := range r.Messages[:last] {
		text := strings.TrimSpace(m.Text())
		if text == "" {
			text = "(no text)"
		}
		history = append(history, TextMessage(m.Role, text))
	}
	return strings.TrimSpace(r.Messages[last].Text()), history
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

// Retriever finds the passages most relevant to a query: up to q.K chunk hits, best
// first, of q.DocumentID when set. Every retrieval goes through it: the HTTP routes and
// the agent's knowledge-base tool call it, the local one (package rag) fuses the
// rankings of a ChunkSearcher, Amazon Bedrock's is in package bedrock. q is validated
// where it enters (RetrieveQuery.Validate); Retrieve takes it as valid.
type Retriever interface {
	Retrieve(ctx context.Context, q RetrieveQuery) ([]ChunkHit, error)
}

// Reranker is a second stage of retrieval: it scores passages by their relevance to a
// query, as a cross-encoder reads the two together, which a first stage that ranks
// every chunk cannot afford. Rerank returns one score per text, scores[i] that of
// texts[i], higher meaning more relevant; the scores only order, their scale is the
// model's. Amazon Bedrock's Rerank API is in package bedrock.
type Reranker interface {
	Rerank(ctx context.Context, query string, texts []string) (scores []float64, err error)
}

// KnowledgeBase retrieves passages and answers questions from them; req is validated
// where it enters (AnswerRequest.Validate). The local one is in package rag; Amazon
// Bedrock Knowledge Bases is in package bedrock.
type KnowledgeBase interface {
	Retriever
	Answer(ctx context.Context, req *AnswerRequest) (*Answer, error)
}

// Ingested is the outcome of ingesting a file: the stored document, whether it replaced
// an earlier document of the same URI, and whether it was left as it was because its
// text had not changed since it was last ingested (then Replaced is false).
type Ingested struct {
	Document
	Replaced  bool `json:"replaced"`
	Unchanged bool `json:"unchanged"`
}

// DocumentService adds, lists and deletes the documents of a local knowledge base.
// IngestFile extracts, chunks and indexes an uploaded file, named as uploaded, that it
// reads from file (when its turn comes: at most a few files are read into memory at
// once); its errors are *Error values such as EMEDIATYPE for a format it does not read,
// EINVALID for a corrupt file or EUNAVAILABLE when too many files wait, and errors of
// file's Read wrapped. IngestText stores text as a document. GetDocument,
// DocumentChunks and DeleteDocument return ENOTFOUND for an unknown id.
type DocumentService interface {
	IngestFile(ctx context.Context, name string, file io.Reader) (*Ingested, error)
	IngestText(ctx context.Context, title, uri, text string) (*Ingested, error)
	ListDocuments(ctx context.Context) ([]Document, error)
	GetDocument(ctx context.Context, id string) (*Document, error)
	DocumentChunks(ctx context.Context, id string) ([]Chunk, error)
	DeleteDocument(ctx context.Context, id string) error
}
