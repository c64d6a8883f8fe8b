package genai

import (
	"context"
	"errors"
)

// TokenCounter is implemented by a ChatModel whose provider counts a request's input
// tokens with the model's own tokenizer, as the model would bill them. It is optional:
// a caller type-asserts it and estimates when it is missing.
type TokenCounter interface {
	// CountTokens returns the input tokens req would take: its system prompt,
	// messages and tools. It fails with an error wrapping ErrCountUnsupported when
	// the provider does not count tokens for req's model.
	CountTokens(ctx context.Context, req *ChatRequest) (int, error)
}

// ErrCountUnsupported is wrapped by a TokenCounter's error when the provider does not
// count tokens for the model asked, so that the caller falls back to an estimate rather
// than failing.
var ErrCountUnsupported = errors.New("the provider does not count tokens for this model")
