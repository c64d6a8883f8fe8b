package openai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"genai"
)

// A streamed answer's events are read here rather than through openai-go's
// ssestream.Stream, which decodes every chunk into the generated ChatCompletionChunk:
// dozens of fields, each with its JSON metadata, through a reflective decoder, for the
// few we read. At a thousand streams that was most of the relay's CPU time. openai-go
// still makes the call, with its request encoding, retries and error decoding; the
// body of a successful response is read with this small Server-Sent Events reader (no
// library for SSE beats forty lines here) and each chunk's fields are read with gjson.

// streamChunk is one chat.completion.chunk, with the fields we read.
type streamChunk struct {
	choices []streamChoice
	usage   *genai.Usage // when the chunk has one (the last, as we ask for it)
	// failed is set when the server reports a failure in the stream, as OpenAI does
	// with {"error": {...}}: any "error" key, even null, as openai-go has it.
	failed bool
}

// streamChoice is a choice of a chunk.
type streamChoice struct {
	index        int64
	content      string
	finishReason string
	toolCalls    []toolCallPiece // the pieces of delta.tool_calls
}

// decodeChunk reads a chunk's fields with gjson, which finds them in place. It was a
// third of the relay's CPU time with encoding/json, which checks the whole text and
// then decodes it by reflection. Fields of unexpected types read as zero, as openai-go
// leaves them.
//
// The chunk is read in place, without the copy gjson.ParseBytes makes of it: the
// strings kept are cloned out of data (text), which the reader reuses, so that a chunk
// costs the allocation of its text rather than of its whole JSON, and no text keeps
// its chunk's JSON alive.
func decodeChunk(data []byte) (*streamChunk, error) {
	if !gjson.ValidBytes(data) {
		return nil, fmt.Errorf("decode a chunk of the stream: not valid JSON: %s", clip(string(data)))
	}
	obj := gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data))) // valid while data is
	if !obj.IsObject() {
		return nil, fmt.Errorf("decode a chunk of the stream: not a JSON object: %s", clip(string(data)))
	}
	c := new(streamChunk)
	obj.ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "choices":
			value.ForEach(func(_, choice gjson.Result) bool {
				delta := choice.Get("delta")
				c.choices = append(c.choices, streamChoice{
					index:        choice.Get("index").Int(),
					content:      own(delta.Get("content")),
					finishReason: own(choice.Get("finish_reason")),
					toolCalls:    toolCallPieces(delta.Get("tool_calls")),
				})
				return true
			})
		case "usage":
			if value.IsObject() {
				c.usage = &genai.Usage{InputTokens: int(value.Get("prompt_tokens").Int()), OutputTokens: int(value.Get("completion_tokens").Int())}
			}
		case "error":
			c.failed = true
		}
		return true
	})
	return c, nil
}

// toolCallPieces reads a delta's tool_calls: [{"index":0,"id":…,"type":"function",
// "function":{"name":…,"arguments":…}}, …], ids and names in first pieces only.
func toolCallPieces(calls gjson.Result) []toolCallPiece {
	if !calls.IsArray() {
		return nil
	}
	var out []toolCallPiece
	calls.ForEach(func(_, call gjson.Result) bool {
		fn := call.Get("function")
		out = append(out, toolCallPiece{
			index:     call.Get("index").Int(),
			id:        own(call.Get("id")),
			name:      own(fn.Get("name")),
			arguments: own(fn.Get("arguments")),
		})
		return true
	})
	return out
}

// own returns r's string value in memory of its own: gjson's value of a string with
// no escapes is a slice of the text it read, here the reader's buffer.
func own(r gjson.Result) string {
	if r.Type == gjson.String && strings.Contains(r.Raw, `\`) {
		return r.Str // unescaped into a new string
	}
	return strings.Clone(r.String()) // a number's or an object's text is a slice of the buffer too
}

// streamReadBuffer holds several chunks (150 to 250 bytes each) so that chunks that
// arrived together are decoded without a read each, and can be merged. A longer line
// is read in pieces.
const streamReadBuffer = 1024

// maxEventBytes bounds one event, so that an endpoint that never ends a line cannot
// grow our memory without end. It is far above any chunk a model sends.
const maxEventBytes = 16 << 20

// errEventTooLarge is returned for an event of more than maxEventBytes.
var errEventTooLarge = fmt.Errorf("an event of the stream is over %d bytes", maxEventBytes)

// errDone is returned once the stream's "data: [DONE]" has been read.
var errDone = errors.New("done")

// sseReader reads the data of the events of a text/event-stream body, after the
// WHATWG's rules as openai-go applies them: lines end in LF or CRLF, an empty line ends
// an event, the values of its data lines are joined with LF, comments (lines that start
// with ':') and other fields are ignored, and an event left unfinished at the end of
// the body is dropped.
type sseReader struct {
	r    *bufio.Reader
	data []byte // the event being read
	line []byte // a line longer than the buffer, while it is read
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, streamReadBuffer)}
}

// next returns the data of the next event that has any, valid until the next call;
// io.EOF when the body ends, or the read error.
func (s *sseReader) next() ([]byte, error) {
	s.data = s.data[:0]
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			if hasData {
				return s.data[:len(s.data)-1], nil // without the last data line's LF
			}
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		if string(name) != "data" {
			continue // a comment, "event", "id" or "retry": none matters to chat chunks
		}
		value, _ = bytes.CutPrefix(value, []byte(" "))
		if len(s.data)+len(value) >= maxEventBytes {
			return nil, errEventTooLarge
		}
		s.data = append(append(s.data, value...), '\n')
		hasData = true
	}
}

// readLine returns the next line without its line ending, valid until the next read.
func (s *sseReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.line = append(s.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(s.line) >= maxEventBytes {
				return nil, errEventTooLarge
			}
			line, err = s.r.ReadSlice('\n')
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if err != nil {
		return nil, err // at io.EOF, an unfinished line and event are dropped, as openai-go does
	}
	line = line[:len(line)-1]
	line, _ = bytes.CutSuffix(line, []byte("\r"))
	return line, nil
}

// ready reports whether a whole event is already buffered, so that next would not
// wait for the network.
func (s *sseReader) ready() bool {
	buf, _ := s.r.Peek(s.r.Buffered())
	return bytes.Contains(buf, []byte("\n\n")) || bytes.Contains(buf, []byte("\n\r\n"))
}

// chunkReader reads the chunks of a chat completions stream.
type chunkReader struct {
	sse *sseReader
}

// next returns the next chunk; errDone after "data: [DONE]"; io.EOF when the body
// ends without it; a *streamFailure when the server reports an error in the stream; or
// the read or decoding error.
func (c *chunkReader) next() (*streamChunk, error) {
	data, err := c.sse.next()
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte("[DONE]")) {
		return nil, errDone
	}
	chunk, err := decodeChunk(data)
	if err != nil {
		return nil, err
	}
	if chunk.failed {
		return nil, &streamFailure{data: bytes.Clone(data)}
	}
	return chunk, nil
}

// streamFailure is an error event of the stream, such as OpenAI's
// {"error": {"message": …, "type": "server_error"}}.
type streamFailure struct{ data []byte }

func (f *streamFailure) Error() string {
	if msg := errorObjectMessage(f.data); msg != "" {
		return msg
	}
	return "received an error while streaming: " + clip(string(f.data))
}
