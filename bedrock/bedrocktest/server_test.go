package bedrocktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// These tests read the wire directly; the SDK's view of the same server is tested in
// package bedrock.

const fakeAuth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"

func post(t *testing.T, url, auth, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUnsignedRequestRejected(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp := post(t, s.URL+"/model/m/converse", "", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "UnrecognizedClientException" {
		t.Errorf("status %d, error type %q; want 403 UnrecognizedClientException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if len(s.Requests()) != 0 {
		t.Error("an unsigned request was recorded")
	}
}

func TestUnknownOperation(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp := post(t, s.URL+"/model/m/invoke", fakeAuth, `{}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

func TestValidationException(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp := post(t, s.URL+"/model/m/converse-stream", fakeAuth,
		`{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AAAA"}}}]}]}`)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" || !strings.Contains(string(body), "bmp") {
		t.Errorf("status %d, type %q, body %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
}

func TestStreamFraming(t *testing.T) {
	s := NewServer(Options{Reply: func(*Request) Reply { return Reply{Tokens: []string{"a \"quoted\" ", "<b>"}} }})
	defer s.Close()
	resp := post(t, s.URL+"/model/m/converse-stream", fakeAuth, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	dec := eventstream.NewDecoder()
	var types, texts []string
	for {
		msg, err := dec.Decode(resp.Body, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if mt := msg.Headers.Get(":message-type"); mt == nil || mt.String() != "event" {
			t.Fatalf(":message-type = %v", mt)
		}
		if ct := msg.Headers.Get(":content-type"); ct == nil || ct.String() != "application/json" {
			t.Fatalf(":content-type = %v", ct)
		}
		et := msg.Headers.Get(":event-type").String()
		types = append(types, et)
		if !json.Valid(msg.Payload) || bytes.HasSuffix(msg.Payload, []byte("\n")) {
			t.Errorf("%s payload %q", et, msg.Payload)
		}
		if et == "contentBlockDelta" {
			var d deltaEvent
			json.Unmarshal(msg.Payload, &d)
			texts = append(texts, d.Delta.Text)
		}
	}
	want := "messageStart contentBlockDelta contentBlockDelta contentBlockStop messageStop metadata"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
	if strings.Join(texts, "") != `a "quoted" <b>` {
		t.Errorf("texts = %q", texts)
	}
	if st := s.Stats(); st.Completed != 1 || st.Active != 0 {
		t.Errorf("stats = %+v", st)
	}
}
