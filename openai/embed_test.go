package openai_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"genai"
	"genai/openai"
	"genai/openai/openaitest"
)

func newEmbedder(srv *openaitest.Server, opts openai.EmbedOptions) *openai.Embedder {
	opts.BaseURL = srv.URL
	if opts.Model == "" {
		opts.Model = "nomic-embed-text"
	}
	return openai.NewEmbedder(opts)
}

func vecNorm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// sameDirection reports whether got is want normalised.
func sameDirection(got, want []float32) bool {
	if len(got) != len(want) {
		return false
	}
	n := vecNorm(want)
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])/n) > 1e-6 {
			return false
		}
	}
	return true
}

func TestEmbedBatchesNormalisesAndKeepsOrder(t *testing.T) {
	srv := openaitest.New(openaitest.Config{EmbeddingsReversed: true})
	defer srv.Close()
	e := newEmbedder(srv, openai.EmbedOptions{BatchSize: 10})
	if got := e.Space(); got != (genai.EmbeddingSpace{Model: "openai:nomic-embed-text"}) {
		t.Errorf("Space() before any call = %+v, want dimensions 0", got)
	}
	texts := make([]string, 25)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d", i)
	}
	vs, err := e.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vs), len(texts))
	}
	for i, text := range texts {
		if n := vecNorm(vs[i]); math.Abs(n-1) > 1e-5 {
			t.Errorf("vector %d has norm %v", i, n)
		}
		if !sameDirection(vs[i], openaitest.Embedding("nomic-embed-text", text, 768)) {
			t.Fatalf("vector %d is not the embedding of %q", i, text)
		}
	}
	if got := e.Space(); got != (genai.EmbeddingSpace{Model: "openai:nomic-embed-text", Dimensions: 768}) {
		t.Errorf("Space() = %+v, want the dimensions of the first answer", got)
	}
	reqs := srv.EmbeddingRequests()
	var sizes []int
	for _, r := range reqs {
		sizes = append(sizes, len(r.Input))
		if r.Dimensions != nil || r.Model != "nomic-embed-text" || r.InputIsString {
			t.Errorf("request model %q, dimensions %v, input as string %v", r.Model, r.Dimensions, r.InputIsString)
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("Authorization %q sent with no API key", r.Header.Get("Authorization"))
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("batch sizes %v, want [10 10 5]", sizes)
	}
}

func TestEmbedSendsConfiguredDimensionsAndKey(t *testing.T) {
	srv := openaitest.New(openaitest.Config{APIKey: "sk-test"})
	defer srv.Close()
	e := newEmbedder(srv, openai.EmbedOptions{Model: "text-embedding-3-small", Dimensions: 256, APIKey: "sk-test"})
	if got := e.Space(); got.Dimensions != 256 {
		t.Errorf("Space() = %+v", got)
	}
	vs, err := e.Embed(t.Context(), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs[0]) != 256 {
		t.Errorf("%d dimensions, want 256", len(vs[0]))
	}
	r := srv.EmbeddingRequests()[0]
	if r.Dimensions == nil || *r.Dimensions != 256 || r.Header.Get("Authorization") != "Bearer sk-test" {
		t.Errorf("dimensions %v, authorization %q", r.Dimensions, r.Header.Get("Authorization"))
	}
}

func TestEmbedRejectsAnswerOfAnotherSize(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Embed: func(req *openaitest.EmbeddingRequest, in string) []float32 {
		if in == "odd" {
			return openaitest.Embedding(req.Model, in, 512)
		}
		return openaitest.Embedding(req.Model, in, 768)
	}})
	defer srv.Close()
	e := newEmbedder(srv, openai.EmbedOptions{})
	if _, err := e.Embed(t.Context(), []string{"first"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Embed(t.Context(), []string{"fine", "odd"})
	ge := wantCode(t, err, genai.EUPSTREAM)
	if !strings.Contains(ge.Message, "512") || !strings.Contains(ge.Message, "768") {
		t.Errorf("message %q does not name both sizes", ge.Message)
	}
	if got := e.Space().Dimensions; got != 768 {
		t.Errorf("dimensions changed to %d", got)
	}
}

func TestEmbedProbe(t *testing.T) {
	srv := openaitest.New(openaitest.Config{EmbeddingDimensions: 384})
	defer srv.Close()
	e := newEmbedder(srv, openai.EmbedOptions{})
	s, err := e.Probe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.Dimensions != 384 {
		t.Errorf("Probe() = %+v, want 384 dimensions", s)
	}
	if _, err := e.Probe(t.Context()); err != nil || len(srv.EmbeddingRequests()) != 1 {
		t.Errorf("second Probe: err %v, %d requests; want no new request", err, len(srv.EmbeddingRequests()))
	}
}

func TestEmbedThrottling(t *testing.T) {
	srv := openaitest.New(openaitest.Config{Throttle: 2})
	defer srv.Close()
	if _, err := newEmbedder(srv, openai.EmbedOptions{MaxRetries: 2}).Embed(t.Context(), []string{"x"}); err != nil {
		t.Fatalf("throttled twice with two retries: %v", err)
	}

	srv2 := openaitest.New(openaitest.Config{Throttle: 100})
	defer srv2.Close()
	_, err := newEmbedder(srv2, openai.EmbedOptions{MaxRetries: 1}).Embed(t.Context(), []string{"x"})
	if e := wantCode(t, err, genai.ETHROTTLED); e.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v", e.RetryAfter)
	}
	if n := len(srv2.EmbeddingRequests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestEmbedErrors(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	defer srv.Close()
	_, err := newEmbedder(srv, openai.EmbedOptions{}).Embed(t.Context(), []string{"a", ""})
	if e := wantCode(t, err, genai.EINVALID); !strings.Contains(e.Message, "texts[1]") {
		t.Errorf("message %q does not name the text", e.Message)
	}
	_, err = openai.NewEmbedder(openai.EmbedOptions{BaseURL: srv.URL}).Embed(t.Context(), []string{"a"})
	wantCode(t, err, genai.EINVALID)
	_, err = openai.NewEmbedder(openai.EmbedOptions{BaseURL: "localhost:11434", Model: "m"}).Embed(t.Context(), []string{"a"})
	wantCode(t, err, genai.EUPSTREAM)
	_, err = newEmbedder(srv, openai.EmbedOptions{Dimensions: 99999}).Embed(t.Context(), []string{"a"})
	wantCode(t, err, genai.EINVALID)
	if n := len(srv.EmbeddingRequests()); n != 1 {
		t.Errorf("%d requests reached the server, want only the last", n)
	}
	ctx, cancel := contextWithCancel(t)
	cancel()
	_, err = newEmbedder(srv, openai.EmbedOptions{}).Embed(ctx, []string{"a"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
