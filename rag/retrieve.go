package rag

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"

	"genai"
)

// Defaults of RetrieverOptions, chosen on SciFact's train queries (see Evaluate and the
// figures in the package's evaluation notes): a small vector weight, because the local
// embedder matches words and word parts as BM25 does and adds a little beside it; a
// feedback query of 10 words from the 10 best passages, weighing 0.35 against the
// query's 0.65. Candidates is 200 per ranking, the depth the weights were tuned at.
const (
	DefaultCandidates     = 200
	DefaultVectorWeight   = 0.2
	DefaultFeedbackDocs   = 10
	DefaultFeedbackTerms  = 10
	DefaultFeedbackWeight = 0.35
)

// DefaultRerankCandidates is how many of the first stage's best chunks a Retriever's
// Reranker reorders: 100, because Amazon Bedrock bills reranking per query of up to 100
// passages (so fewer costs the same), a managed knowledge base reranks at most 100
// retrieved passages, and on SciFact the first stage's Recall@100 is far above its
// nDCG@10, so the passages a reranker should lift are nearly all among them.
const DefaultRerankCandidates = 100

// RetrieverOptions tune a Retriever. Zero fields take the defaults above; a negative
// FeedbackDocs turns feedback off.
type RetrieverOptions struct {
	// Candidates is how many chunks each ranking contributes to the fusion.
	Candidates int
	// VectorWeight is the share of the vector ranking in the hybrid score, from 0 to 1;
	// the lexical ranking has the rest. Each ranking's scores are first scaled to [0, 1]
	// over its candidates (min-max), a chunk missing from one counting 0 there.
	VectorWeight float64
	// FeedbackDocs, FeedbackTerms and FeedbackWeight shape pseudo-relevance feedback on
	// the lexical side (RM3): the words most typical of the FeedbackDocs best BM25
	// passages (relevance model RM1, each passage weighted by its BM25 score) form a
	// second BM25 query of FeedbackTerms words; a chunk's lexical score is
	// (1-FeedbackWeight)·bm25(query)/max + FeedbackWeight·bm25(feedback)/max.
	FeedbackDocs   int
	FeedbackTerms  int
	FeedbackWeight float64
	// RerankCandidates is how many of the best chunks the Retriever's Reranker
	// reorders; 0 means DefaultRerankCandidates.
	RerankCandidates int
}

func (o RetrieverOptions) withDefaults() RetrieverOptions {
	if o.Candidates <= 0 {
		o.Candidates = DefaultCandidates
	}
	if o.VectorWeight == 0 {
		o.VectorWeight = DefaultVectorWeight
	}
	o.VectorWeight = min(max(o.VectorWeight, 0), 1)
	if o.FeedbackDocs == 0 {
		o.FeedbackDocs = DefaultFeedbackDocs
	}
	if o.FeedbackTerms <= 0 {
		o.FeedbackTerms = DefaultFeedbackTerms
	}
	if o.FeedbackWeight == 0 {
		o.FeedbackWeight = DefaultFeedbackWeight
	}
	o.FeedbackWeight = min(max(o.FeedbackWeight, 0), 1)
	if o.RerankCandidates <= 0 {
		o.RerankCandidates = DefaultRerankCandidates
	}
	return o
}

// Retriever is the hybrid retrieval of the local knowledge base: BM25 with
// pseudo-relevance feedback, and vector similarity, fused by a weighted sum of their
// normalised scores. It implements genai.Retriever on a store's genai.ChunkSearcher,
// ranking candidates by ID and loading only the passages its feedback reads and the K
// it returns. It is safe for concurrent use when Store and Embedder are.
//
// Score fusion rather than reciprocal rank fusion: RRF weighs both rankings equally by
// rank, and on SciFact, where the vector ranking is much the weaker, it scores below
// BM25 alone (0.663 against 0.704 nDCG@10); a weighted sum keeps BM25's lead and adds
// what the vectors know.
//
// With a Reranker, the Options.RerankCandidates best chunks of the first stage (any
// mode), near-duplicates left out, are reordered by it, each hit's score then the
// reranker's. A reranker that fails (an outage, throttling, a model not enabled in the
// account) is logged as a warning and the first stage's order kept: that order is
// already a good one, and a user's question should still be answered, not fail because
// an optional refinement did; only the caller's own context ending is an error.
type Retriever struct {
	Store    genai.ChunkSearcher
	Embedder genai.Embedder
	Reranker genai.Reranker // optional second stage
	Options  RetrieverOptions
}

