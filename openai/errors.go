package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"

	"genai"
)

// DefaultRetryAfter is the RetryAfter of an ETHROTTLED error when the endpoint's 429 did
// not say how long to wait.
const DefaultRetryAfter = 5 * time.Second

// maxMessage bounds the upstream text quoted in an error message.
const maxMessage = 500

// callError describes a call that got no usable answer. res is the last HTTP response,
// nil when none arrived. When ctx has ended, that is the error, wrapped.
func (m *ChatModel) callError(ctx context.Context, op string, err error, res *http.Response) error {
	if ctx.Err() != nil {
		return fmt.Errorf("openai: %s: %w", op, ctx.Err())
	}
	var apiErr *sdk.Error
	if errors.As(err, &apiErr) && apiErr.Response != nil {
		res = apiErr.Response
	}
	if res == nil {
		return genai.Errorf(genai.EUPSTREAM, "cannot reach %s: %v", m.baseURL, transportCause(err))
	}
	status := res.StatusCode
	if status < 400 {
		return genai.Errorf(genai.EUPSTREAM, "unreadable answer from %s: %v", m.baseURL, err)
	}
	var msg string
	if apiErr != nil {
		msg = apiErr.Message
	}
	if msg == "" {
		msg = bodyMessage(res)
	}
	if msg == "" {
		msg = "no error message"
	}
	msg = clip(msg)
	statusText := strconv.Itoa(status) + " " + http.StatusText(status)

	switch status {
	case http.StatusTooManyRequests:
		return &genai.Error{
			Code:       genai.ETHROTTLED,
			Message:    fmt.Sprintf("the model endpoint is throttling requests and retries did not help (HTTP %s): %s", statusText, msg),
			RetryAfter: retryAfter(res.Header),
		}
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return genai.Errorf(genai.EINVALID, "the model endpoint rejected the request: %s", msg)
	case http.StatusRequestEntityTooLarge:
		return genai.Errorf(genai.ETOOLARGE, "the model endpoint says the request is too large: %s", msg)
	case http.StatusUnauthorized, http.StatusForbidden:
		hint := "check the configured API key"
		if !m.hasAPIKey {
			hint = "it may need an API key, and none is configured"
		}
		return genai.Errorf(genai.EUPSTREAM, "the model endpoint %s refused our credentials (HTTP %s): %s; %s", m.baseURL, statusText, msg, hint)
	case http.StatusNotFound:
		return genai.Errorf(genai.EUPSTREAM, "the model endpoint %s answered HTTP %s: %s; check the base URL (it usually ends in /v1) and the model name", m.baseURL, statusText, msg)
	}
	return genai.Errorf(genai.EUPSTREAM, "the model endpoint %s failed (HTTP %s): %s", m.baseURL, statusText, msg)
}

// streamError describes a stream that broke after it began, text bytes into the answer.
func (m *ChatModel) streamError(ctx context.Context, err error, text int) error {
	if ctx.Err() != nil {
		return fmt.Errorf("openai: stream: %w", ctx.Err())
	}
	var failure *streamFailure
	if errors.As(err, &failure) {
		return genai.Errorf(genai.EUPSTREAM, "the model endpoint %s reported an error after %d bytes of text: %s", m.baseURL, text, clip(failure.Error()))
	}
	return genai.Errorf(genai.EUPSTREAM, "the stream from %s broke after %d bytes of text: %v", m.baseURL, text, err)
}

// transportCause drops the *url.Error wrapper, whose text repeats the whole request URL.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// bodyMessage reads the message of an error body the client library could not parse,
// such as Ollama's native {"error": "…"} or a proxy's plain text.
func bodyMessage(res *http.Response) string {
	if res.Body == nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if msg := errorObjectMessage(data); msg != "" {
		return msg
	}
	return strings.TrimSpace(string(data))
}

// errorObjectMessage returns the message of {"error": {"message": …}}, {"error": "…"}
// or {"message": "…"}, and "" for anything else.
func errorObjectMessage(data []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	var obj struct {
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(body.Error, &obj) == nil && obj.Message != "":
		return obj.Message
	case json.Unmarshal(body.Error, &s) == nil && s != "":
		return s
	}
	return body.Message
}

// retryAfter reads how long a 429 asked us to wait: Retry-After-Ms (OpenAI's), then
// Retry-After in seconds or as an HTTP date, else DefaultRetryAfter.
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 && ms < 1e9 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 1e6 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return DefaultRetryAfter
}

// clip shortens s to maxMessage bytes, on a rune boundary.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
