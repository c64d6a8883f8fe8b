// Package openai implements genai.ChatModel for any endpoint that speaks OpenAI's chat
// completions protocol — Ollama, vLLM, llama.cpp's server, OpenAI itself — through the
// official client, github.com/openai/openai-go/v3.
//
// Package openaitest beside it runs a server speaking the same protocol for tests.
package openai

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai"
)

// DefaultBaseURL is the API root used when Options.BaseURL is empty.
const DefaultBaseURL = "https://api.openai.com/v1"

// DefaultMaxRetries is how often a failed call is retried when Options.MaxRetries is zero.
const DefaultMaxRetries = 2

// Options configure a ChatModel. Only DefaultModel is needed in practice; the rest have
// defaults that work.
type Options struct {
	// BaseURL is the endpoint's API root, such as "http://localhost:11434/v1" for Ollama
	// or "http://localhost:8000/v1" for vLLM. Empty means DefaultBaseURL.
	BaseURL string

	// APIKey is sent as "Authorization: Bearer <APIKey>". Empty sends no Authorization
	// header at all, which is what Ollama and most local servers expect. The OPENAI_*
	// environment variables are never read: configuration comes from Options only.
	APIKey string

	// DefaultModel is the model of a request whose ChatRequest.Model is empty.
	DefaultModel string

	// DefaultMaxTokens caps the answer of a request whose ChatRequest.MaxTokens is zero.
	// Zero leaves the cap to the endpoint.
	DefaultMaxTokens int

	// MaxRetries is how often a call that could not connect, or that got 408, 409, 429
	// or a 5xx status, is retried, with backoff and honouring Retry-After. Zero means
	// DefaultMaxRetries; a negative value disables retries.
	MaxRetries int

	// HTTPClient makes the HTTP requests; nil means DefaultHTTPClient, which every
	// ChatModel and Embedder of the process share. It should have no overall Timeout,
	// which would cut long streams: each call's context bounds it.
	HTTPClient *http.Client

	// DocumentText extracts the text of a document (genai.BlockDocument), which Chat
	// Completions endpoints do not take as a file: each document is sent as a text
	// part "Document <name>:\n<text>" instead. Nil refuses requests with documents.
	// It is a function given here rather than a parser imported, as the parsers are
	// the knowledge base's (package rag), which cmd/genai wires in.
	DocumentText genai.DocumentTextFunc
}

// ChatModel is a genai.ChatModel backed by an OpenAI-compatible endpoint. Create it with
// New; it is safe for concurrent use.
type ChatModel struct {
	baseURL          string // redacted, for error messages
	configErr        error  // a bad BaseURL, reported by every call
	hasAPIKey        bool
	defaultModel     string
	defaultMaxTokens int
	completions      sdk.ChatCompletionService
	models           sdk.ModelService
	documentText     genai.DocumentTextFunc
}

var _ genai.ChatModel = (*ChatModel)(nil)

// New returns a ChatModel for the endpoint opts describe. It does not contact the
// endpoint; a BaseURL that is not an http or https URL makes every call fail with an
// *genai.Error naming it.
func New(opts Options) *ChatModel {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	m := &ChatModel{baseURL: base, hasAPIKey: opts.APIKey != "", defaultModel: opts.DefaultModel, defaultMaxTokens: opts.DefaultMaxTokens, documentText: opts.DocumentText}
	u, err := url.Parse(base)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = fmt.Errorf("want an http or https URL such as http://localhost:11434/v1")
	}
	if err != nil {
		m.configErr = genai.Errorf(genai.EUPSTREAM, "openai: base URL %q: %v", base, err)
		return m
	}
	m.baseURL = u.Redacted()

	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	reqOpts := []option.RequestOption{
		option.WithBaseURL(base),
		option.WithHTTPClient(httpClient(opts.HTTPClient)),
		option.WithMiddleware(releasePayload),
		option.WithMaxRetries(retries),
		// Explicit even when empty: an empty key sends no Authorization header.
		option.WithAPIKey(opts.APIKey),
	}
	// The services are built directly rather than through sdk.NewClient, which reads
	// OPENAI_API_KEY, OPENAI_ORG_ID, OPENAI_CUSTOM_HEADERS and more from the environment
	// and would send them to whatever endpoint BaseURL names.
	m.completions = sdk.NewChatCompletionService(reqOpts...)
	m.models = sdk.NewModelService(reqOpts...)
	return m
}

// Models lists the ids of the models the endpoint serves (GET /models), in the
// endpoint's order. Errors are *genai.Error values, or ctx's error wrapped.
func (m *ChatModel) Models(ctx context.Context) ([]string, error) {
	if m.configErr != nil {
		return nil, m.configErr
	}
	var res *http.Response
	page, err := m.models.List(ctx, option.WithResponseInto(&res))
	if err != nil {
		return nil, m.callError(ctx, "list models", err, res)
	}
	ids := make([]string, 0, len(page.Data))
	for _, model := range page.Data {
		ids = append(ids, model.ID)
	}
	return ids, nil
}

// DefaultHTTPClient returns the client that a ChatModel or Embedder uses when its
// options give none: one for the whole process, so that chat and embeddings share one
// pool of connections to the endpoint.
//
// It has no overall Timeout, which would cut long streams; each call's context bounds
// the call. Its transport is tuned for relaying many long streams:
//   - the pool of idle connections is not capped per host (http.DefaultTransport keeps
//     2), so that after a burst of N concurrent streams over HTTP/1.1 the next N reuse
//     their connections instead of dialling anew and leaving N-2 sockets in TIME_WAIT;
//     idle connections close after IdleConnTimeout;
//   - HTTP/2 is used where a TLS endpoint offers it (OpenAI does; Ollama and vLLM speak
//     HTTP/1.1), many streams on one connection, with pings that find a dead one;
//   - dialling, the TLS handshake and a 100-continue wait are bounded, but not the wait
//     for response headers: a local server loading a model may take minutes to answer.
func DefaultHTTPClient() *http.Client { return defaultHTTPClient() }

var defaultHTTPClient = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: newTransport()}
})

// Timeouts of DefaultHTTPClient's transport.
const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	http2PingAfter      = 30 * time.Second // of silence on an HTTP/2 connection
	http2PingTimeout    = 15 * time.Second
)

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: http2PingAfter, PingTimeout: http2PingTimeout},
		MaxIdleConns:          0, // no limit in all, nor per host (below): the pool is what concurrency made it
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       idleConnTimeout,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ExpectContinueTimeout: time.Second,
		// Each HTTP/1.1 connection, so each open stream, keeps buffers of these sizes
		// (4 KiB each by default). The write buffer serves only to send the request;
		// the read buffer takes a burst of a stream's chunks in one read. Larger reads
		// and writes, as of a big request or an embeddings answer, bypass them.
		ReadBufferSize:  2048,
		WriteBufferSize: 1024,
	}
}

// maxIdleConnsPerHost is, in practice, no limit: net/http reads zero as 2.
const maxIdleConnsPerHost = 1 << 16

// httpClient returns c, or DefaultHTTPClient when c is nil.
func httpClient(c *http.Client) *http.Client {
	if c == nil {
		return defaultHTTPClient()
	}
	return c
}
