package server

import (
	"net/http"
	"strings"

	"genai"
)

// mcp serves /mcp with the MCP handler of Options.MCP. A POST, like every JSON route,
// takes application/json only; and the errors the SDK writes itself as plain text (an
// unknown session, another key's session, a missing header) are answered in the API's
// JSON error shape, with the SDK's status.
func (s *Server) mcp(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if err := contentTypeIs(r, "application/json"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// The SDK sets the other stream headers of its SSE answers; not this one, without
	// which nginx would buffer them.
	w.Header().Set("X-Accel-Buffering", "no")
	ew := &mcpErrors{ResponseWriter: w}
	s.opts.MCP.ServeHTTP(ew, r)
	if ew.status == 0 {
		return
	}
	code, msg := genai.EINVALID, "mcp: "+strings.TrimSpace(ew.text.String())
	switch ew.status {
	case http.StatusUnauthorized:
		code = genai.EUNAUTH
	case http.StatusForbidden:
		code = genai.EFORBIDDEN
	case http.StatusNotFound:
		code = genai.ENOTFOUND
	case http.StatusRequestEntityTooLarge:
		code = genai.ETOOLARGE
	case http.StatusUnsupportedMediaType:
		code = genai.EMEDIATYPE
	}
	if ew.status >= 500 {
		s.log.ErrorContext(r.Context(), "mcp: the handler failed", "status", ew.status, "err", msg)
		code, msg = genai.EINTERNAL, "internal error"
	}
	writeJSON(w, ew.status, s.errorPayload(r, errorDetail{Code: code, Message: msg, RequestID: RequestID(r.Context())}))
}

// mcpErrors holds back a plain-text error answer of the SDK (http.Error's), for mcp to
// answer as JSON; every other answer, event streams included, passes through.
type mcpErrors struct {
	http.ResponseWriter
	sent   bool // an answer has begun: what follows is its own
	status int
	text   strings.Builder
}

func (e *mcpErrors) WriteHeader(status int) {
	if !e.sent && e.status == 0 && status >= 400 && strings.HasPrefix(e.Header().Get("Content-Type"), "text/plain") {
		e.status = status
		return
	}
	e.sent = true
	e.ResponseWriter.WriteHeader(status)
}

func (e *mcpErrors) Write(b []byte) (int, error) {
	if e.status != 0 {
		if e.text.Len() < 1024 {
			e.text.Write(b)
		}
		return len(b), nil
	}
	e.sent = true
	return e.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, to flush event streams.
func (e *mcpErrors) Unwrap() http.ResponseWriter { return e.ResponseWriter }
