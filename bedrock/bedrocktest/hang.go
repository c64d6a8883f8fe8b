package bedrocktest

import (
	"net"
	"net/http"
)

// Hang makes the server stop answering part way, as a frozen process or a stuck
// endpoint does: the connection stays open and nothing more is sent until the client
// gives up (counted in Stats.Canceled) or SetHang(nil) lets the answer go on.
type Hang struct {
	// BeforeHeaders hangs once the request is read, before the status line: every
	// operation then hangs where a client waits for its first byte.
	BeforeHeaders bool
	// AfterTokens, without BeforeHeaders, makes a ConverseStream hang after its headers,
	// messageStart and this many tokens; Converse and InvokeModel, which send nothing
	// before the whole answer, hang before their headers.
	AfterTokens int
}

// SetHang makes requests that arrive from now on hang as h says; nil stops hanging and
// lets the requests hanging now answer.
func (s *Server) SetHang(h *Hang) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = h
	if h == nil && s.thaw != nil {
		close(s.thaw)
		s.thaw = nil
	}
}

// hangOf returns the hang that applies to a request arriving now, and the channel that
// ends it.
func (s *Server) hangOf() (*Hang, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang == nil {
		return nil, nil
	}
	if s.thaw == nil {
		s.thaw = make(chan struct{})
	}
	return s.hang, s.thaw
}

// hold waits until the client gives up (false) or the hang is lifted (true), counted in
// Stats.Hung meanwhile.
func (s *Server) hold(r *http.Request, thaw chan struct{}) bool {
	s.update(func(st *Stats) { st.Hung++ })
	defer s.update(func(st *Stats) { st.Hung-- })
	select {
	case <-r.Context().Done():
		return false
	case <-thaw:
		return true
	}
}

// countConns keeps Stats.Conns, the client connections open now.
func (s *Server) countConns(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.update(func(st *Stats) { st.Conns++ })
	case http.StateClosed, http.StateHijacked:
		s.update(func(st *Stats) { st.Conns-- })
	}
}
