package server

import (
	"bufio"
	"context"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai"
)

// The tests of how streams leave the server: a burst of events in one write, a first
// event at once, a held event no later than its coalescing window, and the stream's
// end in the same write as the body's end.

// burstModel answers with its events at once, but when gate is set it waits for gate
// to close before events[at].
type burstModel struct {
	events []genai.Event
	at     int
	gate   chan struct{}
}

func (m *burstModel) Stream(ctx context.Context, _ *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		for i, ev := range m.events {
			if m.gate != nil && i == m.at {
				select {
				case <-m.gate:
				case <-ctx.Done():
					yield(genai.Event{}, ctx.Err())
					return
				}
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

func (m *burstModel) Chat(context.Context, *genai.ChatRequest) (*genai.ChatResponse, error) {
	return nil, genai.Errorf(genai.EINVALID, "burstModel streams only")
}

// tokens returns n text events and a done event.
func tokens(n int) []genai.Event {
	evs := make([]genai.Event, 0, n+1)
	for i := range n {
		evs = append(evs, genai.Event{Text: "tok" + strconv.Itoa(i) + " "})
	}
	return append(evs, genai.Event{Done: true, StopReason: "end_turn", Usage: genai.Usage{InputTokens: 3, OutputTokens: n}})
}

// countingListener counts the connections it accepts and the writes made to them, and
// keeps the last write.
type countingListener struct {
	net.Listener
	conns, writes atomic.Int64

	mu   sync.Mutex
	last []byte
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.conns.Add(1)
		c = &countingConn{c, l}
	}
	return c, err
}

func (l *countingListener) lastWrite() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.last)
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.writes.Add(1)
	c.l.mu.Lock()
	c.l.last = append(c.l.last[:0], p...)
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// withCoalesce sets the coalescing window of the streams the test's servers start.
func withCoalesce(t *testing.T, d time.Duration) {
	old := sseCoalesce
	sseCoalesce = d
	t.Cleanup(func() { sseCoalesce = old })
}

// serveCounting serves model on a listener that counts connections and writes.
func serveCounting(t *testing.T, model genai.ChatModel) (*httptest.Server, *countingListener) {
	t.Helper()
	ts := httptest.NewUnstartedServer(New(Options{Chat: model, Provider: "test", ChatModel: "test-model"}))
	l := &countingListener{Listener: ts.Listener}
	ts.Listener = l
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, l
}

// streamRequest is a streamed chat on an SSE surface, and the stream's end marker.
type streamRequest struct{ path, body, end string }

// streamRequests are a streamed chat on each SSE surface.
var streamRequests = []streamRequest{
	{"/api/chat", `{"messages":[{"role":"user","content":"hi"}]}`, "event: done"},
	{"/v1/chat/completions", `{"model":"test-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "data: [DONE]"},
	{"/v1/messages", `{"model":"test-model","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "event: message_stop"},
	{"/v1/responses", `{"model":"test-model","stream":true,"input":"hi"}`, "event: response.completed"},
}

// A burst of fifty tokens leaves in two writes on every surface, as far as net/http's
// buffers allow: the first token at once (with the headers and the events before it),
// the rest with the body's end. Each token was a write and a flush of its own.
func TestSSEBurstLeavesInTwoWrites(t *testing.T) {
	withCoalesce(t, time.Hour) // no coalesced flush can come before the end
	for _, r := range streamRequests {
		t.Run(strings.TrimPrefix(r.path, "/"), func(t *testing.T) {
			ts, l := serveCounting(t, &burstModel{events: tokens(50)})
			resp, err := http.Post(ts.URL+r.path, "application/json", strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "tok49 ") || !strings.Contains(string(body), r.end) {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			// net/http writes its buffer out whenever it fills (4 KiB, after chunking in
			// pieces of 2 KiB), so a longer body takes a write more per 2 KiB at most.
			if n, most := l.writes.Load(), 2+int64(len(body))/2048; n > most {
				t.Errorf("the stream of 50 tokens (%d bytes) took %d writes, want at most %d", len(body), n, most)
			}
		})
	}
}

// readUntil reads lines from br until one holds want, and fails the test if the stream
// ends or a minute passes first: what it waits for was held back.
func readUntil(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended (%v) before %q came", err, want)
		}
		if strings.Contains(line, want) {
			return
		}
	}
}

// postStream posts a streamed chat and returns its body's reader; the request ends
// with the test, or after a minute, when a held event would otherwise hang it.
func postStream(t *testing.T, url, body string) *bufio.Reader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return bufio.NewReader(resp.Body)
}

// readGated streams r from a model that sends n tokens and its end, but waits before
// token at until the client has read token at-1, and returns the listener once the
// stream has ended. An event held back hangs it, until postStream's minute ends it.
func readGated(t *testing.T, r streamRequest, n, at int) *countingListener {
	t.Helper()
	gate := make(chan struct{})
	ts, l := serveCounting(t, &burstModel{events: tokens(n), at: at, gate: gate})
	br := postStream(t, ts.URL+r.path, r.body)
	readUntil(t, br, "tok"+strconv.Itoa(at-1)+" ")
	close(gate)
	readUntil(t, br, r.end)
	io.Copy(io.Discard, br)
	return l
}

// The first token is flushed at once, however long the window: the model sends the
// second only once the client has read the first.
func TestSSEFirstTokenIsNotHeld(t *testing.T) {
	withCoalesce(t, time.Hour)
	for _, r := range streamRequests {
		t.Run(strings.TrimPrefix(r.path, "/"), func(t *testing.T) { readGated(t, r, 2, 1) })
	}
}

// An event held because it followed a flush closely leaves when its window ends, on
// its own: the model sends nothing more until the client has read it.
func TestSSEHeldEventLeavesAfterTheWindow(t *testing.T) {
	withCoalesce(t, 20*time.Millisecond)
	for _, r := range streamRequests {
		t.Run(strings.TrimPrefix(r.path, "/"), func(t *testing.T) { readGated(t, r, 3, 2) })
	}
}

// The stream's last events leave in the same write as the body's end (the last chunk
// of the chunked encoding), also when they follow a pause: the model ends only once
// the client has read its text (the end is "token" 1), and nothing is coalesced.
func TestSSEEndLeavesWithTheBody(t *testing.T) {
	withCoalesce(t, 0)
	for _, r := range streamRequests {
		t.Run(strings.TrimPrefix(r.path, "/"), func(t *testing.T) {
			l := readGated(t, r, 1, 1)
			if last := l.lastWrite(); !strings.Contains(last, r.end) || !strings.HasSuffix(last, "0\r\n\r\n") {
				t.Errorf("the last write is %q; want the end marker %q and the body's end together", last, r.end)
			}
		})
	}
}

// The official clients stop reading at their stream's end marker and close the body.
// Since that marker leaves with the body's end, they have read the body to its end,
// and their connection is kept for the next request: five streams, one connection.
func TestSDKStreamsKeepTheirConnection(t *testing.T) {
	withCoalesce(t, 0) // every event flushed as it comes, but the last
	ctx := context.Background()
	const streams = 5
	t.Run("openai-go", func(t *testing.T) {
		ts, l := serveCounting(t, &burstModel{events: tokens(20)})
		client := oai.NewClient(option.WithBaseURL(ts.URL+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		for range streams {
			stream := client.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{Model: "test-model",
				Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi")}})
			var acc oai.ChatCompletionAccumulator
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			stream.Close()
			if len(acc.Choices) != 1 || !strings.HasSuffix(acc.Choices[0].Message.Content, "tok19 ") {
				t.Fatalf("answer %+v", acc.Choices)
			}
		}
		if n := l.conns.Load(); n != 1 {
			t.Errorf("%d streams took %d connections, want 1", streams, n)
		}
	})
	t.Run("anthropic-sdk-go", func(t *testing.T) {
		ts, l := serveCounting(t, &burstModel{events: tokens(20)})
		client := anthropic.NewClient(aoption.WithBaseURL(ts.URL), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
		for range streams {
			stream := client.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "test-model", MaxTokens: 100,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
			var msg anthropic.Message
			for stream.Next() {
				if err := msg.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			stream.Close()
			if len(msg.Content) != 1 || !strings.HasSuffix(msg.Content[0].Text, "tok19 ") {
				t.Fatalf("message %+v", msg.Content)
			}
		}
		if n := l.conns.Load(); n != 1 {
			t.Errorf("%d streams took %d connections, want 1", streams, n)
		}
	})
}

// A client gone while an event waits for its coalesced flush is told at its next
// write, and nothing is written after the stream's writer is closed.
func TestSSECoalescedFlushAfterClose(t *testing.T) {
	withCoalesce(t, time.Millisecond)
	var mu sync.Mutex
	w := &flushCounter{mu: &mu}
	sse := (&Server{}).newSSEWriter(w, httptest.NewRequest(http.MethodPost, "/api/chat", nil))
	sse.textEvent(deltaHead, "a", deltaTail) // flushed at once
	sse.textEvent(deltaHead, "b", deltaTail) // held for the window
	sse.close()
	time.Sleep(5 * time.Millisecond) // past the window: the stopped flush must not run
	mu.Lock()
	defer mu.Unlock()
	if w.flushes != 1 {
		t.Errorf("%d flushes, want 1: a flush ran after close", w.flushes)
	}
}

// flushCounter is a flushable http.ResponseWriter that counts its flushes.
type flushCounter struct {
	mu      *sync.Mutex
	flushes int
}

func (*flushCounter) Header() http.Header         { return http.Header{} }
func (*flushCounter) Write(p []byte) (int, error) { return len(p), nil }
func (*flushCounter) WriteHeader(int)             {}
func (f *flushCounter) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
}
