package openaitest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// Hang makes the server stop answering part way, as a frozen process or a stuck
// endpoint does: the connection stays open and nothing more is sent until the client
// gives up (a notice on Canceled) or SetHang(nil) lets the answer go on.
type Hang struct {
	// BeforeHeaders hangs every request (chat, models, embeddings) before its status
	// line, where a client waits for its first byte.
	BeforeHeaders bool
	// AfterTokens, without BeforeHeaders, makes a streamed chat hang after its headers
	// and this many tokens, and a whole chat, which sends nothing before the whole
	// answer, hang before its headers. Other routes answer.
	AfterTokens int
}

// hangState is the hang that applies to requests arriving now.
type hangState struct {
	mu   sync.Mutex
	hang *Hang
	thaw chan struct{} // closed when the hang is lifted
}

// SetHang makes requests that arrive from now on hang as h says; nil stops hanging and
// lets the requests hanging now answer.
func (s *Server) SetHang(h *Hang) {
	s.hangs.mu.Lock()
	defer s.hangs.mu.Unlock()
	s.hangs.hang = h
	if h == nil && s.hangs.thaw != nil {
		close(s.hangs.thaw)
		s.hangs.thaw = nil
	}
}

func (s *Server) hangOf() (*Hang, chan struct{}) {
	s.hangs.mu.Lock()
	defer s.hangs.mu.Unlock()
	if s.hangs.hang == nil {
		return nil, nil
	}
	if s.hangs.thaw == nil {
		s.hangs.thaw = make(chan struct{})
	}
	return s.hangs.hang, s.hangs.thaw
}

// hold waits until the client gives up, noted on Canceled (false), or the hang is
// lifted (true).
func (s *Server) hold(r *http.Request, thaw chan struct{}) bool {
	select {
	case <-r.Context().Done():
		s.noteCanceled()
		return false
	case <-thaw:
		return true
	}
}

// hangBeforeHeaders holds every request while a Hang with BeforeHeaders is set.
func (s *Server) hangBeforeHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, thaw := s.hangOf(); h != nil && h.BeforeHeaders {
			// The request is read first: net/http notices a client that went away only
			// once the body is consumed, and a frozen server's kernel takes it anyway.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				s.noteCanceled()
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !s.hold(r, thaw) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hangAt returns the token before which a chat hangs (len(tokens) or more: before the
// end), or -1 when it does not, and the channel that ends the hang.
func (s *Server) hangAt() (int, chan struct{}) {
	h, thaw := s.hangOf()
	if h == nil || h.BeforeHeaders {
		return -1, nil
	}
	return h.AfterTokens, thaw
}
