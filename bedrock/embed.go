package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"golang.org/x/sync/errgroup"

	"genai"
)

// The Amazon Titan Text Embeddings models an Embedder calls.
const (
	TitanEmbedTextV2 = "amazon.titan-embed-text-v2:0" // 256, 512 or 1024 dimensions
	TitanEmbedTextV1 = "amazon.titan-embed-text-v1"   // 1536 dimensions
)

// Defaults of EmbedOptions.
const (
	DefaultEmbedModel       = TitanEmbedTextV2
	DefaultEmbedDimensions  = 1024 // of Titan v2
	DefaultEmbedConcurrency = 8
)

// titanV1Dimensions is the only vector length of Titan Text Embeddings v1.
const titanV1Dimensions = 1536

// EmbedOptions configure an Embedder. Zero fields take the defaults.
type EmbedOptions struct {
	// Model is TitanEmbedTextV2 (the default) or TitanEmbedTextV1.
	Model string
	// Dimensions is the vector length: 256, 512 or 1024 for v2 (default 1024); 1536,
	// the only one, for v1.
	Dimensions int
	// Concurrency bounds the InvokeModel calls in flight for one Embed: Titan takes one
	// text per call, so a batch is many calls.
	Concurrency int
	// MaxAttempts and MaxBackoff are as in Options: each call is retried on throttling
	// and transient failures with jittered exponential backoff.
	MaxAttempts int
	MaxBackoff  time.Duration
}

// Embedder is a genai.Embedder on Amazon Titan Text Embeddings, called with Bedrock
// Runtime's InvokeModel. It is safe for concurrent use.
type Embedder struct {
	client *bedrockruntime.Client
	opts   EmbedOptions
	v1     bool
}

var _ genai.Embedder = (*Embedder)(nil)

// NewEmbedder returns an Embedder that calls Bedrock Runtime with cfg, set up as New
// sets up a ChatModel. It does not contact Bedrock. It fails with an EINVALID
// *genai.Error for a model other than Titan Text Embeddings v1 or v2, or for dimensions
// the model does not offer.
func NewEmbedder(cfg aws.Config, opts EmbedOptions) (*Embedder, error) {
	if opts.Model == "" {
		opts.Model = DefaultEmbedModel
	}
	e := &Embedder{}
	switch opts.Model {
	case TitanEmbedTextV2:
		if opts.Dimensions == 0 {
			opts.Dimensions = DefaultEmbedDimensions
		}
		if opts.Dimensions != 256 && opts.Dimensions != 512 && opts.Dimensions != 1024 {
			return nil, genai.Errorf(genai.EINVALID, "bedrock: embedding model %s: dimensions %d: want 256, 512 or 1024", opts.Model, opts.Dimensions)
		}
	case TitanEmbedTextV1:
		if opts.Dimensions == 0 {
			opts.Dimensions = titanV1Dimensions
		}
		if opts.Dimensions != titanV1Dimensions {
			return nil, genai.Errorf(genai.EINVALID, "bedrock: embedding model %s: dimensions %d: it makes only %d", opts.Model, opts.Dimensions, titanV1Dimensions)
		}
		e.v1 = true
	default:
		return nil, genai.Errorf(genai.EINVALID, "bedrock: embedding model %q: want %s or %s", opts.Model, TitanEmbedTextV2, TitanEmbedTextV1)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultEmbedConcurrency
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	// As in New: one retryer, so that its retry quota is shared by all calls.
	retryer := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.MaxBackoff = opts.MaxBackoff
	})
	e.client = bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.Retryer = retryer
		o.HTTPClient = httpClient(o.HTTPClient, 0, 0)
	})
	e.opts = opts
	return e, nil
}

// Space returns {"bedrock:<model id>", dimensions}.
func (e *Embedder) Space() genai.EmbeddingSpace {
	return genai.EmbeddingSpace{Model: "bedrock:" + e.opts.Model, Dimensions: e.opts.Dimensions}
}

// Embed returns one unit vector per text, in order, making one InvokeModel call per
// text with at most Concurrency in flight. The first failure cancels the calls still
// running and is returned: EINVALID for an empty text or one Bedrock rejects, ETHROTTLED
// (with RetryAfter) for throttling that outlasted the retries, EUPSTREAM for anything
// else, or ctx's error, wrapped, when ctx ends.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return nil, genai.Errorf(genai.EINVALID, "texts[%d]: empty; Titan embeds only non-empty text", i)
		}
	}
	out := make([][]float32, len(texts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Concurrency)
	for i, text := range texts {
		if gctx.Err() != nil {
			break // a call failed: start no more
		}
		g.Go(func() error {
			v, err := e.embedOne(ctx, gctx, text)
			if err != nil {
				return err
			}
			out[i] = v
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bedrock: InvokeModel %s: %w", e.opts.Model, err)
	}
	return out, nil
}

// titanRequest is the body of a Titan Text Embeddings call; v1 takes inputText only.
type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions,omitempty"`
	Normalize  bool   `json:"normalize,omitempty"`
}

type titanResponse struct {
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int       `json:"inputTextTokenCount"`
}

// embedOne embeds one text. The call runs under gctx, which ends when another call of
// the batch fails; errors are mapped with ctx, the caller's, so that the failure that
// ended the batch is reported as itself.
func (e *Embedder) embedOne(ctx, gctx context.Context, text string) ([]float32, error) {
	req := titanRequest{InputText: text}
	if !e.v1 {
		req.Dimensions, req.Normalize = e.opts.Dimensions, true
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode Titan request: %w", err)
	}
	out, err := e.client.InvokeModel(gctx, &bedrockruntime.InvokeModelInput{
		ModelId:     aws.String(e.opts.Model),
		Body:        body,
		ContentType: aws.String("application/json"),
		Accept:      aws.String("application/json"),
	})
	if err != nil {
		if ctx.Err() == nil && gctx.Err() != nil {
			return nil, gctx.Err() // another call failed first; its error is returned
		}
		return nil, upstreamError(ctx, "InvokeModel", "model "+e.opts.Model, err)
	}
	var resp titanResponse
	if err := json.Unmarshal(out.Body, &resp); err != nil {
		return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock InvokeModel for model %s: unreadable answer: %v", e.opts.Model, err)
	}
	if len(resp.Embedding) != e.opts.Dimensions {
		return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock InvokeModel for model %s: %d dimensions, want %d", e.opts.Model, len(resp.Embedding), e.opts.Dimensions)
	}
	// v1 vectors are not normalised; v2's are, but only to float precision.
	if !normalize(resp.Embedding) {
		return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock InvokeModel for model %s: a zero or non-finite vector", e.opts.Model)
	}
	return resp.Embedding, nil
}

// normalize scales v to unit length in place; it reports false for a zero vector or one
// with an infinite or NaN element.
func normalize(v []float32) bool {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 || math.IsInf(sum, 0) || math.IsNaN(sum) {
		return false
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return true
}
