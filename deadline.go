package genai

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"
	"time"
)

// Default deadlines of an upstream call, for a cmd that has no better figures. They leave
// room for a slow model rather than catch a slow one: a model reading a 200,000-token
// prompt, or reasoning before it answers, may take tens of seconds to its first token,
// and a frozen provider should still cost a client minutes at most, not forever.
const (
	DefaultFirstEventTimeout    = 90 * time.Second
	DefaultBetweenEventsTimeout = 60 * time.Second
	DefaultCallTimeout          = 10 * time.Minute
)

// Deadlines bound the calls a ChatModel or an Embedder makes to its upstream provider,
// so that a provider that hangs (a frozen process, a connection a middlebox dropped, an
// endpoint that accepts and never answers) costs a client a bounded wait and an ETIMEOUT
// error naming the deadline, and the upstream call is cancelled. A zero field sets no
// bound.
type Deadlines struct {
	// FirstEvent bounds the wait from the start of a stream to its first event: the time
	// a model may take to read its prompt and think before it answers.
	FirstEvent time.Duration
	// BetweenEvents bounds the silence between two events of a stream once it has
	// begun. The time its consumer takes over an event does not count: only the
	// provider's silence does.
	BetweenEvents time.Duration
	// Call bounds a whole call: a stream from start to end, a whole Chat answer (which
	// sends nothing before it is complete, so only this bound applies to it), or an
	// Embed of all its texts.
	Call time.Duration
}

// deadlineError is the cause a call's context is cancelled with when one of its
// deadlines passes: it tells the deadline apart from the caller's own cancellation.
type deadlineError struct {
	what  string // "first event", "between events", "call"
	limit time.Duration
}

func (e *deadlineError) Error() string { return e.what + " deadline of " + e.limit.String() }

// timeoutError is the ETIMEOUT a call ends with when cause, a *deadlineError, passed.
func timeoutError(op string, cause *deadlineError) *Error {
	var msg string
	switch cause.what {
	case "first event":
		msg = fmt.Sprintf("the model provider sent nothing within %v of the %s (first-event deadline); it may be overloaded or unreachable", cause.limit, op)
	case "between events":
		msg = fmt.Sprintf("the model provider went silent for %v in the middle of the %s (between-events deadline)", cause.limit, op)
	default:
		msg = fmt.Sprintf("the %s did not finish within %v (whole-call deadline)", op, cause.limit)
	}
	return &Error{Code: ETIMEOUT, Message: msg}
}

// ownTimeout returns the ETIMEOUT error for a call whose context ctx was cancelled by one
// of our deadlines, or nil when it was not (the call failed by itself, or the caller
// cancelled it).
func ownTimeout(ctx context.Context, op string) error {
	var d *deadlineError
	if errors.As(context.Cause(ctx), &d) {
		return timeoutError(op, d)
	}
	return nil
}

// callContext returns ctx bounded by the whole-call deadline, cancellable with a cause.
func (d Deadlines) callContext(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if d.Call <= 0 {
		return ctx, cancel
	}
	tctx, tcancel := context.WithTimeoutCause(ctx, d.Call, &deadlineError{"call", d.Call})
	return tctx, func(cause error) { cancel(cause); tcancel() }
}

// WithDeadlines returns a ChatModel that calls m within d. When a deadline passes, the
// upstream call is cancelled and the call fails with an ETIMEOUT *Error naming the
// deadline: before the first event of a stream, as the stream's only error; after it,
// as the error that ends the stream. A zero d returns m.
func WithDeadlines(m ChatModel, d Deadlines) ChatModel {
	if d == (Deadlines{}) {
		return m
	}
	return &deadlineModel{m: m, d: d}
}

type deadlineModel struct {
	m ChatModel
	d Deadlines
}

