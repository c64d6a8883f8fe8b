// Package httpbody holds the request-body wrapper both model providers use, so that a
// request held by a long stream holds no payload.
package httpbody

import (
	"io"
	"sync"
)

// Once is a request body that exposes only Read and Close (hiding WriteTo, whose
// io.EOF after a close net/http takes for a failed write) and lets go of the body it
// reads once that is read to its end or closed. net/http may close a request body
// while its writer still reads it, hence the lock.
type Once struct {
	mu   sync.Mutex
	body io.ReadCloser
}

// NewOnce returns body wrapped.
func NewOnce(body io.ReadCloser) *Once { return &Once{body: body} }

// Read reads the body, and lets go of it at its end.
func (b *Once) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.body == nil {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.body.Close()
		b.body = nil
	}
	return n, err
}

// Close closes the body, once.
func (b *Once) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.body == nil {
		return nil
	}
	err := b.body.Close()
	b.body = nil
	return err
}
