package rag

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"genai"
)

// DefaultAnswerTokens bounds a generated answer when Local.MaxTokens is zero.
const DefaultAnswerTokens = 1024

// sessionWriteTimeout bounds the write of an exchange to the session store.
const sessionWriteTimeout = 10 * time.Second

// Local is the knowledge base of this server: it retrieves chunks from its own store
// and answers from them, with a model when it has one and extractively when it has
// none. It implements genai.KnowledgeBase and is safe for concurrent use.
type Local struct {
	// Retriever finds the chunks (a *Retriever, or any other); required.
	Retriever genai.Retriever
	// Chat writes answers and rewrites follow-up questions; nil answers extractively.
	Chat genai.ChatModel
	// Model is the model id of Chat's requests; empty is the provider's default.
	Model string
	// MaxTokens bounds a generated answer (default DefaultAnswerTokens).
	MaxTokens int
	// Sessions remembers conversations by session id; nil remembers none, and a
	// follow-up must then carry its conversation as messages.
	Sessions genai.SessionStore
	// CacheContext puts a cache point after the sources of a generated answer, so a
	// provider with prompt caching keeps them for the next question that has the same.
	CacheContext bool
}

// Retrieve returns the chunks most relevant to q, a valid query.
func (l *Local) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	if l.Retriever == nil {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "knowledge base: no retriever is configured")
	}
	return l.Retriever.Retrieve(ctx, q)
}

// Answer answers req, a valid request (see genai.AnswerRequest.Validate), from the
// knowledge base. A follow-up question (one with earlier turns in req.Messages, or in
// the history of req.SessionID) is first rewritten into a standalone query for
// retrieval. The returned Answer holds the retrieved sources as numbered citations and
// the text as a stream; the stream runs under ctx, and the exchange is remembered in
// the session once the stream completes. With no Chat model the answer is extractive:
// the most relevant sentences of the sources, each cited. Errors are those of the
// session, of retrieval and of the model's rewriting call.
func (l *Local) Answer(ctx context.Context, req *genai.AnswerRequest) (*genai.Answer, error) {
	if l.Retriever == nil {
		return nil, genai.Errorf(genai.EUNAVAILABLE, "knowledge base: no retriever is configured")
	}
	question, history := req.Conversation()
	sessionID := req.SessionID
	if l.Sessions != nil {
		if sessionID == "" {
			sessionID = genai.NewSessionID()
		} else if known, err := l.Sessions.SessionHistory(ctx, sessionID, req.Owner); err != nil {
			return nil, err
		} else if len(history) == 0 {
			history = genai.SessionMessages(known)
		}
	}
	history = recentTurns(history, 2*genai.SessionTurns)

	query := question
	if len(history) > 0 {
		var err error
		if query, err = l.standaloneQuery(ctx, history, question); err != nil {
			return nil, err
		}
	}
	// A rewritten query is clipped to a query's limit; the question was checked as asked.
	q := genai.RetrieveQuery{Query: genai.ClipUTF8(query, genai.MaxQueryBytes), K: req.K, DocumentID: req.DocumentID}
	hits, err := l.Retriever.Retrieve(ctx, q)
	if err != nil {
		return nil, err
	}

	ans := &genai.Answer{SessionID: sessionID, Citations: []genai.Citation{}, Extractive: l.Chat == nil}
	remember := func(text string) {
		if l.Sessions == nil {
			return
		}
		// The answer has reached the client already: a session that cannot be written is
		// logged, and its next follow-up is answered without this exchange. The write
		// runs to its end even if the client has just gone, within sessionWriteTimeout.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sessionWriteTimeout)
		defer cancel()
		if err := l.Sessions.AppendExchange(wctx, sessionID, req.Owner, genai.Exchange{Question: question, Answer: text}); err != nil {
			slog.Warn("knowledge base: session not remembered", "session_id", sessionID, "err", err)
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