// Stream implements ChatModel.
func (dm *deadlineModel) Stream(ctx context.Context, req *ChatRequest) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		ctx, cancel := dm.d.callContext(ctx)
		defer cancel(nil)
		// One timer for the provider's silences: armed while the provider is awaited,
		// stopped while the consumer holds an event. phase is the deadline it guards.
		var phase atomic.Pointer[deadlineError]
		timer := time.AfterFunc(time.Hour, func() { cancel(phase.Load()) })
		timer.Stop()
		defer timer.Stop()
		armed := false
		await := func(d *deadlineError) {
			phase.Store(d)
			if armed = d.limit > 0; armed {
				timer.Reset(d.limit)
			}
		}
		await(&deadlineError{"first event", dm.d.FirstEvent})
		between := &deadlineError{"between events", dm.d.BetweenEvents}
		for ev, err := range dm.m.Stream(ctx, req) {
			if err != nil {
				if terr := ownTimeout(ctx, "stream"); terr != nil {
					err = terr
				}
				yield(Event{}, err)
				return
			}
			if armed && !timer.Stop() {
				// The deadline passed as the event arrived and the call is being
				// cancelled: end with the timeout rather than pass on part of a dead stream.
				d := phase.Load()
				cancel(d)
				yield(Event{}, timeoutError("stream", d))
				return
			}
			if !yield(ev, nil) || ev.Done {
				return
			}
			await(between)
		}
		// A provider that ended its sequence quietly when its context was cancelled
		// still gets its timeout reported.
		if terr := ownTimeout(ctx, "stream"); terr != nil {
			yield(Event{}, terr)
		}
	}
}

// Chat implements ChatModel.
func (dm *deadlineModel) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	ctx, cancel := dm.d.callContext(ctx)
	defer cancel(nil)
	resp, err := dm.m.Chat(ctx, req)
	if err != nil {
		if terr := ownTimeout(ctx, "answer"); terr != nil {
			return nil, terr
		}
		return nil, err
	}
	return resp, nil
}

// EmbedderWithDeadline returns an Embedder whose Embed calls e within d.Call: an
// embedding answers in one response, so the whole-call bound is the one that applies.
// When it passes, the upstream calls are cancelled and Embed fails with an ETIMEOUT
// *Error. A zero d.Call returns e.
func EmbedderWithDeadline(e Embedder, d Deadlines) Embedder {
	if d.Call <= 0 {
		return e
	}
	return &deadlineEmbedder{e: e, d: Deadlines{Call: d.Call}}
}

type deadlineEmbedder struct {
	e Embedder
	d Deadlines
}

// Embed implements Embedder.
func (de *deadlineEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	ctx, cancel := de.d.callContext(ctx)
	defer cancel(nil)
	vs, err := de.e.Embed(ctx, texts)
	if err != nil {
		if terr := ownTimeout(ctx, "embedding"); terr != nil {
			return nil, terr
		}
		return nil, err
	}
	return vs, nil
}

// Space implements Embedder.
func (de *deadlineEmbedder) Space() EmbeddingSpace { return de.e.Space() }

// RerankerWithDeadline returns a Reranker whose Rerank calls r within d.Call, as
// EmbedderWithDeadline bounds an embedder: when it passes, the upstream call is
// cancelled and Rerank fails with an ETIMEOUT *Error. A zero d.Call returns r.
func RerankerWithDeadline(r Reranker, d Deadlines) Reranker {
	if d.Call <= 0 {
		return r
	}
	return &deadlineReranker{r: r, d: Deadlines{Call: d.Call}}
}

type deadlineReranker struct {
	r Reranker
	d Deadlines
}

// Rerank implements Reranker.
func (dr *deadlineReranker) Rerank(ctx context.Context, query string, texts []string) ([]float64, error) {
	ctx, cancel := dr.d.callContext(ctx)
	defer cancel(nil)
	scores, err := dr.r.Rerank(ctx, query, texts)
	if err != nil {
		if terr := ownTimeout(ctx, "reranking"); terr != nil {
			return nil, terr
		}
		return nil, err
	}
	return scores, nil
}
