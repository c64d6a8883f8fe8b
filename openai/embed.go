package openai

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai"
)

// DefaultEmbedBatchSize is how many texts go in one /embeddings request when
// EmbedOptions.BatchSize is zero.
const DefaultEmbedBatchSize = 64

// EmbedOptions configure an Embedder.
type EmbedOptions struct {
	// BaseURL, APIKey, MaxRetries and HTTPClient are as in Options. The OPENAI_*
	// environment variables are never read.
	BaseURL    string
	APIKey     string
	MaxRetries int
	HTTPClient *http.Client

	// Model is the embedding model, such as "nomic-embed-text" on Ollama or
	// "text-embedding-3-small" on OpenAI. Required.
	Model string

	// Dimensions, when positive, is sent as the request's "dimensions" (which only some
	// models accept, such as OpenAI's text-embedding-3) and is the length every answer
	// must have. Zero sends none and takes the length of the first answer.
	Dimensions int

	// BatchSize is how many texts go in one request; zero means DefaultEmbedBatchSize.
	BatchSize int
}

// Embedder is a genai.Embedder on an OpenAI-compatible /embeddings endpoint. Create it
// with NewEmbedder; it is safe for concurrent use.
//
// Its dimensions are those of EmbedOptions.Dimensions, or, when that is zero, those of
// the first vector the endpoint returns: until then Space().Dimensions is zero (Probe
// finds them at once). From then on, an answer of any other length is an error, so that
// vectors of different spaces are never mixed.
type Embedder struct {
	chat       *ChatModel // its base URL, configuration error and error mapping
	embeddings sdk.EmbeddingService
	model      string
	sendDims   bool
	batchSize  int

	mu   sync.Mutex
	dims int // 0 until known
}

var _ genai.Embedder = (*Embedder)(nil)

// NewEmbedder returns an Embedder for the endpoint opts describe. It does not contact
// the endpoint; a bad BaseURL or a missing Model makes every call fail with a
// *genai.Error naming it.
func NewEmbedder(opts EmbedOptions) *Embedder {
	e := &Embedder{
		chat:      New(Options{BaseURL: opts.BaseURL, APIKey: opts.APIKey, MaxRetries: opts.MaxRetries, HTTPClient: opts.HTTPClient}),
		model:     opts.Model,
		sendDims:  opts.Dimensions > 0,
		batchSize: opts.BatchSize,
		dims:      max(opts.Dimensions, 0),
	}
	if e.batchSize <= 0 {
		e.batchSize = DefaultEmbedBatchSize
	}
	if e.chat.configErr == nil && strings.TrimSpace(opts.Model) == "" {
		e.chat.configErr = genai.Errorf(genai.EINVALID, "openai: embedding model: required, such as nomic-embed-text")
	}
	if e.chat.configErr != nil {
		return e
	}
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	// Built directly, not through sdk.NewClient, for the reason New gives.
	e.embeddings = sdk.NewEmbeddingService(
		option.WithBaseURL(base),
		option.WithHTTPClient(httpClient(opts.HTTPClient)),
		option.WithMiddleware(releasePayload),
		option.WithMaxRetries(retries),
		option.WithAPIKey(opts.APIKey),
	)
	return e
}

// Space returns {"openai:<model>", dimensions}, the dimensions being zero while they are
// not known yet (see Embedder).
func (e *Embedder) Space() genai.EmbeddingSpace {
	e.mu.Lock()
	defer e.mu.Unlock()
	return genai.EmbeddingSpace{Model: "openai:" + e.model, Dimensions: e.dims}
}

// Probe returns the Space with its dimensions known, embedding a short text to learn
// them when they are not. Errors are those of Embed.
func (e *Embedder) Probe(ctx context.Context) (genai.EmbeddingSpace, error) {
	if s := e.Space(); s.Dimensions > 0 {
		return s, nil
	}
	if _, err := e.Embed(ctx, []string{"dimensions"}); err != nil {
		return genai.EmbeddingSpace{}, err
	}
	return e.Space(), nil
}

// Embed returns one unit vector per text, in order, sending the texts BatchSize at a
// time. Errors are *genai.Error values: EINVALID for an empty text or one the endpoint
// rejects, ETHROTTLED (with RetryAfter) when it still throttles after the retries,
// EUPSTREAM when it cannot be reached, fails, or answers vectors of the wrong number or
// length. When ctx ends, the error wraps ctx's error instead.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.chat.configErr != nil {
		return nil, e.chat.configErr
	}
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return nil, genai.Errorf(genai.EINVALID, "texts[%d]: empty; embedding models take only non-empty text", i)
		}
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.batchSize {
		batch := texts[start:min(start+e.batchSize, len(texts))]
		vs, err := e.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func (e *Embedder) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	params := sdk.EmbeddingNewParams{
		Model: e.model,
		Input: sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: batch},
	}
	if e.sendDims {
		params.Dimensions = sdk.Int(int64(e.dims))
	}
	var res *http.Response
	resp, err := e.embeddings.New(ctx, params, option.WithResponseInto(&res))
	if err != nil {
		return nil, e.chat.callError(ctx, "embed", err, res)
	}
	if len(resp.Data) != len(batch) {
		return nil, genai.Errorf(genai.EUPSTREAM, "the embedding endpoint %s answered %d vectors for %d texts", e.chat.baseURL, len(resp.Data), len(batch))
	}
	out := make([][]float32, len(batch))
	for _, d := range resp.Data {
		i := d.Index
		if i < 0 || i >= int64(len(batch)) || out[i] != nil {
			return nil, genai.Errorf(genai.EUPSTREAM, "the embedding endpoint %s answered a vector with index %d for %d texts", e.chat.baseURL, i, len(batch))
		}
		if err := e.checkDims(len(d.Embedding)); err != nil {
			return nil, err
		}
		var sum float64
		for _, x := range d.Embedding {
			sum += x * x
		}
		// Normalised here: not every model or server returns unit vectors.
		if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
			return nil, genai.Errorf(genai.EUPSTREAM, "the embedding endpoint %s answered a zero or non-finite vector", e.chat.baseURL)
		}
		inv := 1 / math.Sqrt(sum)
		v := make([]float32, len(d.Embedding))
		for k, x := range d.Embedding {
			v[k] = float32(x * inv)
		}
		out[i] = v
	}
	return out, nil
}

// checkDims learns the dimensions from the first vector, and checks every later one.
func (e *Embedder) checkDims(n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n == 0 {
		return genai.Errorf(genai.EUPSTREAM, "the embedding endpoint %s answered an empty vector for model %s", e.chat.baseURL, e.model)
	}
	if e.dims == 0 {
		e.dims = n
	}
	if n != e.dims {
		return genai.Errorf(genai.EUPSTREAM, "the embedding endpoint %s answered a vector of %d dimensions for model %s, want %d", e.chat.baseURL, n, e.model, e.dims)
	}
	return nil
}
