package bedrock_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

func docMessage(text string, docs ...*genai.ChatDocument) *genai.ChatRequest {
	content := []genai.ContentBlock{{Type: genai.BlockText, Text: text}}
	for _, d := range docs {
		content = append(content, genai.ContentBlock{Type: genai.BlockDocument, Document: d})
	}
	return &genai.ChatRequest{Messages: []genai.Message{{Role: genai.RoleUser, Content: content}}}
}

// A PDF and a spreadsheet arrive at Converse as document blocks, byte-exact, with their
// names and formats; a document without a name gets one, as Converse requires.
func TestDocumentsArriveAsConverseDocuments(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	pdf, err := os.ReadFile("../rag/testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	xlsx, err := os.ReadFile("../rag/testdata/office/figures.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	req := docMessage("summarize these",
		&genai.ChatDocument{Name: "Report (2026) [draft]", Format: "pdf", Data: pdf, Context: "the annual report"},
		&genai.ChatDocument{Format: "xlsx", Data: xlsx})
	resp, err := m.Chat(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "You said: summarize these [document Report (2026) [draft], pdf, 12716 bytes] [document Document 2, xlsx, 4942 bytes]"
	if resp.Text != want {
		t.Errorf("answer = %q, want %q", resp.Text, want)
	}
	got := srv.Requests()[0].Messages[0].Content
	if d := got[1].Document; d == nil || !bytes.Equal(d.Source.Bytes, pdf) || d.Context != "the annual report" {
		t.Errorf("the PDF block arrived as %+v", got[1])
	}
	if d := got[2].Document; d == nil || !bytes.Equal(d.Source.Bytes, xlsx) {
		t.Errorf("the xlsx block arrived as %+v", got[2])
	}
}

// Bedrock's limits are refused before any call, with the document and the rule named.
func TestDocumentLimitsRefusedBeforeCall(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	txt := func(name string) *genai.ChatDocument {
		return &genai.ChatDocument{Name: name, Format: "txt", Data: []byte("hello")}
	}
	six := []*genai.ChatDocument{txt("a"), txt("b"), txt("c"), txt("d"), txt("e"), txt("f")}
	cases := []struct {
		name string
		req  *genai.ChatRequest
		want string
	}{
		{"six documents", docMessage("hi", six...), "messages[0].content[6]: more than 5 documents in one request, Bedrock's limit"},
		{"too big", docMessage("hi", &genai.ChatDocument{Name: "big", Format: "txt", Data: bytes.Repeat([]byte("a"), 4_500_001)}),
			"messages[0].content[1]: document is 4500001 bytes, over Bedrock's limit of 4500000"},
		{"dot in name", docMessage("hi", txt("report.pdf")), `messages[0].content[1]: document name "report.pdf" has '.'; Bedrock takes only letters, digits, single spaces, hyphens, parentheses and square brackets`},
		{"two spaces", docMessage("hi", txt("my  report")), `messages[0].content[1]: document name "my  report" has two spaces in a row, which Bedrock refuses`},
		{"tab", docMessage("hi", txt("my\treport")), `messages[0].content[1]: document name "my\treport" has '\t'; Bedrock takes only`},
		{"assistant", &genai.ChatRequest{Messages: []genai.Message{
			genai.TextMessage(genai.RoleUser, "hi"),
			{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockDocument, Document: txt("a")}}},
			genai.TextMessage(genai.RoleUser, "well?"),
		}}, "messages[1].content[0]: documents are allowed only in user messages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Chat(context.Background(), c.req)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests reached Bedrock", n)
	}
	// Five documents are within the limit.
	if _, err := m.Chat(context.Background(), docMessage("hi", six[:5]...)); err != nil {
		t.Fatal(err)
	}
}
