package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/server"
)

// unCounted is a model bedrocktest refuses to count tokens for, as Bedrock refuses models
// whose tokenizer it does not expose.
const unCounted = "amazon.nova-lite-v1:0"

// profileARN is an application inference profile, a model id that is an ARN.
const profileARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"

// bedrockServer serves genai on bedrocktest, with opts for the server (Chat and Provider
// filled in), and returns its URL and Anthropic's client pointed at it.
func bedrockServer(t *testing.T, opts server.Options) (string, anthropic.Client, *bedrocktest.Server) {
	t.Helper()
	up := bedrocktest.NewServer(bedrocktest.Options{CountTokensRefused: func(model string) bool { return model == unCounted }})
	t.Cleanup(up.Close)
	opts.Chat = bedrock.New(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(up.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}, bedrock.Options{})
	opts.Provider = "bedrock"
	ts := httptest.NewServer(server.New(opts))
	t.Cleanup(ts.Close)
	return ts.URL, anthropic.NewClient(aoption.WithBaseURL(ts.URL), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0)), up
}

// On Bedrock, count_tokens is Bedrock's own count (CountTokens), for the whole request.
func TestAnthropicSDKCountTokensByBedrock(t *testing.T) {
	_, client, up := bedrockServer(t, server.Options{})
	var resp *http.Response
	n, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model:    profileARN,
		System:   anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: []anthropic.TextBlockParam{{Text: "be brief"}}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there, how are you?"))},
	}, aoption.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if n.InputTokens != 7 { // bedrocktest counts words: 2 of the system prompt, 5 of the message
		t.Errorf("input tokens %d, want Bedrock's 7", n.InputTokens)
	}
	if got := resp.Header.Get(server.TokenCountHeader); got != server.TokenCountProvider {
		t.Errorf("%s: %q, want %q", server.TokenCountHeader, got, server.TokenCountProvider)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "CountTokens" || reqs[0].ModelID != profileARN {
		t.Fatalf("upstream requests %+v, want one CountTokens for the profile", reqs)
	}
}

// A model Bedrock does not count for, and a provider that counts nothing, get the
// estimate, said so in the header.
func TestAnthropicSDKCountTokensEstimate(t *testing.T) {
	_, bedrockClient, up := bedrockServer(t, server.Options{})
	none := httptest.NewServer(server.New(server.Options{}))
	t.Cleanup(none.Close)
	for name, client := range map[string]anthropic.Client{
		"bedrock, model not counted": bedrockClient,
		"no provider":                anthropic.NewClient(aoption.WithBaseURL(none.URL), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0)),
	} {
		var resp *http.Response
		n, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
			Model:    unCounted,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there, how are you?"))},
		}, aoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n.InputTokens != 7 { // hello , there , how are you ? — one a word and one a mark
			t.Errorf("%s: input tokens %d, want the estimate 7", name, n.InputTokens)
		}
		if got := resp.Header.Get(server.TokenCountHeader); got != server.TokenCountEstimate {
			t.Errorf("%s: %s: %q, want %q", name, server.TokenCountHeader, got, server.TokenCountEstimate)
		}
	}
	for _, r := range up.Requests() {
		if r.Operation != "CountTokens" {
			t.Errorf("counting tokens called %s", r.Operation)
		}
	}
}

// A request Bedrock would refuse is refused, not estimated.
func TestAnthropicSDKCountTokensInvalid(t *testing.T) {
	_, client, up := bedrockServer(t, server.Options{})
	_, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model: bedrock.DefaultModel,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("one")),
			anthropic.NewUserMessage(anthropic.NewTextBlock("two"))},
	})
	if err == nil || !strings.Contains(err.Error(), "alternate") {
		t.Errorf("err = %v, want the roles' rule", err)
	}
	if len(up.Requests()) != 0 {
		t.Error("an invalid request was sent to Bedrock")
	}
}

// An application inference profile ARN is a model id like any other: it passes
// validation, goes escaped into Bedrock's URL path, and labels the metrics when it is
// one of the configured models.
func TestAnthropicSDKInferenceProfileARN(t *testing.T) {
	base, client, up := bedrockServer(t, server.Options{ChatModel: bedrock.DefaultModel, ChatModels: []string{profileARN}, MetricsPublic: true})
	msg, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     profileARN,
		MaxTokens: 100,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Model != profileARN || len(msg.Content) != 1 || msg.Content[0].Text != "You said: hello there" {
		t.Errorf("message %+v", msg)
	}
	r := up.Requests()[0]
	if want := "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse"; r.Path != want || r.ModelID != profileARN {
		t.Errorf("upstream path %q model %q, want %q", r.Path, r.ModelID, want)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `genai_model_invocations_total{model="` + profileARN + `",outcome="ok",provider="bedrock"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
}
