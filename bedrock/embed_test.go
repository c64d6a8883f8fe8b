package bedrock_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

func newEmbedder(t *testing.T, srv *bedrocktest.Server, opts bedrock.EmbedOptions) *bedrock.Embedder {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Millisecond
	}
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	e, err := bedrock.NewEmbedder(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func wantCode(t *testing.T, err error, code string) *genai.Error {
	t.Helper()
	if got := genai.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %s", err, got, code)
	}
	e, _ := err.(*genai.Error)
	return e
}

func TestEmbedV2Dimensions(t *testing.T) {
	for _, dims := range []int{0, 256, 512, 1024} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			srv := newServer(t, bedrocktest.Options{})
			e := newEmbedder(t, srv, bedrock.EmbedOptions{Dimensions: dims})
			want := dims
			if want == 0 {
				want = bedrock.DefaultEmbedDimensions
			}
			if got := e.Space(); got != (genai.EmbeddingSpace{Model: "bedrock:amazon.titan-embed-text-v2:0", Dimensions: want}) {
				t.Errorf("Space() = %+v", got)
			}
			vs, err := e.Embed(t.Context(), []string{"hello world"})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 || len(vs[0]) != want {
				t.Fatalf("got %d vectors of %d, want 1 of %d", len(vs), len(vs[0]), want)
			}
			if n := norm(vs[0]); math.Abs(n-1) > 1e-5 {
				t.Errorf("norm = %v, want 1", n)
			}
			reqs := srv.InvokeRequests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.ModelID != bedrock.TitanEmbedTextV2 || r.InputText != "hello world" || r.Dimensions == nil || *r.Dimensions != want || r.Normalize == nil || !*r.Normalize {
				t.Errorf("request = %+v, body %s", r, r.Body)
			}
			if r.ContentType != "application/json" || r.Accept != "application/json" {
				t.Errorf("content type %q, accept %q", r.ContentType, r.Accept)
			}
		})
	}
}

func TestEmbedV1RequestShapeAndNormalisation(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	e := newEmbedder(t, srv, bedrock.EmbedOptions{Model: bedrock.TitanEmbedTextV1})
	if got := e.Space(); got != (genai.EmbeddingSpace{Model: "bedrock:amazon.titan-embed-text-v1", Dimensions: 1536}) {
		t.Errorf("Space() = %+v", got)
	}
	vs, err := e.Embed(t.Context(), []string{"a text"})
	if err != nil {
		t.Fatal(err)
	}
	// The server's v1 vectors are not of unit length: the Embedder normalised it.
	raw := bedrocktest.TitanEmbedding(bedrock.TitanEmbedTextV1, "a text", 1536, false)
	if n := norm(raw); math.Abs(n-1) < 0.1 {
		t.Fatalf("test server's v1 vector has norm %v; the test needs one far from 1", n)
	}
	if n := norm(vs[0]); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm = %v, want 1", n)
	}
	scale := norm(raw)
	for i := range raw {
		if d := math.Abs(float64(raw[i])/scale - float64(vs[0][i])); d > 1e-6 {
			t.Fatalf("vector[%d] = %v, want %v", i, vs[0][i], float64(raw[i])/scale)
		}
	}
	r := srv.InvokeRequests()[0]
	if string(r.Body) != `{"inputText":"a text"}` {
		t.Errorf("v1 body = %s, want inputText only", r.Body)
	}
}

func TestEmbedBatchKeepsOrderUnderConcurrency(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	e := newEmbedder(t, srv, bedrock.EmbedOptions{Dimensions: 256, Concurrency: 8})
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = fmt.Sprintf("note number %d", i)
	}
	vs, err := e.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vs), len(texts))
	}
	for i, text := range texts {
		want := bedrocktest.TitanEmbedding(bedrock.TitanEmbedTextV2, text, 256, true)
		for k := range want {
			if math.Abs(float64(want[k]-vs[i][k])) > 1e-6 {
				t.Fatalf("vector %d is not the embedding of %q", i, text)
			}
		}
	}
	if n := len(srv.InvokeRequests()); n != 100 {
		t.Errorf("server got %d requests, want 100", n)
	}
	// Same text, same vector.
	again, err := e.Embed(t.Context(), texts[:1])
	if err != nil {
		t.Fatal(err)
	}
	for k := range again[0] {
		if again[0][k] != vs[0][k] {
			t.Fatal("a second embedding of the same text differs")
		}
	}
}

func TestEmbedThrottlingIsRetried(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{ThrottleFirst: 2})
	e := newEmbedder(t, srv, bedrock.EmbedOptions{MaxAttempts: 4, Concurrency: 1})
	if _, err := e.Embed(t.Context(), []string{"one", "two"}); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Throttled != 2 || st.Completed != 2 {
		t.Errorf("stats = %+v, want 2 throttled and 2 completed", st)
	}
}

func TestEmbedThrottledAfterRetriesCancelsTheRest(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{ThrottleFirst: math.MaxInt})
	e := newEmbedder(t, srv, bedrock.EmbedOptions{MaxAttempts: 2, Concurrency: 4})
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = fmt.Sprint("text ", i)
	}
	_, err := e.Embed(t.Context(), texts)
	ge := wantCode(t, err, genai.ETHROTTLED)
	if ge.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want > 0", ge.RetryAfter)
	}
	if !strings.Contains(ge.Message, bedrock.TitanEmbedTextV2) {
		t.Errorf("message %q does not name the model", ge.Message)
	}
	// Four calls in flight when the first failed, each tried twice, and no new ones.
	if n := srv.Stats().Requests; n >= 2*len(texts) || n > 2*8 {
		t.Errorf("server got %d requests; the batch went on after the first failure", n)
	}
}

func TestEmbedRejectsEmptyText(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	e := newEmbedder(t, srv, bedrock.EmbedOptions{})
	_, err := e.Embed(t.Context(), []string{"fine", "  "})
	ge := wantCode(t, err, genai.EINVALID)
	if !strings.Contains(ge.Message, "texts[1]") {
		t.Errorf("message %q does not name the text", ge.Message)
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
}

func TestEmbedCanceledContext(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	e := newEmbedder(t, srv, bedrock.EmbedOptions{})
	ctx, cancel := contextWithCancel(t)
	cancel()
	_, err := e.Embed(ctx, []string{"a", "b"})
	if err == nil || !isCanceled(err) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestNewEmbedderRejectsBadOptions(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	for _, opts := range []bedrock.EmbedOptions{
		{Dimensions: 768},
		{Dimensions: 1536},
		{Model: bedrock.TitanEmbedTextV1, Dimensions: 1024},
		{Model: "cohere.embed-english-v3"},
	} {
		_, err := bedrock.NewEmbedder(cfg, opts)
		ge := wantCode(t, err, genai.EINVALID)
		if opts.Dimensions != 0 && !strings.Contains(ge.Message, fmt.Sprint(opts.Dimensions)) {
			t.Errorf("%+v: message %q does not name the dimensions", opts, ge.Message)
		}
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
