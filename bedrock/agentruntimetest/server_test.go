package agentruntimetest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

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

const ragBody = `{"input":{"text":"héllo?"},"retrieveAndGenerateConfiguration":{"type":"KNOWLEDGE_BASE",` +
	`"knowledgeBaseConfiguration":{"knowledgeBaseId":"KB1","modelArn":"arn:m"}}}`

func TestUnsignedRequestRejected(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp := post(t, s.URL+"/knowledgebases/KB1/retrieve", "", `{"retrievalQuery":{"text":"hi"}}`)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "UnrecognizedClientException" {
		t.Errorf("status %d, error type %q; want 403 UnrecognizedClientException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestUnknownOperationAndKnowledgeBase(t *testing.T) {
	s := NewServer(Options{KnowledgeBaseID: "KB1"})
	defer s.Close()
	if resp := post(t, s.URL+"/agents/A/agentAliases/B/sessions/C/text", fakeAuth, `{}`); resp.StatusCode != http.StatusNotFound ||
		resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("unknown operation: status %d type %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if resp := post(t, s.URL+"/knowledgebases/KB2/retrieve", fakeAuth, `{"retrievalQuery":{"text":"hi"}}`); resp.StatusCode != http.StatusNotFound ||
		resp.Header.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Errorf("unknown knowledge base: status %d type %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func TestRetrieveWire(t *testing.T) {
	s := NewServer(Options{Passages: []Passage{
		S3("s3://b/low.txt", "c-low", "low", 0.1),
		S3("s3://b/high.txt", "c-high", "high", 0.9),
		{Text: "web", Location: Location{Type: "WEB", URI: "https://example.com/"}, Score: 0.5},
	}})
	defer s.Close()
	resp := post(t, s.URL+"/knowledgebases/KB1/retrieve", fakeAuth,
		`{"retrievalQuery":{"text":"hi"},"retrievalConfiguration":{"vectorSearchConfiguration":{"numberOfResults":2,"overrideSearchType":"HYBRID"}}}`)
	var got struct {
		RetrievalResults []struct {
			Content  struct{ Text, Type string }
			Location struct {
				Type        string
				S3Location  *struct{ URI string }
				WebLocation *struct{ URL string }
			}
			Metadata map[string]string
			Score    float64
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	r := got.RetrievalResults
	if len(r) != 2 || r[0].Content.Text != "high" || r[0].Score != 0.9 || r[0].Location.Type != "S3" || r[0].Location.S3Location.URI != "s3://b/high.txt" ||
		r[0].Metadata[ChunkIDKey] != "c-high" || r[0].Metadata[SourceURIKey] != "s3://b/high.txt" ||
		r[1].Location.Type != "WEB" || r[1].Location.WebLocation.URL != "https://example.com/" {
		t.Errorf("results = %+v", r)
	}
	if s.Requests()[0].VectorSearch().OverrideSearchType != "HYBRID" {
		t.Errorf("request not recorded as sent: %+v", s.Requests()[0])
	}
}

func TestStreamFraming(t *testing.T) {
	s := NewServer(Options{Answer: func(*Request, []Passage) Answer {
		return Answer{
			Parts:     []string{"Ünï ", "côdé. ", "Next."},
			Citations: []Citation{{Text: "Ünï côdé.", References: []Passage{S3("s3://b/a", "c1", "A", 0)}}, {Text: "Next.", References: []Passage{S3("s3://b/b", "", "B", 0)}}},
		}
	}})
	defer s.Close()
	resp := post(t, s.URL+"/retrieveAndGenerateStream", fakeAuth, ragBody)
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if resp.Header.Get("X-Amzn-Bedrock-Knowledge-Base-Session-Id") == "" {
		t.Error("no session id header")
	}
	dec := eventstream.NewDecoder()
	var types []string
	text := ""
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
		et := msg.Headers.Get(":event-type").String()
		types = append(types, et)
		switch et {
		case "output":
			var o TextInput
			json.Unmarshal(msg.Payload, &o)
			text += o.Text
		case "citation":
			var c wireCitationEvent
			if err := json.Unmarshal(msg.Payload, &c); err != nil {
				t.Fatal(err)
			}
			tp := c.GeneratedResponsePart.TextResponsePart
			// Character offsets, end that of the last character.
			runes := []rune(text)
			if tp.Span.End >= len(runes) || string(runes[tp.Span.Start:tp.Span.End+1]) != tp.Text {
				t.Errorf("span %+v does not cover %q in %q", tp.Span, tp.Text, text)
			}
			if c.Citation.GeneratedResponsePart != c.GeneratedResponsePart || len(c.RetrievedReferences) != 1 {
				t.Errorf("citation event %s", msg.Payload)
			}
		}
	}
	if got, want := strings.Join(types, " "), "output output citation output citation"; got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
	if !utf8.ValidString(text) || text != "Ünï côdé. Next." {
		t.Errorf("text = %q", text)
	}
	if st := s.Stats(); st.Completed != 1 || st.Active != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSessions(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp := post(t, s.URL+"/retrieveAndGenerate", fakeAuth, ragBody)
	var got struct {
		SessionID string
		Output    struct{ Text string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.SessionID == "" || got.Output.Text == "" {
		t.Fatalf("answer %+v err %v", got, err)
	}
	again := strings.Replace(ragBody, `{"input"`, `{"sessionId":"`+got.SessionID+`","input"`, 1)
	if resp := post(t, s.URL+"/retrieveAndGenerateStream", fakeAuth, again); resp.StatusCode != 200 ||
		resp.Header.Get("X-Amzn-Bedrock-Knowledge-Base-Session-Id") != got.SessionID {
		t.Errorf("known session: status %d session %q", resp.StatusCode, resp.Header.Get("X-Amzn-Bedrock-Knowledge-Base-Session-Id"))
	}
	unknown := strings.Replace(ragBody, `{"input"`, `{"sessionId":"made-up","input"`, 1)
	if resp := post(t, s.URL+"/retrieveAndGenerate", fakeAuth, unknown); resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Errorf("unknown session: status %d type %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