// Retrieve returns up to q.K chunks (genai.DefaultRetrieveK when 0) of a valid query q
// (see genai.RetrieveQuery.Validate), best first, by q.Mode: BM25 (with feedback; score the lexical score), vector (score the
// cosine similarity) or hybrid (score the fused score, from 0 to 1), only of
// q.DocumentID when set. A chunk that nearly repeats a better one (the same passage in
// another file) is left out, so the chunks are different passages. With a Reranker,
// the best candidates come in its order, scored by it (see Retriever). Errors are the
// embedder's and the store's.
func (r *Retriever) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	q.K = cmp.Or(q.K, genai.DefaultRetrieveK)
	rk, err := r.rankings(ctx, q.Query, q.DocumentID, q.Mode)
	if err != nil {
		return nil, err
	}
	var hits []genai.ChunkHit
	switch q.Mode {
	case genai.RetrieveBM25:
		hits = rk.lexical
	case genai.RetrieveVector:
		hits = rk.vector
	default:
		hits = fuseByScore(rk.lexical, rk.vector, r.Options.withDefaults().VectorWeight)
	}
	out := make([]genai.ChunkHit, 0, min(q.K, len(hits)))
	var d dedupe
	start := 0
	if r.Reranker != nil && len(hits) > 0 {
		n := min(len(hits), r.Options.withDefaults().RerankCandidates)
		loaded, err := r.load(ctx, hits[:n])
		if err != nil {
			return nil, err
		}
		pool := make([]genai.ChunkHit, 0, len(loaded))
		for _, h := range loaded {
			if d.keep(h) {
				pool = append(pool, h)
			}
		}
		reranked, err := rerank(ctx, r.Reranker, q.Query, pool)
		switch {
		case err == nil:
			pool = reranked
		case ctx.Err() != nil:
			return nil, fmt.Errorf("retrieve: rerank: %w", ctx.Err())
		default:
			slog.WarnContext(ctx, "retrieve: reranking failed; the first stage's order is kept", "err", err, "passages", len(pool))
		}
		out = append(out, pool[:min(q.K, len(pool))]...)
		start = n
	}
	// Hits are loaded a few more at a time than are still wanted, until k different
	// passages are kept (near-duplicates collapsed) or the ranking ends.
	for start < len(hits) && len(out) < q.K {
		end := min(start+2*(q.K-len(out)), len(hits))
		loaded, err := r.load(ctx, hits[start:end])
		if err != nil {
			return nil, err
		}
		for _, h := range loaded {
			if len(out) < q.K && d.keep(h) {
				out = append(out, h)
			}
		}
		start = end
	}
	return out, nil
}

// rerank returns loaded hits ordered by rr's scores of their text for query, best
// first (ties in their order), each hit's Score the reranker's. The text is the one the
// passage is embedded with, under its document's title.
func rerank(ctx context.Context, rr genai.Reranker, query string, hits []genai.ChunkHit) ([]genai.ChunkHit, error) {
	if len(hits) == 0 {
		return hits, nil
	}
	texts := make([]string, len(hits))
	for i := range hits {
		texts[i] = strings.TrimSpace(hits[i].Title + "\n\n" + hits[i].EmbeddingText())
	}
	scores, err := rr.Rerank(ctx, query, texts)
	if err != nil {
		return nil, err
	}
	if len(scores) != len(hits) {
		return nil, fmt.Errorf("rerank: %d scores for %d passages", len(scores), len(hits))
	}
	out := slices.Clone(hits)
	for i := range out {
		out[i].Score = scores[i]
	}
	slices.SortStableFunc(out, func(a, b genai.ChunkHit) int { return cmp.Compare(b.Score, a.Score) })
	return out, nil
}

// load returns ranked hits in full.
func (r *Retriever) load(ctx context.Context, hits []genai.ChunkHit) ([]genai.ChunkHit, error) {
	full, err := r.Store.LoadChunks(ctx, hits)
	if err != nil {
		return nil, fmt.Errorf("retrieve: %w", err)
	}
	return full, nil
}

// rankings are the two rankings a query's hybrid result is fused from; their hits
// have only IDs and scores until loaded (see load).
type rankings struct {
	lexical, vector []genai.ChunkHit
}

// rankings runs the searches mode needs: lexical for bm25, vector for vector, both for
// hybrid, and both for "" (the evaluation's).
func (r *Retriever) rankings(ctx context.Context, query, documentID string, mode genai.RetrievalMode) (rankings, error) {
	o := r.Options.withDefaults()
	var rk rankings
	var err error
	if mode != genai.RetrieveVector {
		if rk.lexical, err = r.lexical(ctx, query, documentID, o); err != nil {
			return rk, err
		}
	}
	if mode != genai.RetrieveBM25 {
		vs, err := r.Embedder.Embed(ctx, []string{query})
		if err != nil {
			return rk, fmt.Errorf("retrieve: embed the query: %w", err)
		}
		if rk.vector, err = r.searchVector(ctx, vs[0], o.Candidates, documentID); err != nil {
			return rk, err
		}
	}
	return rk, nil
}

// lexical is BM25 with RM3 feedback.
func (r *Retriever) lexical(ctx context.Context, query, documentID string, o RetrieverOptions) ([]genai.ChunkHit, error) {
	first, err := r.searchBM25(ctx, query, o.Candidates, documentID)
	if err != nil || o.FeedbackDocs < 0 || len(first) == 0 {
		return first, err
	}
	fb, err := r.load(ctx, first[:min(o.FeedbackDocs, len(first))])
	if err != nil || len(fb) == 0 {
		return first, err
	}
	terms := feedbackTerms(query, fb, o.FeedbackTerms)
	if len(terms) == 0 {
		return first, nil
	}
	second, err := r.searchBM25(ctx, strings.Join(terms, " "), o.Candidates, documentID)
	if err != nil {
		return nil, err
	}
	return combine(first, second, 1-o.FeedbackWeight, o.FeedbackWeight, scaleByMax), nil
}

