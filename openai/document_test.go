package openai_test

import (
	"context"
	"strings"
	"testing"

	"genai"
	"genai/openai"
	"genai/openai/openaitest"
)

func documentRequest(docs ...*genai.ChatDocument) *genai.ChatRequest {
	content := []genai.ContentBlock{{Type: genai.BlockText, Text: "compare"}}
	for _, d := range docs {
		content = append(content, genai.ContentBlock{Type: genai.BlockDocument, Document: d})
	}
	return &genai.ChatRequest{Messages: []genai.Message{{Role: genai.RoleUser, Content: content}}}
}

// Each document goes as a text part of its extracted text, labelled by its name (or
// number), in its place among the message's parts; the caller's request is unchanged.
func TestDocumentsSentAsLabelledText(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	t.Cleanup(srv.Close)
	extract := func(_ context.Context, d *genai.ChatDocument) (string, error) {
		return strings.ToUpper(string(d.Data)), nil
	}
	m := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "m", DocumentText: extract})
	req := documentRequest(&genai.ChatDocument{Name: "a", Format: "txt", Data: []byte("first")}, &genai.ChatDocument{Format: "md", Data: []byte("second")})
	if _, err := m.Chat(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	parts := srv.Requests()[0].Messages[0].Content
	want := []string{"compare", "Document a:\nFIRST", "Document 2:\nSECOND"}
	if len(parts) != len(want) {
		t.Fatalf("parts = %+v", parts)
	}
	for i, w := range want {
		if parts[i].Type != "text" || parts[i].Text != w {
			t.Errorf("part %d = %+v, want text %q", i, parts[i], w)
		}
	}
	if req.Messages[0].Content[1].Type != genai.BlockDocument {
		t.Error("the caller's request was changed")
	}
}

// Without an extractor, or when extraction fails, the request is refused before any
// call, saying why.
func TestDocumentsRefusedWithoutText(t *testing.T) {
	srv := openaitest.New(openaitest.Config{})
	t.Cleanup(srv.Close)
	req := documentRequest(&genai.ChatDocument{Name: "a", Format: "txt", Data: []byte("x")})
	_, err := openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "m"}).Chat(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "messages[0].content[1]: documents are not supported by this OpenAI-compatible provider") {
		t.Errorf("err = %v", err)
	}
	failing := func(context.Context, *genai.ChatDocument) (string, error) {
		return "", genai.Errorf(genai.EMEDIATYPE, "document \"a\": unreadable")
	}
	_, err = openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "m", DocumentText: failing}).Chat(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), `document "a": unreadable`) {
		t.Errorf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached the endpoint", n)
	}
}
