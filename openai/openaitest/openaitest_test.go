package openaitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests read the wire by hand, so that the server's protocol is checked without
// the client library that the openai package's tests drive it with.

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	res, err := http.Post(url+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestStreamWire(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	res := post(t, srv.URL, `{"model":"m","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"user","content":"hello there"}]}`)
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var events []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", line)
		}
		events = append(events, data)
	}
	if len(events) != 5 || events[4] != "[DONE]" {
		t.Fatalf("events = %q, want two tokens, finish, usage, [DONE]", events)
	}
	var c chunk
	var text []string
	for _, e := range events[:2] {
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatal(err)
		}
		text = append(text, c.Choices[0].Delta.Content)
	}
	if !slices.Equal(text, []string{"hello ", "there"}) {
		t.Errorf("tokens = %q", text)
	}
	if !strings.Contains(events[2], `"finish_reason":"stop"`) {
		t.Errorf("finish chunk = %s", events[2])
	}
	if !strings.Contains(events[3], `"choices":[]`) || !strings.Contains(events[3], `"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}`) {
		t.Errorf("usage chunk = %s", events[3])
	}
}

func TestStreamWithoutUsage(t *testing.T) {
	srv := New(Config{})
	defer srv.Close()
	res := post(t, srv.URL, `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	body, _ := io.ReadAll(res.Body)
	if bytes.Contains(body, []byte(`"usage"`)) {
		t.Errorf("usage sent without stream_options.include_usage:\n%s", body)
	}
}

func TestErrorShape(t *testing.T) {
	srv := New(Config{APIKey: "k"})
	defer srv.Close()
	res := post(t, srv.URL, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	var e apiError
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusUnauthorized || e.Error.Code == nil || *e.Error.Code != "invalid_api_key" {
		t.Errorf("status %d, error %+v", res.StatusCode, e.Error)
	}
}

func TestDecodeDataURL(t *testing.T) {
	mt, data, err := DecodeDataURL("data:image/gif;base64,R0lGODlh")
	if err != nil || mt != "image/gif" || string(data) != "GIF89a" {
		t.Errorf("got %q, %q, %v", mt, data, err)
	}
	for _, bad := range []string{"https://example.com/a.png", "data:image/png,raw", "data:image/png;base64", "data:image/png;base64,!!"} {
		if _, _, err := DecodeDataURL(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestStopDecodesStringOrArray(t *testing.T) {
	var a, b ChatRequest
	if json.Unmarshal([]byte(`{"stop":"END"}`), &a) != nil || json.Unmarshal([]byte(`{"stop":["a","b"]}`), &b) != nil {
		t.Fatal("decode failed")
	}
	if !slices.Equal(a.Stop, []string{"END"}) || !slices.Equal(b.Stop, []string{"a", "b"}) {
		t.Errorf("stop = %q, %q", a.Stop, b.Stop)
	}
}

func TestEmbeddingsWire(t *testing.T) {
	srv := New(Config{EmbeddingDimensions: 8})
	defer srv.Close()
	for _, body := range []string{
		`{"model":"m","input":"one text"}`,
		`{"model":"m","input":["one text"],"encoding_format":"base64"}`,
	} {
		res, err := http.Post(srv.URL+"/embeddings", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Object string `json:"object"`
			Data   []struct {
				Index     int             `json:"index"`
				Embedding json.RawMessage `json:"embedding"`
			} `json:"data"`
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"usage"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || out.Object != "list" || len(out.Data) != 1 || out.Usage.PromptTokens != 2 {
			t.Fatalf("%s: status %d, %+v, %v", body, res.StatusCode, out, err)
		}
		var floats []float32
		var b64 string
		switch {
		case json.Unmarshal(out.Data[0].Embedding, &floats) == nil:
			if !slices.Equal(floats, Embedding("m", "one text", 8)) {
				t.Errorf("%s: embedding %v", body, floats)
			}
		case json.Unmarshal(out.Data[0].Embedding, &b64) == nil:
			if len(b64) != base64Len(8*4) {
				t.Errorf("%s: base64 embedding %q", body, b64)
			}
		default:
			t.Errorf("%s: embedding %s", body, out.Data[0].Embedding)
		}
	}
	reqs := srv.EmbeddingRequests()
	if len(reqs) != 2 || !reqs[0].InputIsString || reqs[1].InputIsString || reqs[1].EncodingFormat != "base64" {
		t.Errorf("recorded %+v", reqs)
	}
	res, err := http.Post(srv.URL+"/embeddings", "application/json", strings.NewReader(`{"model":"m","input":[""]}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("empty input: status %d, want 400", res.StatusCode)
	}
}

func base64Len(n int) int { return (n + 2) / 3 * 4 }

func TestStatsCountOpenStreamsAndNoRecordKeepsNone(t *testing.T) {
	srv := New(Config{FirstTokenDelay: time.Hour, NoRecord: true})
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	wait, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := srv.Wait(wait, func(s Stats) bool { return s.ActiveStreams == 1 }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := srv.Wait(wait, func(s Stats) bool { return s.ActiveStreams == 0 }); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests recorded with NoRecord", n)
	}
}
