package agentruntimetest

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits of Bedrock's Rerank, as the service applies them.
const (
	MaxRerankSources   = 1000
	MaxRerankTextChars = 32000
)

// RerankQuery is one of a Rerank request's queries.
type RerankQuery struct {
	Type      string        `json:"type"`
	TextQuery *TextDocument `json:"textQuery"`
}

// RerankSource is one of a Rerank request's sources.
type RerankSource struct {
	Type                 string          `json:"type"`
	InlineDocumentSource *RerankDocument `json:"inlineDocumentSource"`
}

// RerankDocument is an inline source: a text document (JSON documents are refused).
type RerankDocument struct {
	Type         string        `json:"type"`
	TextDocument *TextDocument `json:"textDocument"`
}

// TextDocument is a text.
type TextDocument struct {
	Text *string `json:"text"`
}

// RerankConfiguration is a Rerank request's rerankingConfiguration.
type RerankConfiguration struct {
	Type                          string `json:"type"`
	BedrockRerankingConfiguration *struct {
		ModelConfiguration *RerankModel `json:"modelConfiguration"`
		NumberOfResults    *int         `json:"numberOfResults"`
	} `json:"bedrockRerankingConfiguration"`
}

// RerankModel names the reranking model.
type RerankModel struct {
	ModelArn string `json:"modelArn"`
}

// VectorSearchReranking is a knowledge base's vectorSearchConfiguration.rerankingConfiguration.
type VectorSearchReranking struct {
	Type                          string `json:"type"`
	BedrockRerankingConfiguration *struct {
		ModelConfiguration      *RerankModel `json:"modelConfiguration"`
		NumberOfRerankedResults *int         `json:"numberOfRerankedResults"`
	} `json:"bedrockRerankingConfiguration"`
}

// RerankModelArn returns the reranking model of a Rerank request, or "".
func (r *Request) RerankModelArn() string {
	if c := r.RerankConfiguration; c != nil && c.BedrockRerankingConfiguration != nil && c.BedrockRerankingConfiguration.ModelConfiguration != nil {
		return c.BedrockRerankingConfiguration.ModelConfiguration.ModelArn
	}
	return ""
}

// rerankModelARN is the shape of a reranking model's ARN Bedrock accepts.
var rerankModelARN = regexp.MustCompile(`^arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:(\d{12})?:(foundation-model|inference-profile|application-inference-profile)/.+$`)

func checkRerankModel(field string, m *RerankModel) string {
	switch {
	case m == nil || m.ModelArn == "":
		return field + ".modelArn: must not be empty"
	case !rerankModelARN.MatchString(m.ModelArn):
		return fmt.Sprintf("%s.modelArn: %q does not match the pattern of a Bedrock model ARN", field, m.ModelArn)
	}
	return ""
}

func (v *VectorSearchReranking) check() string {
	const field = "rerankingConfiguration.bedrockRerankingConfiguration"
	switch {
	case v.Type != "BEDROCK_RERANKING_MODEL":
		return fmt.Sprintf("rerankingConfiguration.type: %q is not BEDROCK_RERANKING_MODEL", v.Type)
	case v.BedrockRerankingConfiguration == nil:
		return field + ": required"
	}
	if msg := checkRerankModel(field+".modelConfiguration", v.BedrockRerankingConfiguration.ModelConfiguration); msg != "" {
		return msg
	}
	if n := v.BedrockRerankingConfiguration.NumberOfRerankedResults; n != nil && (*n < 1 || *n > 100) {
		return fmt.Sprintf("%s.numberOfRerankedResults: %d is not from 1 to 100", field, *n)
	}
	return ""
}

