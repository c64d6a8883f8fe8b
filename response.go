package genai

import (
	"context"
	"encoding/json"
	"time"
)

// A stored response is an answer of the Responses API (POST /v1/responses) kept so that
// a later request can continue from it by its id (previous_response_id) and a client can
// read it again or delete it. It holds the whole conversation through its answer, so a
// continuation never needs the responses before it: deleting one deletes only it.

// Limits on stored responses, so that one conversation cannot grow without bound.
const (
	// MaxStoredResponseBytes bounds the conversation a stored response holds before its
	// answer, as StoredSize counts it: a request that would store more is refused before
	// the model is called. A whole stored response (the answer, and the response object
	// with its echo of the request's tools) is at most twice as large.
	MaxStoredResponseBytes = 16 << 20
	// MaxResponseChain bounds the responses of one chain of previous_response_id: the
	// response that continues the MaxResponseChain-th is refused.
	MaxResponseChain = 100
	// ResponseRetention is how long a stored response is kept, as OpenAI keeps them: an
	// older one is gone (ENOTFOUND) and its space reclaimed.
	ResponseRetention = 30 * 24 * time.Hour
)

// StoredResponse is a response of the Responses API as a ResponseStore keeps it.
type StoredResponse struct {
	// ID is the response's id ("resp_…"); Owner the API key's identity that made it
	// (see AnswerRequest.Owner): only it can read, continue or delete the response.
	ID        string
	Owner     string
	CreatedAt time.Time
	// System is the text of the system and developer messages of the inputs of the
	// chain; the instructions of a request are not carried to the next, as OpenAI
	// documents.
	System string
	// Messages are the conversation through this response's answer, the answer last.
	Messages []Message
	// Depth is the number of responses in the chain that ends here, from 1.
	Depth int
	// Body is the response object as the API answered it, returned again by a read.
	Body json.RawMessage
}

// StoredSize returns the bytes a conversation takes in a stored response: its text,
// images, tool inputs and tool results.
func StoredSize(system string, messages []Message) int {
	n := len(system)
	var blocks func([]ContentBlock)
	blocks = func(bs []ContentBlock) {
		for _, b := range bs {
			n += len(b.Text)
			if b.Image != nil {
				n += len(b.Image.Data)
			}
			if b.ToolUse != nil {
				n += len(b.ToolUse.ID) + len(b.ToolUse.Name) + len(b.ToolUse.Input)
			}
			if b.ToolResult != nil {
				n += len(b.ToolResult.ToolUseID)
				blocks(b.ToolResult.Content)
			}
		}
	}
	for _, m := range messages {
		blocks(m.Content)
	}
	return n
}

// Validate checks what a store relies on: an id, a conversation and body within twice
// MaxStoredResponseBytes and a depth from 1 to MaxResponseChain.
func (r *StoredResponse) Validate() error {
	switch {
	case r.ID == "":
		return Errorf(EINVALID, "stored response: id is required")
	case len(r.Messages) == 0:
		return Errorf(EINVALID, "stored response %s: no conversation", r.ID)
	case r.Depth < 1 || r.Depth > MaxResponseChain:
		return Errorf(EINVALID, "stored response %s: depth %d, must be from 1 to %d", r.ID, r.Depth, MaxResponseChain)
	}
	if n := StoredSize(r.System, r.Messages) + len(r.Body); n > 2*MaxStoredResponseBytes {
		return Errorf(ETOOLARGE, "stored response %s: %d bytes, over the limit of %d", r.ID, n, 2*MaxStoredResponseBytes)
	}
	return nil
}

// ResponseStore keeps responses of the Responses API for ResponseRetention after their
// CreatedAt. A response of another owner is answered as one that does not exist
// (ENOTFOUND), so that a key learns nothing of another's responses.
type ResponseStore interface {
	// PutResponse stores r (checked by Validate); when it returns nil, r survives a
	// crash.
	PutResponse(ctx context.Context, r *StoredResponse) error
	// GetResponse returns the response id of owner, or ENOTFOUND.
	GetResponse(ctx context.Context, id, owner string) (*StoredResponse, error)
	// DeleteResponse deletes the response id of owner, or returns ENOTFOUND.
	DeleteResponse(ctx context.Context, id, owner string) error
}

// DecodeStrict decodes the JSON object raw at path into v as the chat request's blocks
// are decoded: a type error names its field ("input[0].content: expected a string, got
// JSON number") and a field v does not have is refused by name. It serves the other
// wire formats read into the domain, such as the Responses API's input items.
func DecodeStrict(raw json.RawMessage, path string, v any) error { return decodeStrict(raw, path, v) }
