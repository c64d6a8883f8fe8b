package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opensearch-project/opensearch-go/v4"

	"genai"
)

// apiError is what an error response says: OpenSearch's {"error": {"type", "reason"}},
// {"error": "…"}, or the AWS front door's {"message": "…"}.
type apiError struct {
	Status int
	Type   string
	Reason string
}

// parseAPIError reads the error in a response of status 400 or more.
func parseAPIError(resp *opensearch.Response) apiError {
	e := apiError{Status: resp.StatusCode}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(body)) // readable again
	}
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Result  string          `json:"result"`
		Found   *bool           `json:"found"`
	}
	if json.Unmarshal(body, &v) == nil {
		var obj struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		}
		var str string
		switch {
		case json.Unmarshal(v.Error, &obj) == nil && (obj.Type != "" || obj.Reason != ""):
			e.Type, e.Reason = obj.Type, obj.Reason
		case json.Unmarshal(v.Error, &str) == nil && str != "":
			e.Reason = str
		case v.Message != "":
			e.Reason = v.Message
		case v.Result != "":
			e.Type = v.Result // a document API's "not_found"
		case v.Found != nil && !*v.Found:
			e.Type = "not_found"
		}
	} else if s := strings.TrimSpace(string(body)); s != "" {
		e.Reason = truncate(s, 300)
	}
	if e.Type == "" {
		e.Type = strings.ToLower(strings.ReplaceAll(http.StatusText(e.Status), " ", "_"))
	}
	return e
}

// errorType returns the OpenSearch error type of a failed response, or "".
func errorType(resp *opensearch.Response) string {
	if resp == nil || resp.StatusCode < 400 {
		return ""
	}
	return parseAPIError(resp).Type
}

// fail turns the outcome of a failed call into a genai error that names the
// operation, the index and what OpenSearch said.
func (s *Store) fail(op string, resp *opensearch.Response, err error) error {
	if resp != nil && resp.StatusCode >= 400 {
		e := parseAPIError(resp)
		msg := fmt.Sprintf("opensearch: %s, index %q: %d %s", op, s.index, e.Status, e.Type)
		if e.Reason != "" {
			msg += ": " + e.Reason
		}
		ge := &genai.Error{Code: statusCode(e.Status), Message: msg}
		switch {
		case e.Type == "index_not_found_exception":
			ge.Code = genai.EUNAVAILABLE
			ge.Message += " (the index was deleted while the server ran; restart it to create the index again)"
		}
		switch e.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			ge.Message += " (check the credentials: GENAI_OPENSEARCH_AUTH, the AWS role and the collection's data access policy)"
		case http.StatusTooManyRequests:
			ge.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
		}
		return ge
	}
	if err == nil {
		return genai.Errorf(genai.EUPSTREAM, "opensearch: %s, index %q: unexpected response", op, s.index)
	}
	return s.transportError(op, err)
}

// transportError maps an error that got no response.
func (s *Store) transportError(op string, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("opensearch: %s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return &genai.Error{Code: genai.ETIMEOUT, Message: fmt.Sprintf("opensearch: %s at %s: timed out", op, s.url)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return genai.Errorf(genai.EUNAVAILABLE, "opensearch: %s: cannot connect to %s: connection refused (is the cluster running, and is GENAI_OPENSEARCH_URL right?)", op, s.url)
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	if errors.As(err, &dnsErr) || errors.As(err, &opErr) {
		return genai.Errorf(genai.EUNAVAILABLE, "opensearch: %s: cannot reach %s: %v", op, s.url, err)
	}
	return genai.Errorf(genai.EUNAVAILABLE, "opensearch: %s at %s: %v", op, s.url, err)
}

// statusCode maps an HTTP status from OpenSearch to a genai error code.
func statusCode(status int) string {
	switch {
	case status == http.StatusBadRequest, status == http.StatusConflict:
		return genai.EINVALID
	case status == http.StatusNotFound:
		return genai.ENOTFOUND
	case status == http.StatusRequestEntityTooLarge:
		return genai.ETOOLARGE
	case status == http.StatusTooManyRequests:
		return genai.ETHROTTLED
	case status == http.StatusServiceUnavailable:
		return genai.EUNAVAILABLE
	case status == http.StatusGatewayTimeout:
		return genai.ETIMEOUT
	}
	return genai.EUPSTREAM // 401 and 403 too: our credentials, not the client's, were refused
}

func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
