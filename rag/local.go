package rag

import (
	"context"
	"io"
	"iter"
	"strings"

	"genai"
)

// ChunkRetriever finds the chunks most relevant to a query. Retriever, the hybrid
// retrieval of this package, is one; so is any genai.KnowledgeBase.
type ChunkRetriever interface {
	Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error)
}

// DefaultAnswerTokens bounds a generated answer when Local.MaxTokens is zero.
const DefaultAnswerTokens = 1024

// Local is the knowledge base of this server: it retrieves chunks from its own store
// and answers from them, with a model when it has one and extractively when it has
// none. It implements genai.KnowledgeBase and is safe for concurrent use.
type Local struct {
	// Retriever finds the chunks; required.
	Retriever ChunkRetriever
	// Chat writes answers and rewrites follow-up questions; nil answers extractively.
	Chat genai.ChatModel
	// Model is the model id of Chat's requests; empty is the provider's default.
	Model string
	// MaxTokens bounds a generated answer (default DefaultAnswerTokens).
	MaxTokens int
	// Sessions remembers conversations by session id; nil remembers none, and a
	// follow-up must then carry its conversation as messages.
	Sessions *Sessions
}

// Retrieve validates q (filling in its defaults) and returns the most relevant chunks.
func (l *Local) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	if l.Retriever == nil {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "knowledge base: no retriever is configured")
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return l.Retriever.Retrieve(ctx, q)
}

// Answer answers req from the knowledge base. A follow-up question (one with earlier
// turns in req.Messages, or in the history of req.SessionID) is first rewritten into a
// standalone query for retrieval. The returned Answer holds the retrieved sources as
// numbered citations and the text as a stream; the stream runs under ctx, and the
// exchange is remembered in the session once the stream completes. With no Chat model
// the answer is extractive: the most relevant sentences of the sources, each cited.
// Errors are *genai.Error values: EINVALID for a request without a question, or those
// of retrieval and of the model's rewriting call.
func (l *Local) Answer(ctx context.Context, req *genai.AnswerRequest) (*genai.Answer, error) {
	if l.Retriever == nil {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "knowledge base: no retriever is configured")
	}
	question, history, err := conversationOf(req)
	if err != nil {
		return nil, err
	}
	// Check the question as asked before any model call; a rewritten query is clipped.
	if err := (&genai.RetrieveQuery{Query: question, K: req.K, DocumentID: req.DocumentID}).Validate(); err != nil {
		return nil, err
	}
	sessionID := req.SessionID
	if l.Sessions != nil {
		if sessionID == "" {
			sessionID = NewSessionID()
		} else if known, err := l.Sessions.History(sessionID, req.Owner); err != nil {
			return nil, err
		} else if len(history) == 0 {
			history = known
		}
	}
	history = recentTurns(history, 2*DefaultSessionTurns)

	query := question
	if len(history) > 0 {
		if query, err = l.standaloneQuery(ctx, history, question); err != nil {
			return nil, err
		}
	}
	q := genai.RetrieveQuery{Query: clipUTF8(query, genai.MaxQueryBytes), K: req.K, DocumentID: req.DocumentID}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	hits, err := l.Retriever.Retrieve(ctx, q)
	if err != nil {
		return nil, err
	}

	ans := &genai.Answer{SessionID: sessionID, Citations: []genai.Citation{}, Extractive: l.Chat == nil}
	remember := func(text string) {
		if l.Sessions != nil {
			l.Sessions.Append(sessionID, req.Owner, question, text)
		}
	}
	switch {
	case len(hits) == 0:
		ans.Events = fixedAnswer(noSourcesText(ans.Extractive), remember)
	case l.Chat == nil:
		text, cited := extractiveAnswer(query, hits)
		if cited == nil {
			text = noSourcesText(true)
		}
		ans.Citations = append(ans.Citations, cited...)
		ans.Events = fixedAnswer(text, remember)
	default:
		ans.Citations = citationsOf(hits)
		ans.Events = l.generate(ctx, history, question, hits, remember)
	}
	return ans, nil
}

// conversationOf returns the question of req and the turns before it.
func conversationOf(req *genai.AnswerRequest) (question string, history []genai.Message, err error) {
	if strings.TrimSpace(req.Query) != "" {
		return strings.TrimSpace(req.Query), nil, nil
	}
	if len(req.Messages) == 0 {
		return "", nil, genai.Errorf(genai.EINVALID, "query: required (or messages ending with a user question)")
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role != genai.RoleUser {
		return "", nil, genai.Errorf(genai.EINVALID, "messages[%d].role: the last message must be the user's question", len(req.Messages)-1)
	}
	question = strings.TrimSpace(last.Text())
	if question == "" {
		return "", nil, genai.Errorf(genai.EINVALID, "messages[%d]: the question has no text", len(req.Messages)-1)
	}
	for _, m := range req.Messages[:len(req.Messages)-1] {
		text := strings.TrimSpace(m.Text())
		if text == "" {
			text = "(no text)" // an image-only turn; its images do not take part in retrieval
		}
		history = append(history, genai.TextMessage(m.Role, text))
	}
	return question, history, nil
}

// recentTurns returns at most the last n messages of history, starting with a user turn.
func recentTurns(history []genai.Message, n int) []genai.Message {
	if len(history) > n {
		history = history[len(history)-n:]
	}
	for len(history) > 0 && history[0].Role != genai.RoleUser {
		history = history[1:]
	}
	return history
}

// fixedAnswer streams text known in advance as one delta, then the end.
func fixedAnswer(text string, done func(text string)) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		if !yield(genai.Event{Text: text}, nil) {
			return
		}
		done(text)
		yield(genai.Event{Done: true, StopReason: "end_turn"}, nil)
	}
}

func noSourcesText(extractive bool) string {
	const text = "The knowledge base has no passage about this question, so it cannot be answered from its sources."
	if extractive {
		return extractiveLabel + text
	}
	return text
}

// Documents serves the document routes of a local knowledge base (server.KBDocuments)
// with an Ingester and the store it writes to.
type Documents struct {
	Ingester *Ingester
}

// IngestFile ingests an uploaded file called name, read from file once a slot of the
// ingester's Limiter is free; see Ingester.IngestReader.
func (d *Documents) IngestFile(ctx context.Context, name string, file io.Reader) (*Ingested, error) {
	return d.Ingester.IngestReader(ctx, name, file)
}

// IngestText ingests text as a document; see Ingester.IngestText.
func (d *Documents) IngestText(ctx context.Context, title, uri, text string) (*Ingested, error) {
	return d.Ingester.IngestText(ctx, title, uri, text)
}

// ListDocuments returns the documents of the store, newest first.
func (d *Documents) ListDocuments(ctx context.Context) ([]genai.Document, error) {
	return d.Ingester.Store.ListDocuments(ctx)
}

// GetDocument returns a document; ENOTFOUND for an unknown id.
func (d *Documents) GetDocument(ctx context.Context, id string) (*genai.Document, error) {
	return d.Ingester.Store.GetDocument(ctx, id)
}

// DocumentChunks returns a document's chunks in order; ENOTFOUND for an unknown id.
func (d *Documents) DocumentChunks(ctx context.Context, id string) ([]genai.Chunk, error) {
	return d.Ingester.Store.DocumentChunks(ctx, id)
}

// DeleteDocument removes a document and its chunks; ENOTFOUND for an unknown id.
func (d *Documents) DeleteDocument(ctx context.Context, id string) error {
	return d.Ingester.Store.DeleteDocument(ctx, id)
}