// validateRerank applies Bedrock's checks of a Rerank request.
func validateRerank(req *Request) *APIError {
	if len(req.Queries) != 1 {
		return validation(fmt.Sprintf("queries: %d queries, want exactly 1", len(req.Queries)))
	}
	q := req.Queries[0]
	if q.Type != "TEXT" || q.TextQuery == nil || q.TextQuery.Text == nil || strings.TrimSpace(*q.TextQuery.Text) == "" {
		return validation("queries[0]: a TEXT query with a non-empty textQuery.text is required")
	}
	if n := utf8.RuneCountInString(*q.TextQuery.Text); n > MaxRerankTextChars {
		return validation(fmt.Sprintf("queries[0].textQuery.text: %d characters is over %d", n, MaxRerankTextChars))
	}
	if n := len(req.Sources); n < 1 || n > MaxRerankSources {
		return validation(fmt.Sprintf("sources: %d sources is not from 1 to %d", n, MaxRerankSources))
	}
	for i, src := range req.Sources {
		d := src.InlineDocumentSource
		if src.Type != "INLINE" || d == nil || d.Type != "TEXT" || d.TextDocument == nil || d.TextDocument.Text == nil {
			return validation(fmt.Sprintf("sources[%d]: an INLINE source with a TEXT document is required", i))
		}
		if n := utf8.RuneCountInString(*d.TextDocument.Text); n > MaxRerankTextChars {
			return validation(fmt.Sprintf("sources[%d].inlineDocumentSource.textDocument.text: %d characters is over %d", i, n, MaxRerankTextChars))
		}
	}
	c := req.RerankConfiguration
	if c == nil || c.Type != "BEDROCK_RERANKING_MODEL" || c.BedrockRerankingConfiguration == nil {
		return validation("rerankingConfiguration: type BEDROCK_RERANKING_MODEL with a bedrockRerankingConfiguration is required")
	}
	if msg := checkRerankModel("rerankingConfiguration.bedrockRerankingConfiguration.modelConfiguration", c.BedrockRerankingConfiguration.ModelConfiguration); msg != "" {
		return validation(msg)
	}
	if n := c.BedrockRerankingConfiguration.NumberOfResults; n != nil && (*n < 1 || *n > MaxRerankSources) {
		return validation(fmt.Sprintf("rerankingConfiguration.bedrockRerankingConfiguration.numberOfResults: %d is not from 1 to %d", *n, MaxRerankSources))
	}
	return nil
}

// RerankScore is the server's relevance of text to query: the share of the query's
// distinct words (runs of letters and digits, compared in lower case) that text holds,
// from 0 to 1. It is not what Bedrock's models score, only a deterministic stand-in.
func RerankScore(query, text string) float64 {
	q := wordSet(query)
	if len(q) == 0 {
		return 0
	}
	t := wordSet(text)
	n := 0
	for w := range q {
		if t[w] {
			n++
		}
	}
	return float64(n) / float64(len(q))
}

func wordSet(s string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	}) {
		set[w] = true
	}
	return set
}

type scored struct {
	index int
	score float64
}

// rank returns the indexes of texts by RerankScore, best first, ties by index.
func rank(query string, texts []string) []scored {
	out := make([]scored, len(texts))
	for i, t := range texts {
		out[i] = scored{i, RerankScore(query, t)}
	}
	slices.SortStableFunc(out, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	return out
}

// rerankPassages reorders retrieved passages as a knowledge base's reranking does,
// their score becoming the reranker's, keeping numberOfRerankedResults (all when unset).
func rerankPassages(query string, ps []Passage, c *VectorSearchReranking) []Passage {
	texts := make([]string, len(ps))
	for i, p := range ps {
		texts[i] = p.Text
	}
	out := make([]Passage, 0, len(ps))
	for _, r := range rank(query, texts) {
		p := ps[r.index]
		p.Score = r.score
		out = append(out, p)
	}
	if n := c.BedrockRerankingConfiguration.NumberOfRerankedResults; n != nil {
		out = out[:min(*n, len(out))]
	}
	return out
}

func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r, "Rerank")
	if !ok {
		return
	}
	if d := s.opts.FirstEventDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			s.update(func(st *Stats) { st.Canceled++ })
			return
		}
	}
	texts := make([]string, len(req.Sources))
	for i, src := range req.Sources {
		texts[i] = *src.InlineDocumentSource.TextDocument.Text
	}
	ranked := rank(*req.Queries[0].TextQuery.Text, texts)
	if n := req.RerankConfiguration.BedrockRerankingConfiguration.NumberOfResults; n != nil {
		ranked = ranked[:min(*n, len(ranked))]
	}
	type result struct {
		Index          int     `json:"index"`
		RelevanceScore float64 `json:"relevanceScore"`
	}
	resp := struct {
		Results []result `json:"results"`
	}{Results: make([]result, len(ranked))}
	for i, r := range ranked {
		resp.Results[i] = result{r.index, r.score}
	}
	if writeJSON(w, resp) != nil {
		s.update(func(st *Stats) { st.Canceled++ })
		return
	}
	s.update(func(st *Stats) { st.Completed++ })
}
