package bedrock_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/agentruntimetest"
)

func newReranker(t *testing.T, srv *agentruntimetest.Server, model string) *bedrock.Reranker {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg := aws.Config{
		Region:       "us-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	r, err := bedrock.NewReranker(cfg, bedrock.RerankOptions{Model: model, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRerankerScoresEachText(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{})
	r := newReranker(t, srv, bedrock.RerankCohereV35)

	texts := []string{
		"Billing is monthly.",
		"To install the CLI, download it first.",
		"Install it.",
		strings.Repeat("x", bedrock.MaxRerankTextChars+10), // cut, not refused
	}
	scores, err := r.Rerank(context.Background(), "how to install the CLI", texts)
	if err != nil {
		t.Fatal(err)
	}
	// Scores are the fake's share of the query's five words, by input index.
	want := []float64{0, 4.0 / 5, 1.0 / 5, 0}
	if len(scores) != len(want) {
		t.Fatalf("scores = %v, want %v", scores, want)
	}
	for i := range want {
		if d := scores[i] - want[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("scores[%d] = %v, want %v (all %v)", i, scores[i], want[i], scores)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "Rerank" {
		t.Fatalf("requests = %+v, want one Rerank", reqs)
	}
	if got, want := reqs[0].RerankModelArn(), "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0"; got != want {
		t.Errorf("model ARN = %q, want %q", got, want)
	}
	if n := *reqs[0].RerankConfiguration.BedrockRerankingConfiguration.NumberOfResults; n != len(texts) {
		t.Errorf("numberOfResults = %d, want %d (every text scored)", n, len(texts))
	}
	if got := len([]rune(*reqs[0].Sources[3].InlineDocumentSource.TextDocument.Text)); got != bedrock.MaxRerankTextChars {
		t.Errorf("long text sent with %d characters, want %d", got, bedrock.MaxRerankTextChars)
	}
}

func TestRerankerLimits(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{})
	r := newReranker(t, srv, bedrock.RerankAmazonV1)
	ctx := context.Background()

	if scores, err := r.Rerank(ctx, "q", nil); err != nil || scores != nil {
		t.Errorf("no texts: %v, %v; want no call and no scores", scores, err)
	}
	_, err := r.Rerank(ctx, "q", make([]string, bedrock.MaxRerankSources+1))
	if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(err.Error(), "1000") {
		t.Errorf("1001 texts: %v, want EINVALID naming the limit", err)
	}
	if _, err := r.Rerank(ctx, " ", []string{"a"}); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("empty query: %v, want EINVALID", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input, want 0", n)
	}
	// 1000 texts is Bedrock's limit, and allowed.
	texts := make([]string, bedrock.MaxRerankSources)
	for i := range texts {
		texts[i] = "t"
	}
	texts[999] = "q"
	scores, err := r.Rerank(ctx, "q", texts)
	if err != nil || len(scores) != 1000 || scores[999] != 1 || scores[0] != 0 {
		t.Errorf("1000 texts: err %v, %d scores", err, len(scores))
	}
}

func TestRerankerThrottled(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{ThrottleFirst: 10})
	r := newReranker(t, srv, bedrock.RerankAmazonV1)
	_, err := r.Rerank(context.Background(), "q", []string{"a"})
	if genai.ErrorCode(err) != genai.ETHROTTLED {
		t.Fatalf("err = %v, want ETHROTTLED", err)
	}
}

func TestRerankModelARN(t *testing.T) {
	for _, tc := range []struct {
		region, model, want string
		ok                  bool
	}{
		{"eu-central-1", "amazon.rerank-v1:0", "arn:aws:bedrock:eu-central-1::foundation-model/amazon.rerank-v1:0", true},
		{"", "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0", "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0", true},
		{"us-east-1", "", "", false},
		{"", "amazon.rerank-v1:0", "", false},
		{"us-east-1", "arn:aws:s3:::bucket", "", false},
		{"us-east-1", "foundation-model/amazon.rerank-v1:0", "", false},
	} {
		got, err := bedrock.RerankModelARN(tc.region, tc.model)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("RerankModelARN(%q, %q) = %q, %v; want %q", tc.region, tc.model, got, err, tc.want)
		}
		if !tc.ok && genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("RerankModelARN(%q, %q) = %q, %v; want EINVALID", tc.region, tc.model, got, err)
		}
	}
}

func TestKBRerankingConfigurationSent(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages})
	arn := "arn:aws:bedrock:us-east-1::foundation-model/amazon.rerank-v1:0"
	kb := newKB(t, srv, bedrock.KBOptions{RerankModelARN: arn, RerankCandidates: 50})

	// Bedrock's order is by score (Install… first); reranked by the query's words,
	// "Refunds take a week." leads.
	hits, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "refunds take how long", K: 2, Mode: genai.RetrieveHybrid})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].Text != "Refunds take a week." {
		t.Fatalf("hits = %+v, want 2 led by the refunds passage", hits)
	}
	if _, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "refunds?", K: 3}); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, k := range []int{2, 3} {
		v := reqs[i].VectorSearch()
		if v == nil || v.RerankingConfiguration == nil {
			t.Fatalf("%s: no rerankingConfiguration sent", reqs[i].Operation)
		}
		b := v.RerankingConfiguration.BedrockRerankingConfiguration
		if b.ModelConfiguration.ModelArn != arn || *b.NumberOfRerankedResults != k || *v.NumberOfResults != 50 {
			t.Errorf("%s: model %q, reranked %d of %d; want %q, %d of 50", reqs[i].Operation, b.ModelConfiguration.ModelArn, *b.NumberOfRerankedResults, *v.NumberOfResults, arn, k)
		}
	}
}

func TestKBRerankModelInvalid(t *testing.T) {
	_, err := bedrock.NewKnowledgeBase(aws.Config{Region: "us-east-1"}, bedrock.KBOptions{KnowledgeBaseID: testKBID, RerankModelARN: "amazon.rerank-v1:0"})
	if genai.ErrorCode(err) != genai.EINVALID {
		t.Fatalf("err = %v, want EINVALID for a model id where an ARN is needed", err)
	}
}
