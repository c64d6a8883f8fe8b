package bedrock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"genai"
)

// throttledRetryAfter is the RetryAfter of ETHROTTLED when Bedrock sent no hint: the
// SDK has already retried with backoff, so a client should wait a little longer.
const throttledRetryAfter = 5 * time.Second

// upstreamError maps an error of the SDK to the application's: the context's own error,
// wrapped, when ctx ended; ETHROTTLED for throttling that outlasted the retries;
// EINVALID for a request Bedrock rejected; EUPSTREAM, naming Bedrock's error code, for
// anything else. target names what was called, such as "model X" or "knowledge base Y".
// The messages are safe to show to a client.
func upstreamError(ctx context.Context, op, target string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("bedrock: %s for %s: %w", op, target, ctxErr)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("bedrock: %s for %s: %w", op, target, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
		switch {
		case strings.EqualFold(code, "ThrottlingException") || statusCode(err) == http.StatusTooManyRequests:
			return &genai.Error{
				Code:       genai.ETHROTTLED,
				Message:    fmt.Sprintf("Bedrock is throttling requests for %s (%s: %s); try again later", target, code, msg),
				RetryAfter: retryAfter(err),
			}
		case strings.EqualFold(code, "ValidationException"):
			return genai.Errorf(genai.EINVALID, "Bedrock rejected the request for %s: %s", target, msg)
		default:
			return genai.Errorf(genai.EUPSTREAM, "Bedrock %s for %s failed with %s: %s", op, target, code, msg)
		}
	}
	return genai.Errorf(genai.EUPSTREAM, "Bedrock %s for %s failed: %v", op, target, err)
}

// statusCode returns the HTTP status of the response an error came with, or 0.
func statusCode(err error) int {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// retryAfter reads Bedrock's hint (x-amz-retry-after in milliseconds, or Retry-After in
// seconds) from the response an error came with, or returns throttledRetryAfter.
func retryAfter(err error) time.Duration {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil {
		h := respErr.Response.Header
		if ms, perr := strconv.ParseInt(h.Get("X-Amz-Retry-After"), 10, 64); perr == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
		if s, perr := strconv.ParseInt(h.Get("Retry-After"), 10, 64); perr == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
	}
	return throttledRetryAfter
}
