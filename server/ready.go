package server

import (
	"errors"
	"net/http"
	"strings"

	"genai"
)

// NotReady is the error Options.Ready returns to say which dependencies are not ready,
// such as "provider" or "store". /readyz shows only their names; Err, the detail (which
// may hold URLs, paths and upstream messages), goes to the log.
type NotReady struct {
	Failing []string
	Err     error
}

// Error implements error.
func (e *NotReady) Error() string {
	msg := "not ready: " + strings.Join(e.Failing, ", ")
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns Err.
func (e *NotReady) Unwrap() error { return e.Err }

// readyBody is the answer of /readyz: whether the server is ready and, when it is not,
// the names of the dependencies that are not, never their errors. A 503 also carries
// the error object every error answer has, naming the same dependencies.
type readyBody struct {
	Status  string       `json:"status"` // "ready" or "not_ready"
	Failing []string     `json:"failing,omitempty"`
	Error   *errorDetail `json:"error,omitempty"`
}

// notReadyBody is the answer of /readyz for err, logging its detail.
func (s *Server) notReadyBody(r *http.Request, err error) readyBody {
	failing := []string{"dependency"}
	var nr *NotReady
	if errors.As(err, &nr) && len(nr.Failing) > 0 {
		failing = nr.Failing
	}
	s.log.DebugContext(r.Context(), "not ready", "path", r.URL.Path, "failing", failing, "err", err)
	return readyBody{Status: "not_ready", Failing: failing,
		Error: &errorDetail{Code: genai.EUNAVAILABLE, Message: "not ready: " + strings.Join(failing, ", ")}}
}
