package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"

	"genai"
)

// Default limits of ingestion; see Ingester.
const (
	DefaultMaxFileBytes = 64 << 20
	DefaultMaxChunks    = 20_000
	DefaultEmbedBatch   = 64
	DefaultParseTimeout = 2 * time.Minute
)

// Ingester parses files, splits their text into chunks, embeds the chunks and stores
// them as one document per URI. The zero value of each limit takes its default. It is
// safe for concurrent use when Store and Embedder are.
type Ingester struct {
	Store    genai.ChunkStore
	Embedder genai.Embedder

	ChunkTokens   int // target chunk size in estimated tokens; default DefaultChunkTokens
	OverlapTokens int // overlap of consecutive chunks; default DefaultOverlapTokens, negative for none

	MaxFileBytes int64         // size of a file; default DefaultMaxFileBytes
	MaxTextBytes int           // extracted text of a document; default DefaultMaxTextBytes
	MaxChunks    int           // chunks of a document; default DefaultMaxChunks
	EmbedBatch   int           // texts per Embedder.Embed call; default DefaultEmbedBatch
	ParseTimeout time.Duration // time to parse one file; default DefaultParseTimeout

	// Now returns the time recorded as a document's CreatedAt; nil means time.Now.
	Now func() time.Time
}

// Ingested is the outcome of ingesting a file: the stored document, and whether it was
// left as it was because its text had not changed since it was last ingested.
type Ingested struct {
	genai.Document
	Unchanged bool `json:"unchanged,omitempty"`
}

// DocumentID returns the ID of the document ingested from uri: the first 32 hex digits
// of the SHA-256 of uri, so that ingesting the same URI again replaces it.
func DocumentID(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:16])
}

// Ingest parses the file called name (its path or upload name, kept as the document's
// URI) with contents data, and stores its chunks and their embeddings, replacing the
// document of the same URI. When that document already holds the same text and
// title, nothing is embedded or written and the result is flagged Unchanged.
//
// Errors name the file: EMEDIATYPE for an unsupported format, EINVALID for a corrupt
// file or one with no text, ETOOLARGE for one over a limit, ETIMEOUT when parsing takes
// over ParseTimeout; errors of the embedder and the store are returned as they are,
// wrapped with the file's name.
func (in *Ingester) Ingest(ctx context.Context, name string, data []byte) (*Ingested, error) {
	if max := in.maxFileBytes(); int64(len(data)) > max {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: %d bytes, over the limit of %d per file", name, len(data), max)
	}
	p, err := in.parse(ctx, name, data)
	if err != nil {
		return nil, err
	}
	title := p.Title
	if title == "" {
		base := path.Base(strings.ReplaceAll(name, "\\", "/"))
		title = strings.TrimSuffix(base, path.Ext(base))
	}
	return in.store(ctx, name, title, p, int64(len(data)))
}

// IngestText stores text as a document of the given title and URI, as Ingest does a
// file. An empty uri becomes "text:" and the SHA-256 of the text, so posting the same
// text again replaces it. When uri ends in .md or .html, text is read as that format;
// otherwise as plain text.
func (in *Ingester) IngestText(ctx context.Context, title, uri, text string) (*Ingested, error) {
	if uri == "" {
		sum := sha256.Sum256([]byte(text))
		uri = "text:" + hex.EncodeToString(sum[:])
	}
	name := uri
	switch strings.ToLower(path.Ext(uri)) {
	case ".md", ".markdown", ".html", ".htm", ".xhtml", ".txt":
	default:
		name = uri + "#.txt" // read as plain text, whatever the URI looks like
	}
	if max := in.maxTextBytes(); len(text) > max {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: %d bytes of text, over the limit of %d per document", uri, len(text), max)
	}
	p, err := in.parse(ctx, name, []byte(text))
	if err != nil {
		return nil, genai.Errorf(genai.ErrorCode(err), "%s", strings.Replace(genai.ErrorMessage(err), name, uri, 1))
	}
	if title = strings.TrimSpace(title); title == "" {
		title = p.Title
	}
	if title == "" {
		title = uri
	}
	return in.store(ctx, uri, title, p, int64(len(text)))
}

