package bedrock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// apiKeyModel serves bedrocktest over TLS (the SDK sends a bearer token only over HTTPS)
// taking key, and returns a ChatModel configured as cmd/genai does, by LoadConfig, from
// an environment with the Bedrock API key token and no AWS access keys at all.
func apiKeyModel(t *testing.T, key, token string) (*bedrock.ChatModel, *bedrocktest.Server) {
	t.Helper()
	isolateAWSEnv(t)
	srv := newServer(t, bedrocktest.Options{TLS: true, APIKey: key})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", ca)
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", srv.URL)
	t.Setenv(bedrock.APIKeyEnv, token)
	cfg, err := bedrock.LoadConfig(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return bedrock.New(cfg, bedrock.Options{MaxAttempts: 1}), srv
}

func TestAPIKeyAuthenticatesWithoutAccessKeys(t *testing.T) {
	m, srv := apiKeyModel(t, "ABSKbedrock-key-0123", "ABSKbedrock-key-0123")
	if !bedrock.CredentialsAvailable(context.Background(), aws.Config{Region: "us-east-1"}) {
		t.Error("CredentialsAvailable = false with a Bedrock API key set")
	}
	resp, err := m.Chat(context.Background(), userText("hello there"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text != "You said: hello there" {
		t.Errorf("answer %q", resp.Text)
	}
	if _, _, err := collect(t, m.Stream(context.Background(), userText("streamed"))); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Requests() {
		if r.Authorization != "Bearer ABSKbedrock-key-0123" {
			t.Errorf("%s sent Authorization %q, want the API key as a bearer token", r.Operation, r.Authorization)
		}
	}
}

func TestWrongAPIKeyRefused(t *testing.T) {
	m, srv := apiKeyModel(t, "ABSKbedrock-key-0123", "ABSKbedrock-key-wrong")
	_, err := m.Chat(context.Background(), userText("hello"))
	if err == nil || !strings.Contains(err.Error(), "API Key is valid") {
		t.Fatalf("err = %v, want Bedrock's refusal of the key", err)
	}
	if len(srv.Requests()) != 0 {
		t.Error("a request with a wrong key was answered")
	}
}

func TestCountTokens(t *testing.T) {
	const profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	req := userText("one two three four")
	req.System = "be brief"
	req.Model = profile
	n, err := m.CountTokens(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 { // bedrocktest counts words: 2 of the system prompt, 4 of the message
		t.Errorf("CountTokens = %d, want 6", n)
	}
	r := srv.Requests()[0]
	if r.Operation != "CountTokens" || r.ModelID != profile || len(r.System) != 1 || r.LastUserText() != "one two three four" {
		t.Errorf("upstream request %+v", r)
	}
	if want := "/model/" + strings.NewReplacer(":", "%3A", "/", "%2F").Replace(profile) + "/count-tokens"; r.Path != want {
		t.Errorf("path = %q, want %q", r.Path, want)
	}
}

func TestCountTokensUnsupportedModel(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{CountTokensRefused: func(model string) bool { return model == "amazon.nova-lite-v1:0" }})
	m := newModel(t, srv, bedrock.Options{})
	req := userText("hello")
	req.Model = "amazon.nova-lite-v1:0"
	if _, err := m.CountTokens(context.Background(), req); !errors.Is(err, genai.ErrCountUnsupported) {
		t.Errorf("err = %v, want ErrCountUnsupported", err)
	}
	// Any other refusal is the request's fault, not a reason to estimate.
	req.Model = ""
	req.Messages = append(req.Messages, genai.TextMessage(genai.RoleUser, "again"))
	_, err := m.CountTokens(context.Background(), req)
	if errors.Is(err, genai.ErrCountUnsupported) || genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("err = %v, want EINVALID", err)
	}
}

// A cross-region inference profile id that CountTokens refuses is counted as its
// foundation model, whose tokenizer is the same.
func TestCountTokensProfileAsFoundationModel(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{CountTokensRefused: func(model string) bool { return strings.HasPrefix(model, "us.") }})
	m := newModel(t, srv, bedrock.Options{})
	req := userText("one two three")
	req.Model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
	n, err := m.CountTokens(context.Background(), req)
	if err != nil || n != 3 {
		t.Fatalf("CountTokens = %d, %v; want 3", n, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[1].ModelID != "anthropic.claude-3-5-haiku-20241022-v1:0" {
		t.Errorf("upstream requests %+v, want the profile then its model", reqs)
	}
}
