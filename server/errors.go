package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"genai"
)

// statusOf maps each application error code to its HTTP status: the one table of API.md.
var statusOf = map[string]int{
	genai.EINVALID:     http.StatusBadRequest,
	genai.EUNAUTH:      http.StatusUnauthorized,
	genai.ENOTFOUND:    http.StatusNotFound,
	genai.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	genai.EMEDIATYPE:   http.StatusUnsupportedMediaType,
	genai.ERATELIMIT:   http.StatusTooManyRequests,
	genai.ETHROTTLED:   http.StatusTooManyRequests,
	genai.EUPSTREAM:    http.StatusBadGateway,
	genai.ENOPROVIDER:  http.StatusServiceUnavailable,
	genai.EUNAVAILABLE: http.StatusServiceUnavailable,
	genai.ETIMEOUT:     http.StatusGatewayTimeout,
	genai.EFULL:        http.StatusInsufficientStorage,
	genai.EINTERNAL:    http.StatusInternalServerError,
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// normalize turns context errors into application errors; everything else passes.
func normalize(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return genai.Errorf(genai.ETIMEOUT, "the request ran out of time")
	case errors.Is(err, context.Canceled):
		return genai.Errorf(genai.EUNAVAILABLE, "the request was cancelled")
	}
	return err
}

// errorDetailOf returns the client-facing code and message of err, logging the details
// of internal errors, which are never shown.
func (s *Server) errorDetailOf(r *http.Request, err error) errorDetail {
	err = normalize(err)
	code := genai.ErrorCode(err)
	if code == genai.EINTERNAL {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	return errorDetail{Code: code, Message: genai.ErrorMessage(err)}
}

// writeError answers err as the JSON error of API.md with the status of its code.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	d := s.errorDetailOf(r, err)
	status, ok := statusOf[d.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if ra := genai.ErrorRetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
	} else if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: d})
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
