// Package watch holds a value that goroutines update and others wait on: the counters
// of the wire-protocol test servers, which tests wait on instead of sleeping.
package watch

import (
	"context"
	"sync"
)

// Value is a value of type T whose changes can be waited for. The zero value is ready.
type Value[T any] struct {
	mu      sync.Mutex
	v       T
	changed chan struct{} // closed and replaced on every change
}

// Load returns the current value.
func (w *Value[T]) Load() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.v
}

// Update changes the value with fn and wakes the waiters.
func (w *Value[T]) Update(fn func(*T)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn(&w.v)
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// Wait blocks until cond holds for the value, and returns it; when ctx ends first it
// returns the last value seen and ctx's error.
func (w *Value[T]) Wait(ctx context.Context, cond func(T) bool) (T, error) {
	for {
		w.mu.Lock()
		v := w.v
		if cond(v) {
			w.mu.Unlock()
			return v, nil
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}
