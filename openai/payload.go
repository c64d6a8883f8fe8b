package openai

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/openai/openai-go/v3/option"

	"genai/internal/httpbody"
)

// releasePayload is a middleware that lets go of a request's body once it has been
// sent and answered. net/http keeps a request, with its body and the function that
// rewinds it (both holding the whole JSON), for as long as the response streams: a
// thousand long streams of long conversations, images included, would hold every
// conversation as many times. The body is dropped once read to its end or closed, and
// the rewind once the response has come, when no retry of this attempt can follow
// (openai-go retries from its own copy).
func releasePayload(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return next(req)
	}
	h := &heldPayload{rewind: req.GetBody}
	req.Body = httpbody.NewOnce(req.Body)
	if req.GetBody != nil {
		req.GetBody = h.getBody
	}
	res, err := next(req)
	h.release()
	return res, err
}

// heldPayload rewinds a request's body until release.
type heldPayload struct {
	mu     sync.Mutex
	rewind func() (io.ReadCloser, error)
}

var errPayloadReleased = errors.New("openai: the request body was released after the response came")

func (h *heldPayload) getBody() (io.ReadCloser, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rewind == nil {
		return nil, errPayloadReleased
	}
	body, err := h.rewind()
	if err != nil {
		return nil, err
	}
	return httpbody.NewOnce(body), nil
}

func (h *heldPayload) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rewind = nil
}
