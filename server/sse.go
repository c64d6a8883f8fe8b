package server

import (
	"encoding/json"
	"net/http"
)

// sseWriter writes Server-Sent Events, one JSON object per data line, flushing each
// event at once so tokens reach the client as they are made.
type sseWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	buf  []byte
	hold bool // write without flushing
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell proxies such as nginx not to buffer the stream
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

// event writes one event and flushes it; an error means the client is gone.
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

// dataJoined writes one unnamed event whose data line is parts joined: JSON that the
// caller assembled from pieces encoded once, for events too frequent to marshal whole.
func (s *sseWriter) dataJoined(parts ...[]byte) error {
	s.buf = append(s.buf[:0], "data: "...)
	for _, p := range parts {
		s.buf = append(s.buf, p...)
	}
	return s.send()
}

// raw writes one unnamed event whose data line is text.
func (s *sseWriter) raw(text string) error {
	s.buf = s.buf[:0]
	return s.write([]byte(text))
}

// write appends a data line holding data to the event begun in s.buf, ends the event,
// writes it and flushes.
func (s *sseWriter) write(data []byte) error {
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, data...)
	return s.send()
}

// send ends the event in s.buf, writes it and flushes it unless held.
func (s *sseWriter) send() error {
	s.buf = append(s.buf, "\n\n"...)
	if _, err := s.w.Write(s.buf); err != nil || s.hold {
		return err
	}
	return s.rc.Flush()
}
