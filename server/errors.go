package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"genai"
)

// statusOf maps each application error code to its HTTP status: the one table of API.md.
var statusOf = map[string]int{
	genai.EINVALID:     http.StatusBadRequest,
	genai.EUNAUTH:      http.StatusUnauthorized,
	genai.EFORBIDDEN:   http.StatusForbidden,
	genai.ENOTFOUND:    http.StatusNotFound,
	genai.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	genai.EMEDIATYPE:   http.StatusUnsupportedMediaType,
	genai.ERATELIMIT:   http.StatusTooManyRequests,
	genai.ETHROTTLED:   http.StatusTooManyRequests,
	genai.EUPSTREAM:    http.StatusBadGateway,
	genai.EBADANSWER:   http.StatusBadGateway,
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
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`
}

// ErrShuttingDown is the cause with which a server that is shutting down ends the
// requests still open at its deadline (see http.Server.BaseContext and
// context.WithCancelCause): a stream then ends with an error event of this code and
// message, in its surface's shape.
var ErrShuttingDown = genai.Errorf(genai.EUNAVAILABLE, "the server is shutting down")

// fixedMessages are what a client is told of errors that come from beyond this server:
// an upstream's own text can hold account ids, internal URLs or policy names, so it is
// logged with the request id and the client gets this message and the id.
var fixedMessages = map[string]string{
	genai.EUPSTREAM:  "the model provider or a service behind this server failed",
	genai.ETHROTTLED: "the model provider is throttling requests; retry later",
	genai.EINTERNAL:  "internal error",
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

// errorDetailOf returns the client-facing code, message and request id of err. The
// detail of an internal or upstream error is logged with the request id and never shown.
func (s *Server) errorDetailOf(r *http.Request, err error) errorDetail {
	// A request ended on purpose (ErrShuttingDown) says why, not that it was cancelled.
	var cause *genai.Error
	if r.Context().Err() != nil && errors.As(context.Cause(r.Context()), &cause) {
		err = cause
	}
	err = normalize(err)
	code := genai.ErrorCode(err)
	d := errorDetail{Code: code, Message: genai.ErrorMessage(err), RequestID: RequestID(r.Context())}
	if fixed, ok := fixedMessages[code]; ok {
		level := slog.LevelWarn
		if code == genai.EINTERNAL {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
		d.Message = fixed + " (request id " + d.RequestID + ")"
	}
	return d
}

// writeError answers err as the JSON error of API.md with the status of its code.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	d := s.errorDetailOf(r, err)
	writeJSON(w, errorStatus(w, err, d.Code), s.errorPayload(r, d))
}

// errorStatus returns the status of an error of code, and sets its Retry-After: the
// error's own hint, or one second for any other 429.
func errorStatus(w http.ResponseWriter, err error, code string) int {
	status := statusOfCode(code)
	if ra := genai.ErrorRetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
	} else if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	return status
}

// errorPayload is the error object of r's surface: Anthropic's on /v1/messages, OpenAI's
// on the rest of /v1/*, each read by that API's official clients, and API.md's
// everywhere else.
func (s *Server) errorPayload(r *http.Request, d errorDetail) any {
	switch {
	case isAnthropicPath(r.URL.Path):
		return anthropicErrorBody{Type: "error", Error: anthropicError{Type: anthropicErrorType(d.Code), Message: d.Message, Code: d.Code, RequestID: d.RequestID}}
	case !strings.HasPrefix(r.URL.Path, "/v1/"):
		return errorBody{Error: d}
	}
	return oaiErrorBody{Error: oaiError{Message: d.Message, Type: oaiErrorType(d.Code), Param: paramOf(d.Message), Code: d.Code, RequestID: d.RequestID}}
}

// oaiErrorBody is OpenAI's error shape: {"error":{"message","type","param","code"}}.
type oaiErrorBody struct {
	Error oaiError `json:"error"`
}

type oaiError struct {
	Message   string  `json:"message"`
	Type      string  `json:"type"`
	Param     *string `json:"param"`
	Code      string  `json:"code"`
	RequestID string  `json:"request_id,omitempty"`
}

// oaiErrorType maps a code to the type of OpenAI's error object.
func oaiErrorType(code string) string {
	switch code {
	case genai.EINVALID, genai.ETOOLARGE, genai.EMEDIATYPE:
		return "invalid_request_error"
	case genai.EUNAUTH:
		return "authentication_error"
	case genai.EFORBIDDEN:
		return "permission_error"
	case genai.ENOTFOUND:
		return "not_found_error"
	case genai.ERATELIMIT, genai.ETHROTTLED:
		return "rate_limit_error"
	}
	return "api_error"
}

// fieldPrefix is the "field: rule" form of this server's messages.
var fieldPrefix = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*): `)

// paramOf returns the field a message names, as OpenAI's "param", or nil.
func paramOf(msg string) *string {
	if m := fieldPrefix.FindStringSubmatch(msg); m != nil && m[1] != "body" {
		return &m[1]
	}
	return nil
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