func (r *Retriever) searchBM25(ctx context.Context, query string, n int, documentID string) ([]genai.ChunkHit, error) {
	return r.Store.RankChunks(ctx, genai.ChunkRanking{Text: query, N: n, DocumentID: documentID})
}

func (r *Retriever) searchVector(ctx context.Context, vector []float32, n int, documentID string) ([]genai.ChunkHit, error) {
	return r.Store.RankChunks(ctx, genai.ChunkRanking{Vector: vector, N: n, DocumentID: documentID})
}

// fuseByScore fuses a lexical and a vector ranking: min-max scaled scores, weighted
// 1-w and w.
func fuseByScore(lexical, vector []genai.ChunkHit, w float64) []genai.ChunkHit {
	return combine(lexical, vector, 1-w, w, scaleMinMax)
}

// scaleByMax maps scores to [0, 1] by the best (BM25 scores are positive, and a
// passage that matches nothing scores 0); scaleMinMax maps the best to 1 and the worst
// candidate to 0 (cosine similarities are all close together).
func scaleByMax(hits []genai.ChunkHit) func(float64) float64 {
	hi := hits[0].Score
	if hi <= 0 {
		return func(float64) float64 { return 0 }
	}
	return func(s float64) float64 { return s / hi }
}

func scaleMinMax(hits []genai.ChunkHit) func(float64) float64 {
	hi, lo := hits[0].Score, hits[len(hits)-1].Score
	if hi <= lo {
		return func(float64) float64 { return 1 }
	}
	return func(s float64) float64 { return (s - lo) / (hi - lo) }
}

// combine returns the chunks of a and b by wa·scale(a) + wb·scale(b), a chunk missing
// from a list counting 0 there, best first (ties by chunk ID).
func combine(a, b []genai.ChunkHit, wa, wb float64, scale func([]genai.ChunkHit) func(float64) float64) []genai.ChunkHit {
	byID := make(map[string]int, len(a)+len(b))
	out := make([]genai.ChunkHit, 0, len(a)+len(b))
	add := func(hits []genai.ChunkHit, w float64) {
		if len(hits) == 0 || w == 0 {
			return
		}
		f := scale(hits)
		for _, h := range hits {
			s := w * f(h.Score)
			if i, ok := byID[h.ID]; ok {
				out[i].Score += s
				continue
			}
			byID[h.ID] = len(out)
			h.Score = s
			out = append(out, h)
		}
	}
	add(a, wa)
	add(b, wb)
	slices.SortFunc(out, func(x, y genai.ChunkHit) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// feedbackTerms returns up to m words for a feedback query: by the relevance model
// RM1, P(w|R) = Σ_d P(w|d)·P(d|q), over the passages fb (their title, headings and
// text), P(d|q) ∝ exp(BM25 score). Stop words, words of under three letters, numbers
// and the query's own words (compared by stem) are left out; each stem is sent in its
// most frequent form, which the store's stemmer brings back to the stem.
func feedbackTerms(query string, fb []genai.ChunkHit, m int) []string {
	inQuery := map[string]bool{}
	for _, w := range words(query) {
		inQuery[english.Stem(w, false)] = true
	}
	weight := map[string]float64{}
	forms := map[string]map[string]int{}
	stemOf := map[string]string{} // the passages repeat their words; stemming is most of the work
	top := fb[0].Score
	for _, h := range fb {
		tf := map[string]int{}
		n := 0
		text := h.Title + " " + strings.Join(h.Headings, " ") + " " + h.Text
		for _, w := range words(text) {
			if len(w) < 3 || english.IsStopWord(w) || unicode.IsDigit(rune(w[0])) {
				continue
			}
			st, ok := stemOf[w]
			if !ok {
				st = english.Stem(w, false)
				stemOf[w] = st
			}
			if inQuery[st] {
				continue
			}
			n++
			tf[st]++
			if forms[st] == nil {
				forms[st] = map[string]int{}
			}
			forms[st][w]++
		}
		pd := math.Exp(h.Score - top)
		for st, c := range tf {
			weight[st] += pd * float64(c) / float64(n)
		}
	}
	stems := make([]string, 0, len(weight))
	for st := range weight {
		stems = append(stems, st)
	}
	slices.SortFunc(stems, func(a, b string) int {
		if c := cmp.Compare(weight[b], weight[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := make([]string, 0, m)
	for _, st := range stems[:min(m, len(stems))] {
		best, n := "", 0
		for w, c := range forms[st] {
			if c > n || (c == n && w < best) {
				best, n = w, c
			}
		}
		out = append(out, best)
	}
	return out
}

// words returns the lowercase words of s: runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
}
