package server

import (
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/tidwall/gjson"
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
