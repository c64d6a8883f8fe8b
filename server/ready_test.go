package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"genai/server"
)

func getReadyz(t *testing.T, url string) (int, map[string]any, string) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("/readyz answered %d %q, not JSON: %v", resp.StatusCode, raw, err)
	}
	return resp.StatusCode, body, string(raw)
}

// /readyz names the dependencies that are not ready and nothing else: it is open
// without a key, so URLs, paths and upstream errors stay in the log.
func TestReadyzNamesOnlyTheFailingDependency(t *testing.T) {
	detail := fmt.Errorf("the OpenAI-compatible endpoint http://10.0.0.7:11434/v1 does not answer: %w; data directory /srv/genai/data: %w",
		io.ErrUnexpectedEOF, errors.New("no space left on device"))
	ts := newServer(t, server.Options{Ready: func(context.Context) error {
		return &server.NotReady{Failing: []string{"provider", "store"}, Err: detail}
	}})
	status, body, raw := getReadyz(t, ts.URL)
	if status != 503 || body["status"] != "not_ready" {
		t.Errorf("got %d %s; want 503 not_ready", status, raw)
	}
	var failing []string
	for _, f := range body["failing"].([]any) {
		failing = append(failing, f.(string))
	}
	if !slices.Equal(failing, []string{"provider", "store"}) {
		t.Errorf("failing %v; want [provider store]", failing)
	}
	if e, _ := body["error"].(map[string]any); e["code"] != "unavailable" {
		t.Errorf("error %v; want code unavailable", body["error"])
	}
	for _, secret := range []string{"http", "10.0.0.7", "/srv", "unexpected EOF", "no space"} {
		if strings.Contains(raw, secret) {
			t.Errorf("/readyz shows %q: %s", secret, raw)
		}
	}
}

func TestReadyzWithAnUnnamedFailure(t *testing.T) {
	ts := newServer(t, server.Options{Ready: func(context.Context) error { return io.ErrUnexpectedEOF }})
	status, body, raw := getReadyz(t, ts.URL)
	if status != 503 || body["status"] != "not_ready" || strings.Contains(raw, "EOF") {
		t.Errorf("got %d %s; want 503 not_ready without the error's text", status, raw)
	}
}

func TestReadyzReady(t *testing.T) {
	ts := newServer(t, server.Options{Ready: func(context.Context) error { return nil }})
	if status, body, raw := getReadyz(t, ts.URL); status != 200 || body["status"] != "ready" {
		t.Errorf("got %d %s; want 200 ready", status, raw)
	}
}
