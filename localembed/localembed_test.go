package localembed

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"genai"
)

func mustNew(t testing.TB, opts Options) *Embedder {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

var sampleTexts = []string{
	"Aspirin reduces the risk of colorectal cancer in adults.",
	"ASPIRIN reduced risks of colorectal cancers!",
	"Microstructural development of human newborn cerebral white matter assessed by diffusion tensor MRI.",
	"",
	"the of and which",
	"Ünïcödé wörds, 日本語のテキスト, and numbers 42 3.14",
	strings.Repeat("gene expression in T cells ", 2000),
}

func TestSpaceAndDimensions(t *testing.T) {
	if got := mustNew(t, Options{}).Space(); got != (genai.EmbeddingSpace{Model: "local:hash-rare-unichar5-v1", Dimensions: DefaultDimensions}) {
		t.Errorf("Space() = %+v", got)
	}
	if got := mustNew(t, Options{Dimensions: 512}).Space().Dimensions; got != 512 {
		t.Errorf("dimensions = %d, want 512", got)
	}
	for _, d := range []int{-1, 1, 32, 1000, 1 << 17} {
		if _, err := New(Options{Dimensions: d}); genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("Dimensions %d: error %v, want EINVALID", d, err)
		}
	}
}

func TestUnitLength(t *testing.T) {
	for _, dims := range []int{64, 512, 1024} {
		vs, err := mustNew(t, Options{Dimensions: dims}).Embed(t.Context(), sampleTexts)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != len(sampleTexts) {
			t.Fatalf("%d vectors for %d texts", len(vs), len(sampleTexts))
		}
		for i, v := range vs {
			if len(v) != dims {
				t.Fatalf("vector %d has %d dimensions, want %d", i, len(v), dims)
			}
			if n := math.Sqrt(dot(v, v)); math.Abs(n-1) > 1e-5 {
				t.Errorf("text %q: norm %v, want 1", sampleTexts[i], n)
			}
		}
	}
}

func TestDeterministic(t *testing.T) {
	e := mustNew(t, Options{})
	first, err := e.Embed(t.Context(), sampleTexts)
	if err != nil {
		t.Fatal(err)
	}
	// Again, from other goroutines, one text at a time, and with a fresh Embedder: the
	// caches must not change a vector.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i, text := range sampleTexts {
				again, err := mustNew(t, Options{}).Embed(context.Background(), []string{text})
				if err != nil {
					t.Error(err)
					return
				}
				same, err := e.Embed(context.Background(), []string{text})
				if err != nil {
					t.Error(err)
					return
				}
				for k := range first[i] {
					if again[0][k] != first[i][k] || same[0][k] != first[i][k] {
						t.Errorf("text %d: vectors differ between calls at %d", i, k)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

const knownChecksum = 3.3220410896465182

// TestKnownVector pins a few coordinates of one vector: a change to tokenising,
// stemming, hashing or weighting moves them, and must come with a new Space name.
func TestKnownVector(t *testing.T) {
	vs, err := mustNew(t, Options{Dimensions: 64}).Embed(t.Context(), []string{"Aspirin reduces colorectal cancer risk."})
	if err != nil {
		t.Fatal(err)
	}
	// A checksum of the whole vector, with a tolerance: compilers for some CPUs fuse
	// multiply-adds, which may move the last bits.
	var sum float64
	for i, x := range vs[0] {
		sum += float64(i+1) * float64(x)
	}
	if want := knownChecksum; math.Abs(sum-want) > 1e-4 {
		t.Fatalf("checksum %v, want %v: the vectors changed, so change the Space name (and this test)", sum, want)
	}
}

func TestSimilarTextsScoreHigher(t *testing.T) {
	e := mustNew(t, Options{})
	for _, tc := range []struct{ query, similar, unrelated string }{
		{"Does aspirin lower the risk of colorectal cancer?",
			"Daily aspirin use was associated with reduced colorectal cancer incidence.",
			"The stock market rallied after the central bank held interest rates steady."},
		{"diffusion tensor imaging of newborn brains",
			"Diffusion tensor MRI shows white matter development in the newborn brain.",
			"A recipe for sourdough bread with a long cold fermentation."},
		{"immunotherapies for melanoma",
			"Immunotherapy improves survival in patients with metastatic melanoma.",
			"Immigration policy debates in the European parliament."},
	} {
		vs, err := e.Embed(t.Context(), []string{tc.query, tc.similar, tc.unrelated})
		if err != nil {
			t.Fatal(err)
		}
		sim, unrel := dot(vs[0], vs[1]), dot(vs[0], vs[2])
		if sim <= unrel+0.1 {
			t.Errorf("%q: similar %.3f, unrelated %.3f", tc.query, sim, unrel)
		}
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := mustNew(t, Options{}).Embed(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestTokens(t *testing.T) {
	var got []string
	tokens("Cell's T-cells, ÉCOLE 3.14 日本語 ‘quoted’ don’t", nil, func(w []byte) { got = append(got, string(w)) })
	want := []string{"cells", "t", "cells", "école", "3", "14", "日本語", "quoted", "dont"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tokens = %q, want %q", got, want)
	}
}

// BenchmarkEmbed measures embedding throughput on one goroutine, in notes (abstracts of
// of about 780 bytes, the same one each time, so the word cache is warm) per second;
// BenchmarkSciFact reports the rate over a real corpus.
func BenchmarkEmbed(b *testing.B) {
	e := mustNew(b, Options{})
	text := "Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development and result in functional disabilities. " +
		"A line scan diffusion-weighted magnetic resonance imaging (MRI) sequence with diffusion tensor analysis was applied to measure the apparent diffusion coefficient, " +
		"to calculate relative anisotropy, and to delineate three-dimensional fiber architecture in cerebral white matter in preterm (n = 17) and full-term infants (n = 7). " +
		"To assess effects of prematurity on cerebral white matter development, early gestation preterm infants (n = 10) were studied a second time at term. " +
		"In the central white matter the mean apparent diffusion coefficient at 28 wk was high, 1.8 microm2/ms, and decreased toward term to 1.2 microm2/ms."
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = text
	}
	b.SetBytes(int64(len(text) * len(texts)))
	for b.Loop() {
		if _, err := e.Embed(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "notes/s")
}
