package rag

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
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
// them as one document per URI. It is the genai.DocumentService of a local knowledge
// base. The zero value of each limit takes its default. It is safe for concurrent use
// when Store and Embedder are.
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

	// Limiter bounds how many files are ingested at once and how many wait. Nil means
	// one limiter of this Ingester's own, made on first use, with a slot per CPU and
	// DefaultParseQueue places to wait: every caller of one Ingester (the HTTP uploads
	// and "genai ingest" each have one) shares its slots.
	Limiter *ParseLimiter

	// Now returns the time recorded as a document's CreatedAt; nil means time.Now.
	Now func() time.Time

	defaultLimiter sync.Once
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
// over ParseTimeout, EUNAVAILABLE (with a RetryAfter) when the Limiter's queue is full;
// errors of the embedder and the store are returned as they are, wrapped with the
// file's name.
func (in *Ingester) Ingest(ctx context.Context, name string, data []byte) (*genai.Ingested, error) {
	if max := in.maxFileBytes(); int64(len(data)) > max {
		return nil, in.tooLarge(name, int64(len(data)))
	}
	release, err := in.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	defer release()
	return in.ingest(ctx, name, data)
}

// IngestFile ingests the file called name, read from file, as Ingest does; it reads
// the file only once it holds a slot of the Limiter, so that files waiting for their
// turn take no memory. It reads at most MaxFileBytes+1 bytes. An error of file's Read
// is returned wrapped (errors.As finds it), after the file's name.
func (in *Ingester) IngestFile(ctx context.Context, name string, file io.Reader) (*genai.Ingested, error) {
	release, err := in.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	defer release()
	max := in.maxFileBytes()
	data, err := readFile(file, max+1)
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, in.tooLarge(name, -1)
	}
	return in.ingest(ctx, name, data)
}

// readFile reads r to its end, at most limit bytes, into a slice of exactly its size.
// It reads 1 MiB blocks and joins them once: io.ReadAll's growing slice would allocate
// about five times a large file's size on the way, all of it garbage the heap grows by.
func readFile(r io.Reader, limit int64) ([]byte, error) {
	const block = 1 << 20
	var blocks [][]byte
	var n int64
	for n < limit {
		b := make([]byte, min(block, limit-n))
		k, err := io.ReadFull(r, b)
		n += int64(k)
		if k > 0 {
			blocks = append(blocks, b[:k])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(blocks) == 1 {
		return blocks[0], nil
	}
	data := make([]byte, 0, n)
	for i, b := range blocks {
		data = append(data, b...)
		blocks[i] = nil
	}
	return data, nil
}

// ingest parses and stores a file; the caller holds a slot.
func (in *Ingester) ingest(ctx context.Context, name string, data []byte) (*genai.Ingested, error) {
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

func (in *Ingester) tooLarge(name string, size int64) error {
	if size < 0 {
		return genai.Errorf(genai.ETOOLARGE, "%s: over the limit of %d bytes per file", name, in.maxFileBytes())
	}
	return genai.Errorf(genai.ETOOLARGE, "%s: %d bytes, over the limit of %d per file", name, size, in.maxFileBytes())
}

// acquire takes a slot of the Limiter for the file called name.
func (in *Ingester) acquire(ctx context.Context, name string) (func(), error) {
	in.defaultLimiter.Do(func() {
		if in.Limiter == nil {
			in.Limiter = NewParseLimiter(0, DefaultParseQueue)
		}
	})
	release, err := in.Limiter.Acquire(ctx)
	if err != nil {
		if genai.ErrorCode(err) == genai.EUNAVAILABLE {
			return nil, &genai.Error{Code: genai.EUNAVAILABLE, Message: name + ": " + genai.ErrorMessage(err), RetryAfter: genai.ErrorRetryAfter(err)}
		}
		return nil, fmt.Errorf("%s: waiting for a turn to be ingested: %w", name, err)
	}
	return release, nil
}

// IngestText stores text as a document of the given title and URI, as Ingest does a
// file. An empty uri becomes "text:" and the SHA-256 of the text, so posting the same
// text again replaces it. When uri ends in .md or .html, text is read as that format;
// otherwise as plain text.
func (in *Ingester) IngestText(ctx context.Context, title, uri, text string) (*genai.Ingested, error) {
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
	release, err := in.acquire(ctx, uri)
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := in.parse(ctx, name, []byte(text))
	if err != nil {
		var e *genai.Error
		if errors.As(err, &e) {
			return nil, &genai.Error{Code: e.Code, Message: strings.Replace(e.Message, name, uri, 1), RetryAfter: e.RetryAfter}
		}
		return nil, err
	}
	if title = strings.TrimSpace(title); title == "" {
		title = p.Title
	}
	if title == "" {
		title = uri
	}
	return in.store(ctx, uri, title, p, int64(len(text)))
}

// parse runs Parse with the ingester's limits under ParseTimeout, in the caller's
// goroutine: the parsers check their context inside their loops (PDF pages and the
// reads of each page's streams, HTML tokens, Markdown nodes), so the work itself stops
// soon after the deadline rather than running on unseen. A panic of a parser's
// library becomes an error for the file.
func (in *Ingester) parse(ctx context.Context, name string, data []byte) (p *Parsed, err error) {
	timeout := in.ParseTimeout
	if timeout <= 0 {
		timeout = DefaultParseTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, genai.Errorf(genai.EINVALID, "%s: unreadable file: %v", name, r)
		}
		if err != nil && ctx.Err() == context.DeadlineExceeded {
			p, err = nil, genai.Errorf(genai.ETIMEOUT, "%s: parsing took over %s; gave up", name, timeout)
		}
	}()
	return Parse(ctx, name, data, ParseLimits{MaxTextBytes: in.maxTextBytes()})
}

// store chunks, embeds and stores a parsed document.
func (in *Ingester) store(ctx context.Context, uri, title string, p *Parsed, size int64) (*genai.Ingested, error) {
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
	replaced := false
	if old, err := in.Store.DocumentByURI(ctx, uri); err == nil {
		if old.Hash == doc.Hash && old.Title == doc.Title && old.Format == doc.Format {
			return &genai.Ingested{Document: *old, Unchanged: true}, nil
		}
		replaced = true
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
	return &genai.Ingested{Document: doc, Replaced: replaced}, nil
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

var _ genai.DocumentService = (*Ingester)(nil)

// ListDocuments returns the documents of the store, newest first.
func (in *Ingester) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	return in.Store.ListDocuments(ctx)
}

// GetDocument returns a document; ENOTFOUND for an unknown id.
func (in *Ingester) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	return in.Store.GetDocument(ctx, id)
}

// DocumentChunks returns a document's chunks in order; ENOTFOUND for an unknown id.
func (in *Ingester) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	return in.Store.DocumentChunks(ctx, id)
}

// DeleteDocument removes a document and its chunks; ENOTFOUND for an unknown id.
func (in *Ingester) DeleteDocument(ctx context.Context, id string) error {
	return in.Store.DeleteDocument(ctx, id)
}
