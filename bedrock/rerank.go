package bedrock

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"

	"genai"
)

// The reranking models of Amazon Bedrock.
const (
	RerankAmazonV1  = "amazon.rerank-v1:0"
	RerankCohereV35 = "cohere.rerank-v3-5:0"
)

// Limits of Bedrock's Rerank API: sources per call, and characters of the query and
// of each source's text.
const (
	MaxRerankSources   = 1000
	MaxRerankTextChars = 32000
)

// rerankARN is the shape Bedrock accepts as a reranking model ARN.
var rerankARN = regexp.MustCompile(`^arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]{1,20}:(\d{12})?:(foundation-model|inference-profile|application-inference-profile)/.+$`)

// RerankModelARN returns the ARN of a reranking model: model as is when it is an ARN,
// else the foundation model of that id in region
// (arn:aws:bedrock:REGION::foundation-model/ID), as Rerank and the knowledge bases'
// rerankingConfiguration need an ARN, not an id. It fails with EINVALID for an empty
// model, an ARN of the wrong shape, or an id with no region.
func RerankModelARN(region, model string) (string, error) {
	model = strings.TrimSpace(model)
	switch {
	case model == "":
		return "", genai.Errorf(genai.EINVALID, "rerank model: required, such as %s or %s", RerankAmazonV1, RerankCohereV35)
	case strings.HasPrefix(model, "arn:"):
		if !rerankARN.MatchString(model) {
			return "", genai.Errorf(genai.EINVALID, "rerank model: %q is not a Bedrock model ARN such as arn:aws:bedrock:us-west-2::foundation-model/%s", model, RerankAmazonV1)
		}
		return model, nil
	case strings.ContainsAny(model, "/ \t"):
		return "", genai.Errorf(genai.EINVALID, "rerank model: %q is neither a model id such as %s nor an ARN", model, RerankAmazonV1)
	case region == "":
		return "", genai.Errorf(genai.EINVALID, "rerank model: %q needs a region to build its ARN (GENAI_AWS_REGION or AWS_REGION), or pass the ARN", model)
	}
	return "arn:aws:bedrock:" + region + "::foundation-model/" + model, nil
}

// RerankOptions configure a Reranker.
type RerankOptions struct {
	// Model is a reranking model: an id such as RerankAmazonV1, whose ARN is built in
	// the config's region, or an ARN. Required.
	Model string
	// MaxAttempts and MaxBackoff are as in Options.
	MaxAttempts int
	MaxBackoff  time.Duration
}

// Reranker is a genai.Reranker on Amazon Bedrock's Rerank API (Bedrock Agent
// Runtime). It is safe for concurrent use.
type Reranker struct {
	client   *bedrockagentruntime.Client
	modelARN string
}

var _ genai.Reranker = (*Reranker)(nil)

// NewReranker returns a Reranker that calls Bedrock Agent Runtime with cfg, set up as
// NewKnowledgeBase sets up its client. It does not contact Bedrock. Its errors are
// RerankModelARN's.
func NewReranker(cfg aws.Config, opts RerankOptions) (*Reranker, error) {
	arn, err := RerankModelARN(cfg.Region, opts.Model)
	if err != nil {
		return nil, err
	}
	return &Reranker{client: agentRuntimeClient(cfg, opts.MaxAttempts, opts.MaxBackoff), modelARN: arn}, nil
}

// ModelARN returns the ARN of the reranking model.
func (r *Reranker) ModelARN() string { return r.modelARN }

// Rerank asks Bedrock's Rerank for the relevance of each text to query, in one call:
// scores[i] is that of texts[i], from 0 to 1. No texts is no call and no scores. Over
// MaxRerankSources texts is an EINVALID error, as is an empty query; a query or text
// over MaxRerankTextChars is cut there (the models read far fewer tokens than that and
// cut it themselves), so a long passage does not fail a question. Other failures are
// mapped as for ChatModel.Chat.
func (r *Reranker) Rerank(ctx context.Context, query string, texts []string) ([]float64, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	if len(texts) > MaxRerankSources {
		return nil, genai.Errorf(genai.EINVALID, "rerank: %d passages is over Bedrock's limit of %d", len(texts), MaxRerankSources)
	}
	if strings.TrimSpace(query) == "" {
		return nil, genai.Errorf(genai.EINVALID, "rerank: query: must not be empty")
	}
	sources := make([]types.RerankSource, len(texts))
	for i, t := range texts {
		sources[i] = types.RerankSource{
			Type: types.RerankSourceTypeInline,
			InlineDocumentSource: &types.RerankDocument{
				Type:         types.RerankDocumentTypeText,
				TextDocument: &types.RerankTextDocument{Text: aws.String(cut(t, MaxRerankTextChars))},
			},
		}
	}
	out, err := r.client.Rerank(ctx, &bedrockagentruntime.RerankInput{
		Queries: []types.RerankQuery{{
			Type:      types.RerankQueryContentTypeText,
			TextQuery: &types.RerankTextDocument{Text: aws.String(cut(query, MaxRerankTextChars))},
		}},
		Sources: sources,
		RerankingConfiguration: &types.RerankingConfiguration{
			Type: types.RerankingConfigurationTypeBedrockRerankingModel,
			BedrockRerankingConfiguration: &types.BedrockRerankingConfiguration{
				ModelConfiguration: &types.BedrockRerankingModelConfiguration{ModelArn: aws.String(r.modelARN)},
				NumberOfResults:    aws.Int32(int32(len(texts))),
			},
		},
	})
	if err != nil {
		return nil, upstreamError(ctx, "Rerank", "rerank model "+r.modelARN, err)
	}
	scores := make([]float64, len(texts))
	seen := make([]bool, len(texts))
	for _, res := range out.Results {
		i := int(aws.ToInt32(res.Index))
		if res.Index == nil || res.RelevanceScore == nil || i < 0 || i >= len(texts) || seen[i] {
			return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock Rerank for rerank model %s: a result with a missing, repeated or out-of-range index or score", r.modelARN)
		}
		seen[i] = true
		scores[i] = float64(*res.RelevanceScore)
	}
	if len(out.Results) != len(texts) {
		return nil, genai.Errorf(genai.EUPSTREAM, "Bedrock Rerank for rerank model %s: %d results for %d passages", r.modelARN, len(out.Results), len(texts))
	}
	return scores, nil
}

// cut returns s cut to at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// rerankingConfiguration is a knowledge base's vectorSearchConfiguration part that has
// Bedrock rerank the retrieved passages with modelARN and keep the best k.
func rerankingConfiguration(modelARN string, k int) *types.VectorSearchRerankingConfiguration {
	return &types.VectorSearchRerankingConfiguration{
		Type: types.VectorSearchRerankingConfigurationTypeBedrockRerankingModel,
		BedrockRerankingConfiguration: &types.VectorSearchBedrockRerankingConfiguration{
			ModelConfiguration:      &types.VectorSearchBedrockRerankingModelConfiguration{ModelArn: aws.String(modelARN)},
			NumberOfRerankedResults: aws.Int32(int32(k)),
		},
	}
}
