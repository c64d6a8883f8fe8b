package bedrocktest

import (
	"io"
	"net/http"
	"testing"
)

const countBody = `{"input":{"converse":{"system":[{"text":"be brief"}],"messages":[{"role":"user","content":[{"text":"one two three"}]}]}}}`

func TestBearerAuth(t *testing.T) {
	s := NewServer(Options{APIKey: "ABSKkey"})
	defer s.Close()
	noKey := NewServer(Options{})
	defer noKey.Close()
	for _, tc := range []struct {
		name, url, auth string
		status          int
	}{
		{"the API key", s.URL, "Bearer ABSKkey", 200},
		{"SigV4 still", s.URL, fakeAuth, 200},
		{"a wrong key", s.URL, "Bearer ABSKother", 403},
		{"a key where none is set", noKey.URL, "Bearer ABSKkey", 403},
		{"an empty key", noKey.URL, "Bearer ", 403},
		{"no credentials", s.URL, "", 403},
	} {
		resp := post(t, tc.url+"/model/m/count-tokens", tc.auth, countBody)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d (%s), want %d", tc.name, resp.StatusCode, body, tc.status)
		}
		if tc.status == 200 && string(body) != `{"inputTokens":5}` {
			t.Errorf("%s: body %s, want the 5 words counted", tc.name, body)
		}
	}
}

func TestCountTokensRefusedModel(t *testing.T) {
	s := NewServer(Options{CountTokensRefused: func(m string) bool { return m == "amazon.nova-lite-v1:0" }})
	defer s.Close()
	resp := post(t, s.URL+"/model/amazon.nova-lite-v1:0/count-tokens", fakeAuth, countBody)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" {
		t.Errorf("status %d %s: %s, want Bedrock's 400 ValidationException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), body)
	}
}
