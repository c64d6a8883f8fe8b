package rag

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"genai"
)

// DefaultParseQueue is how many files may wait for an ingestion slot when an Ingester
// has no Limiter. A waiting file holds no memory of its own (it is read only once it
// has a slot), only its connection, so the queue can be longer than the slots.
const DefaultParseQueue = 64

// ParseLimiter bounds how many files an Ingester works on at once, and how many may
// wait for a turn. A slot covers the whole ingestion of a file: reading it into memory,
// parsing, chunking, embedding and storing it, since each of these holds the file or
// its text in memory and parsing and the local embedder are CPU-bound; so memory holds
// at most as many files as there are slots. It is safe for concurrent use.
type ParseLimiter struct {
	slots chan struct{}
	queue int

	mu      sync.Mutex
	waiting int
	held    time.Duration // moving average of how long a slot is held
}

// NewParseLimiter returns a limiter of parses slots (the number of CPUs when parses is
// zero or less) with room for queue files to wait (none when queue is zero or less).
func NewParseLimiter(parses, queue int) *ParseLimiter {
	if parses <= 0 {
		parses = runtime.GOMAXPROCS(0)
	}
	return &ParseLimiter{slots: make(chan struct{}, parses), queue: max(0, queue)}
}

// Acquire waits for a slot and returns the function that gives it back. When the queue
// is full it returns at once an EUNAVAILABLE error whose RetryAfter estimates when a
// slot frees up; when ctx ends first, it returns ctx's error.
func (l *ParseLimiter) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), nil
	default:
	}
	l.mu.Lock()
	if l.waiting >= l.queue {
		busy := &genai.Error{
			Code: genai.EUNAVAILABLE,
			Message: fmt.Sprintf("busy: %d files are being ingested and %d more are waiting, the most this server takes at once; retry later",
				cap(l.slots), l.waiting),
			RetryAfter: l.retryAfterLocked(),
		}
		l.mu.Unlock()
		return nil, busy
	}
	l.waiting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}()
	select {
	case l.slots <- struct{}{}:
		return l.releaser(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *ParseLimiter) releaser() func() {
	start := time.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			d := time.Since(start)
			l.mu.Lock()
			if l.held == 0 {
				l.held = d
			} else {
				l.held = (7*l.held + d) / 8
			}
			l.mu.Unlock()
			<-l.slots
		})
	}
}

// retryAfterLocked estimates when a slot will be free for a newcomer: the files ahead
// of it, served by all slots, at the average time a slot is held; at least a second,
// at most a minute.
func (l *ParseLimiter) retryAfterLocked() time.Duration {
	ahead := l.waiting + cap(l.slots)
	d := l.held * time.Duration(ahead) / time.Duration(cap(l.slots))
	return min(max(d.Round(time.Second), time.Second), time.Minute)
}
