package bedrock

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ConverseStream's events are read here rather than through the SDK's event stream,
// which costs three goroutines and two channel hand-offs per event: at a thousand open
// streams, most of the server's memory and a good part of its time to first token. The SDK still makes the call, with its endpoint
// rules, signing, retries and error decoding; a documented interceptor takes the
// response body once the SDK has accepted the response, and the frames are decoded with
// the SDK's own eventstream package in the caller's goroutine.

// bodyTaker is an interceptor, registered for one call, that takes a successful
// response's body before the SDK's event stream reader gets it.
type bodyTaker struct{ body io.ReadCloser }

func (t *bodyTaker) register(o *bedrockruntime.Options) {
	o.Interceptors.AddAfterDeserialization(t)
}

// AfterDeserialization runs after the SDK has turned an error response into an error,
// and before it wraps the body in its event stream reader, which then reads an empty
// body and ends at once.
func (t *bodyTaker) AfterDeserialization(_ context.Context, in *smithyhttp.InterceptorContext) error {
	if resp := in.Response; resp != nil && resp.StatusCode/100 == 2 && resp.Body != nil {
		if t.body != nil {
			t.body.Close() // an earlier attempt's; only the last response is read
		}
		t.body, resp.Body = resp.Body, http.NoBody
	}
	return nil
}

// streamEvent is any event of ConverseStream's output, with the fields we read.
type streamEvent struct {
	kind              string // the :event-type header
	ContentBlockIndex int    `json:"contentBlockIndex"`
	Start             struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse"`
	} `json:"start"`
	Delta struct {
		Text    string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			Text            string `json:"text"`
			Signature       string `json:"signature"`
			RedactedContent []byte `json:"redactedContent"`
		} `json:"reasoningContent"`
	} `json:"delta"`
	StopReason string `json:"stopReason"`
	Usage      struct {
		InputTokens           int `json:"inputTokens"`
		OutputTokens          int `json:"outputTokens"`
		CacheReadInputTokens  int `json:"cacheReadInputTokens"`
		CacheWriteInputTokens int `json:"cacheWriteInputTokens"`
	} `json:"usage"`
	Trace json.RawMessage `json:"trace"` // of metadata: a guardrail's trace, when asked for
}

// eventReader decodes the AWS event-stream frames of a ConverseStream response.
type eventReader struct {
	r       *bufio.Reader
	dec     *eventstream.Decoder
	payload []byte
}

// eventReadBuffer holds several token frames (about 100 bytes each) so that frames
// that arrived together are decoded without a read each, and can be merged.
const eventReadBuffer = 1024

func newEventReader(r io.Reader) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, eventReadBuffer), dec: eventstream.NewDecoder()}
}

// ready reports whether a whole frame is already buffered, so next would not wait.
func (e *eventReader) ready() bool {
	n := e.r.Buffered()
	if n < 4 {
		return false
	}
	head, _ := e.r.Peek(4)
	return int(binary.BigEndian.Uint32(head)) <= n // a frame starts with its total length
}

// next returns the next event, io.EOF at the end of the stream, a smithy.APIError for
// an exception or error message (so it maps like the SDK's own errors), or the read
// error.
func (e *eventReader) next() (*streamEvent, error) {
	msg, err := e.dec.Decode(e.r, e.payload[:0])
	if err != nil {
		return nil, err
	}
	e.payload = msg.Payload
	header := func(name string) string {
		if v := msg.Headers.Get(name); v != nil {
			return v.String()
		}
		return ""
	}
	switch header(":message-type") {
	case "event":
		ev := &streamEvent{kind: header(":event-type")}
		if err := json.Unmarshal(msg.Payload, ev); err != nil {
			return nil, fmt.Errorf("decode %s event: %w", ev.kind, err)
		}
		return ev, nil
	case "exception":
		var body struct {
			Message string `json:"message"`
		}
		json.Unmarshal(msg.Payload, &body)
		return nil, &smithy.GenericAPIError{Code: header(":exception-type"), Message: body.Message}
	case "error":
		return nil, &smithy.GenericAPIError{Code: header(":error-code"), Message: header(":error-message")}
	default:
		return nil, fmt.Errorf("event-stream message of unknown type %q", header(":message-type"))
	}
}
