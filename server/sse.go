package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// DefaultSSEHeartbeat is how long a stream may stay silent before it carries a
// heartbeat: well inside the 60 s idle timeouts of nginx (proxy_read_timeout) and AWS
// load balancers, which cut a connection that carries nothing for that long.
const DefaultSSEHeartbeat = 15 * time.Second

// streamHeaders sets the headers of every streamed answer, SSE or plain chunked text:
// no cache may keep it, and nginx (and proxies that follow its header) must pass each
// write on at once instead of buffering the answer, which would hold the first token
// until the buffer fills or the answer ends.
func streamHeaders(h http.Header, contentType string) {
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// Heartbeats: an SSE comment, which every SSE parser skips (the official OpenAI and MCP
// clients included); on /v1/messages Anthropic's own documented ping event, which its
// SDKs skip by name.
var (
	commentPing   = []byte(": ping\n\n")
	anthropicPing = []byte("event: ping\ndata: {\"type\":\"ping\"}\n\n")
)

// sseWriter writes Server-Sent Events, one JSON object per data line, flushing an
// event at once so tokens reach the client as they are made. While the stream is silent
// it writes a heartbeat every interval, so that proxies do not take it for dead; one
// lock makes the handler's events and the heartbeats whole writes that never
// interleave.
//
// Events that follow a flush within sseCoalesce wait for one flush at its end, and the
// stream's last events leave with the body's end (see ending): one system call, and
// one wake-up of the client's reader, for a burst of events instead of one each.
type sseWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	buf   []byte // the event being assembled; the handler's goroutine only
	hold  bool   // write without flushing; the handler's goroutine only
	final bool   // the stream's last events, left for the body's end; the handler's goroutine only

	mu        sync.Mutex
	last      time.Time // of the last write
	closed    bool
	ping      []byte
	interval  time.Duration
	timer     *time.Timer
	coalesced time.Duration // sseCoalesce when the stream began
	flushed   time.Time     // of the last flush
	pending   bool          // written events wait for flusher
	flusher   *time.Timer   // the coalesced flush
	flushErr  error         // of the coalesced flush: the client is gone
}

// sseCoalesce is how long after a flush further events wait to leave together. A
// first token, and any event after a pause this long, is flushed at once; a burst
// (an upstream's backlog, tokens read several to a network read) leaves in one write
// per sseCoalesce. Real models send a token every 5 to 50 ms, so their tokens still
// leave one by one; a millisecond more between them is not seen.
var sseCoalesce = time.Millisecond

// newSSEWriter starts r's event stream on w: the headers, then heartbeats every
// Options.SSEHeartbeat of silence until close, which the handler must call (deferred)
// before it returns.
func (s *Server) newSSEWriter(w http.ResponseWriter, r *http.Request) *sseWriter {
	streamHeaders(w.Header(), "text/event-stream")
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), ping: commentPing, coalesced: sseCoalesce}
	if isAnthropicPath(r.URL.Path) {
		sw.ping = anthropicPing
	}
	if s.opts.SSEHeartbeat > 0 {
		// Under the lock, which the first heartbeat takes before it reads the timer.
		sw.mu.Lock()
		sw.interval, sw.last = s.opts.SSEHeartbeat, time.Now()
		sw.timer = time.AfterFunc(sw.interval, sw.heartbeat)
		sw.mu.Unlock()
	}
	return sw
}

// heartbeat writes a ping when nothing was written for an interval, and sets itself to
// run again an interval after the last write.
func (s *sseWriter) heartbeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if idle := time.Since(s.last); idle < s.interval {
		s.timer.Reset(s.interval - idle)
		return
	}
	if _, err := s.w.Write(s.ping); err != nil || s.rc.Flush() != nil {
		return // the client is gone: the handler learns it from its next write
	}
	s.last = time.Now()
	s.timer.Reset(s.interval)
}

// close stops the heartbeats; after it returns nothing more is written. A nil s is a
// stream that never started.
func (s *sseWriter) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.flusher != nil {
		s.flusher.Stop() // what waits for it leaves with the body's end
	}
}

// ending marks the events written from now on as the stream's last: they are not
// flushed but leave with the body's end, which net/http writes when the handler
// returns, in one packet. A client that stops reading at the stream's end marker, as
// openai-go does at "data: [DONE]", then has read the body to its end, and its
// connection goes back to its pool instead of being closed.
func (s *sseWriter) ending() {
	s.final = true
}

// flushLater is the coalesced flush of the events written since the last one.
func (s *sseWriter) flushLater() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.pending {
		return
	}
	s.pending = false
	s.flushed = time.Now()
	if err := s.rc.Flush(); err != nil {
		s.flushErr = err // the handler learns it from its next write
	}
}

// event writes one event, flushed as send says; an error means the client is gone.
func (s *sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.buf = append(s.buf[:0], "event: "...)
	s.buf = append(s.buf, name...)
	s.buf = append(s.buf, '\n')
	return s.write(data)
}

// eventHeld writes one event without flushing it: it leaves with the next event, in
// the same packet, which saves the first token a system call and a round of the
// client's reader.
func (s *sseWriter) eventHeld(name string, v any) error {
	s.hold = true
	defer func() { s.hold = false }()
	return s.event(name, v)
}

// data writes one unnamed event holding v as JSON, as OpenAI's streams do.
func (s *sseWriter) data(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.buf = s.buf[:0]
	return s.write(data)
}

// textEvent writes one event made of head, text as a JSON string, and tail: head is
// the event's lines up to its data's JSON (an event line, "data: " and the JSON's start),
// encoded once per stream by the caller, for the events too frequent to marshal whole.
// gjson quotes valid UTF-8 byte for byte as encoding/json does, without reflection or
// an allocation; encoding/json quotes the rare invalid text, whose bad bytes it writes
// as the escape \ufffd where gjson writes the character itself.
func (s *sseWriter) textEvent(head []byte, text string, tail []byte) error {
	s.buf = append(s.buf[:0], head...)
	if utf8.ValidString(text) {
		s.buf = gjson.AppendJSONString(s.buf, text)
	} else {
		q, _ := json.Marshal(text) // a string always marshals
		s.buf = append(s.buf, q...)
	}
	s.buf = append(s.buf, tail...)
	return s.send()
}

// raw writes one unnamed event whose data line is text.
func (s *sseWriter) raw(text string) error {
	s.buf = s.buf[:0]
	return s.write([]byte(text))
}

// write appends a data line holding data to the event begun in s.buf, ends the event
// and sends it.
func (s *sseWriter) write(data []byte) error {
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, data...)
	return s.send()
}

// send ends the event in s.buf and writes it; it flushes it at once unless it is held,
// final, or within sseCoalesce of the last flush, when a timer flushes it at the end
// of that time with whatever else was written by then.
func (s *sseWriter) send() error {
	s.buf = append(s.buf, "\n\n"...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flushErr != nil {
		return s.flushErr
	}
	now := time.Now()
	s.last = now
	if _, err := s.w.Write(s.buf); err != nil || s.hold || s.final || s.pending {
		return err
	}
	if since := now.Sub(s.flushed); since < s.coalesced {
		s.pending = true
		if s.flusher == nil {
			s.flusher = time.AfterFunc(s.coalesced-since, s.flushLater)
		} else {
			s.flusher.Reset(s.coalesced - since)
		}
		return nil
	}
	s.flushed = now
	return s.rc.Flush()
}
