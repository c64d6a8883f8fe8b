package bedrocktest

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"testing"
)

func TestInvokeTitan(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	for _, tc := range []struct {
		model, body  string
		status, dims int
		unit         bool
	}{
		{TitanEmbedV2, `{"inputText":"hi","dimensions":256,"normalize":true}`, 200, 256, true},
		{TitanEmbedV2, `{"inputText":"hi"}`, 200, 1024, true},
		{TitanEmbedV2, `{"inputText":"hi","normalize":false}`, 200, 1024, false},
		{TitanEmbedV2, `{"inputText":"hi","dimensions":300}`, 400, 0, false},
		{TitanEmbedV2, `{"inputText":""}`, 400, 0, false},
		{TitanEmbedV1, `{"inputText":"hi"}`, 200, 1536, false},
		{TitanEmbedV1, `{"inputText":"hi","dimensions":1536}`, 400, 0, false},
		{TitanEmbedV1, `not json`, 400, 0, false},
	} {
		resp := post(t, s.URL+"/model/"+tc.model+"/invoke", fakeAuth, tc.body)
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d (%s), want %d", tc.model, tc.body, resp.StatusCode, data, tc.status)
			continue
		}
		if tc.status != http.StatusOK {
			if resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
				t.Errorf("%s %s: error type %q", tc.model, tc.body, resp.Header.Get("X-Amzn-ErrorType"))
			}
			continue
		}
		var out struct {
			Embedding []float64 `json:"embedding"`
			Tokens    int       `json:"inputTextTokenCount"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, x := range out.Embedding {
			sum += x * x
		}
		if len(out.Embedding) != tc.dims || (math.Abs(math.Sqrt(sum)-1) < 1e-4) != tc.unit || out.Tokens != 1 {
			t.Errorf("%s %s: %d dims, norm %v, %d tokens", tc.model, tc.body, len(out.Embedding), math.Sqrt(sum), out.Tokens)
		}
	}
	if n := len(s.InvokeRequests()); n != 7 {
		t.Errorf("recorded %d requests, want the 7 decoded", n)
	}
}
