package openai_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"genai/openai"
)

// connCounter is an OpenAI-compatible server over HTTP/1.1 that counts the connections
// clients open, and holds each chat stream until n are open at once, so that a round
// of n concurrent streams needs n connections.
type connCounter struct {
	*httptest.Server
	opened  atomic.Int64
	barrier chan struct{}
	mu      sync.Mutex
	waiting int
	n       int
}

func newConnCounter(t *testing.T, n int) *connCounter {
	c := &connCounter{n: n, barrier: make(chan struct{})}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/chat/completions":
			c.mu.Lock()
			barrier := c.barrier
			if c.waiting++; c.waiting == c.n {
				close(c.barrier)
				c.waiting, c.barrier = 0, make(chan struct{})
			}
			c.mu.Unlock()
			select {
			case <-barrier:
			case <-time.After(waitLong):
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}`+"\n\n")
			fmt.Fprint(w, "data: [DONE]\n\n")
			w.(http.Flusher).Flush()
			// The chunked encoding's end leaves apart from the last event, as it
			// often does from a real server.
			time.Sleep(5 * time.Millisecond)
		case "/v1/embeddings":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],"model":"e"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.opened.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// TestConcurrentStreamsReuseConnections checks the default client's pool: after a
// round of concurrent streams over HTTP/1.1, the next round reuses every connection
// rather than dialling again (http.DefaultClient keeps 2 per host and closes the
// rest, leaving sockets in TIME_WAIT), and so does an Embedder beside the ChatModel.
func TestConcurrentStreamsReuseConnections(t *testing.T) {
	const n = 20
	srv := newConnCounter(t, n)
	m := openai.New(openai.Options{BaseURL: srv.URL + "/v1", DefaultModel: "m"})
	round := func() {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, _, err := collect(m.Stream(t.Context(), userText("hi"))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	round()
	if got := srv.opened.Load(); got != n {
		t.Fatalf("%d connections for %d concurrent streams", got, n)
	}
	round()
	if got := srv.opened.Load(); got != n {
		t.Errorf("the second round of %d streams opened %d more connections, want none", n, got-n)
	}
	e := openai.NewEmbedder(openai.EmbedOptions{BaseURL: srv.URL + "/v1", Model: "e"})
	if _, err := e.Embed(t.Context(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.opened.Load(); got != n {
		t.Errorf("the embedder opened a connection of its own; want it to share the chat's pool")
	}
}

// TestOpenStreamsHoldNoRequestPayload checks that a stream, once answered, lets go of
// its request's body: net/http keeps a request for as long as its response streams,
// and a relay with many long streams of long conversations would otherwise hold every
// conversation's JSON as many times.
func TestOpenStreamsHoldNoRequestPayload(t *testing.T) {
	const streams, payload = 16, 1 << 20
	release := make(chan struct{})
	var open sync.WaitGroup
	open.Add(streams)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		open.Done()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	m := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "m"})
	req := userText(strings.Repeat("x", payload)) // one string, shared by every stream's request
	var wg sync.WaitGroup
	for range streams {
		wg.Go(func() {
			if _, _, err := collect(m.Stream(t.Context(), req)); err != nil {
				t.Error(err)
			}
		})
	}
	open.Wait()
	// Twice: the first collection moves the encoders' pooled buffers to a victim
	// cache, which only the second empties.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	close(release)
	wg.Wait()
	if held := ms.HeapAlloc; held > streams*payload/2 {
		t.Errorf("with %d streams of %d-byte requests open, %d MiB of heap in use; want about one request's worth, not one per stream",
			streams, payload, held>>20)
	}
}
