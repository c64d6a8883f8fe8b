package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"genai/bedrock/bedrocktest"
	"genai/server"
)

// apiKeyUpstream serves bedrocktest over TLS (the SDK sends a Bedrock API key only over
// HTTPS) taking key, with token as AWS_BEARER_TOKEN_BEDROCK and no AWS access keys in
// the environment.
func apiKeyUpstream(t *testing.T, key, token string) *bedrocktest.Server {
	t.Helper()
	isolateAWS(t)
	up := bedrocktest.NewServer(bedrocktest.Options{TLS: true, APIKey: key})
	t.Cleanup(up.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, up.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", ca)
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", up.URL)
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", token)
	return up
}

// A Bedrock API key alone is a credential: provider auto picks Bedrock, and chat and
// count_tokens reach it with the key as a bearer token.
func TestBedrockAPIKey(t *testing.T) {
	up := apiKeyUpstream(t, "ABSKkey-0123456789", "ABSKkey-0123456789")
	_, base := start(t, map[string]string{}) // provider auto
	var cfg struct{ Provider string }
	getJSON(t, base+"/api/config", &cfg)
	if cfg.Provider != "bedrock" {
		t.Fatalf("provider %q with a Bedrock API key, want bedrock", cfg.Provider)
	}
	if text, _ := chatSSE(t, base, hello); text != "You said: hello there" {
		t.Errorf("answer %q", text)
	}
	resp, err := http.Post(base+"/v1/messages/count_tokens", "application/json",
		strings.NewReader(`{"model":"anthropic.claude-3-5-haiku-20241022-v1:0","messages":[{"role":"user","content":"one two three"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(server.TokenCountHeader); resp.StatusCode != 200 || got != server.TokenCountProvider {
		t.Errorf("count_tokens: status %d, %s %q, want Bedrock's count", resp.StatusCode, server.TokenCountHeader, got)
	}
	reqs := up.Requests()
	if len(reqs) < 2 {
		t.Fatalf("upstream got %d requests, want the chat and the count", len(reqs))
	}
	for _, r := range reqs {
		if r.Authorization != "Bearer ABSKkey-0123456789" {
			t.Errorf("%s sent Authorization %q, want the API key", r.Operation, r.Authorization)
		}
	}
}

// A wrong key fails the chat as an upstream error (Bedrock refused it; the server does
// not fall back to SigV4 or answer anyway).
func TestBedrockWrongAPIKey(t *testing.T) {
	up := apiKeyUpstream(t, "ABSKkey-0123456789", "ABSKkey-wrong")
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	status, body := post(t, base+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if status != http.StatusBadGateway || !strings.Contains(body, `"code":"upstream_error"`) {
		t.Errorf("status %d: %s, want 502 upstream_error", status, body)
	}
	if len(up.Requests()) != 0 {
		t.Error("a request with a wrong key was answered")
	}
}
