// Package genai is the domain of the genai server: the messages, requests and events of
// a chat with a generative model (chat.go, chatjson.go), the notes of the vector
// database (note.go), the documents, chunks and answers of the knowledge base
// (knowledge.go), the interfaces their implementations satisfy (ChatModel, Embedder,
// NoteStore, ChunkStore, KnowledgeBase), and the application error type that every layer
// returns.
//
// The package imports nothing outside the standard library. Implementations live in a
// package per outside dependency (bedrock, openai, sqlite, opensearch) or concern
// (localembed, rag, server, web) and are wired by cmd/genai.
package genai

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each names a kind of failure a client can act on; the HTTP layer maps
// each to one status in a single table.
const (
	EINVALID     = "invalid_request"        // the request breaks a documented rule
	EUNAUTH      = "unauthorized"           // missing or wrong API key
	EFORBIDDEN   = "forbidden"              // refused whoever asks: a foreign Host, a cross-site write
	ENOTFOUND    = "not_found"              // no such route or resource
	ETOOLARGE    = "too_large"              // a body, image or field is over its limit
	EMEDIATYPE   = "unsupported_media_type" // a content type or image format we do not take
	ERATELIMIT   = "rate_limited"           // this server's own limit was hit
	ETHROTTLED   = "throttled"              // the upstream provider throttled us, even after retries
	EUPSTREAM    = "upstream_error"         // the upstream provider failed
	EBADANSWER   = "invalid_answer"         // the model's answer breaks the format the request asked for
	ENOPROVIDER  = "no_provider"            // no model provider is configured
	EUNAVAILABLE = "unavailable"            // a dependency is not ready
	ETIMEOUT     = "timeout"                // the request ran out of time
	EFULL        = "insufficient_storage"   // the disk of the data directory is full: reads work, writes wait for space
	EINTERNAL    = "internal"               // a bug or an unexpected failure; details are logged, not shown
)

// Error is the application error. Its Message is safe to show to a client and names
// what was wrong; RetryAfter, when non-zero, says when a retry may succeed.
type Error struct {
	Code       string
	Message    string
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a generic
// message for any other error so that internal details never reach a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorRetryAfter returns the RetryAfter of the first *Error in err's chain, or zero.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