// parse runs Parse with the ingester's limits under ParseTimeout. Parse checks its
// context between units of work; the select returns on time even if a unit is slow.
func (in *Ingester) parse(ctx context.Context, name string, data []byte) (*Parsed, error) {
	timeout := in.ParseTimeout
	if timeout <= 0 {
		timeout = DefaultParseTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		p   *Parsed
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{nil, genai.Errorf(genai.EINVALID, "%s: unreadable file: %v", name, r)}
			}
		}()
		p, err := Parse(ctx, name, data, ParseLimits{MaxTextBytes: in.maxTextBytes()})
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return nil, genai.Errorf(genai.ETIMEOUT, "%s: parsing took over %s; gave up", name, timeout)
		}
		return nil, ctx.Err()
	}
}

// store chunks, embeds and stores a parsed document.
func (in *Ingester) store(ctx context.Context, uri, title string, p *Parsed, size int64) (*Ingested, error) {
	chunks := Chunker{Tokens: in.ChunkTokens, Overlap: in.OverlapTokens}.Split(p.Sections)
	if len(chunks) == 0 {
		return nil, genai.Errorf(genai.EINVALID, "%s: no text found", uri)
	}
	maxChunks := in.MaxChunks
	if maxChunks <= 0 {
		maxChunks = DefaultMaxChunks
	}
	if len(chunks) > maxChunks {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: %d chunks, over the limit of %d per document", uri, len(chunks), maxChunks)
	}
	doc := genai.Document{
		ID: DocumentID(uri), Title: title, URI: uri, Hash: textHash(p.Sections),
		Format: p.Format, Chunks: len(chunks), Bytes: size,
	}
	if old, err := in.Store.DocumentByURI(ctx, uri); err == nil {
		if old.Hash == doc.Hash && old.Title == doc.Title && old.Format == doc.Format {
			return &Ingested{Document: *old, Unchanged: true}, nil
		}
	} else if genai.ErrorCode(err) != genai.ENOTFOUND {
		return nil, fmt.Errorf("%s: looking up the stored document: %w", uri, err)
	}

	texts := make([]string, len(chunks))
	for i := range chunks {
		chunks[i].ID = fmt.Sprintf("%s-%05d", doc.ID, i)
		chunks[i].DocumentID = doc.ID
		texts[i] = chunks[i].EmbeddingText()
	}
	batch := in.EmbedBatch
	if batch <= 0 {
		batch = DefaultEmbedBatch
	}
	vectors := make([][]float32, 0, len(chunks))
	for start := 0; start < len(texts); start += batch {
		vs, err := in.Embedder.Embed(ctx, texts[start:min(start+batch, len(texts))])
		if err != nil {
			return nil, fmt.Errorf("%s: embedding chunks %d–%d: %w", uri, start, min(start+batch, len(texts))-1, err)
		}
		vectors = append(vectors, vs...)
	}
	if len(vectors) != len(chunks) {
		return nil, fmt.Errorf("%s: the embedder returned %d vectors for %d chunks", uri, len(vectors), len(chunks))
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	doc.CreatedAt = now().UTC()
	if err := in.Store.PutDocument(ctx, doc, chunks, vectors); err != nil {
		return nil, fmt.Errorf("%s: storing: %w", uri, err)
	}
	return &Ingested{Document: doc}, nil
}

// textHash is the SHA-256 (hex) of the extracted text, headings included, in a form
// that does not depend on chunk sizes.
func textHash(sections []Section) string {
	h := sha256.New()
	for _, s := range sections {
		for _, heading := range s.Headings {
			h.Write([]byte(heading))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
		h.Write([]byte(s.Text))
		h.Write([]byte{2})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (in *Ingester) maxFileBytes() int64 {
	if in.MaxFileBytes > 0 {
		return in.MaxFileBytes
	}
	return DefaultMaxFileBytes
}

func (in *Ingester) maxTextBytes() int {
	if in.MaxTextBytes > 0 {
		return in.MaxTextBytes
	}
	return DefaultMaxTextBytes
}
