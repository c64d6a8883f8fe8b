package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"genai"
	"genai/bedrock/bedrocktest"
	"genai/openai/openaitest"
)

// A PDF sent through each surface with its official SDK's document types reaches
// Converse as a document block, byte-exact and named: Anthropic's DocumentBlockParam on
// /api/chat and /v1/messages, OpenAI's file content part on /v1/chat/completions.
func TestDocumentsThroughEverySurface(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock"})
	pdf, err := os.ReadFile("../../rag/testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(pdf)
	want := "You said: summarize [document Report 2026, pdf, 12716 bytes]"

	doc := anthropic.NewDocumentBlock(anthropic.Base64PDFSourceParam{Data: b64})
	doc.OfDocument.Title = anthropic.String("Report 2026")
	params := anthropic.MessageNewParams{Model: DefaultBedrockModel, MaxTokens: 100, Messages: []anthropic.MessageParam{
		anthropic.NewUserMessage(anthropic.NewTextBlock("summarize"), doc),
	}}

	// /api/chat takes the Messages request as the SDK writes it.
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	body = append(body[:len(body)-1], `,"stream":false}`...)
	r, err := http.Post(base+"/api/chat", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var chat struct {
		Content []struct{ Text string } `json:"content"`
	}
	if err := json.Unmarshal(data, &chat); err != nil || r.StatusCode != 200 || len(chat.Content) != 1 || chat.Content[0].Text != want {
		t.Errorf("/api/chat: %d %s, want %q", r.StatusCode, data, want)
	}

	ac := anthropic.NewClient(aoption.WithBaseURL(base), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
	msg, err := ac.Messages.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != want {
		t.Errorf("/v1/messages: %+v, want %q", msg.Content, want)
	}

	oc := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	resp, err := oc.Chat.Completions.New(t.Context(), oai.ChatCompletionNewParams{Model: DefaultBedrockModel, Messages: []oai.ChatCompletionMessageParamUnion{
		oai.UserMessage([]oai.ChatCompletionContentPartUnionParam{
			oai.TextContentPart("summarize"),
			oai.FileContentPart(oai.ChatCompletionContentPartFileFileParam{
				Filename: oai.String("Report 2026.pdf"),
				FileData: oai.String("data:application/pdf;base64," + b64),
			}),
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != want {
		t.Errorf("/v1/chat/completions: %q, want %q", got, want)
	}

	// /v1/responses: an input_file part.
	rr, err := oc.Responses.New(t.Context(), responses.ResponseNewParams{Model: DefaultBedrockModel,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
				responses.ResponseInputContentParamOfInputText("summarize"),
				{OfInputFile: &responses.ResponseInputFileParam{Filename: oai.String("Report 2026.pdf"), FileData: oai.String("data:application/pdf;base64," + b64)}},
			}, responses.EasyInputMessageRoleUser),
		}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rr.OutputText(); got != want {
		t.Errorf("/v1/responses: %q, want %q", got, want)
	}

	reqs := up.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests reached Bedrock, want 4", len(reqs))
	}
	for i, rq := range reqs {
		d := rq.Messages[0].Content[1].Document
		if d == nil || d.Format != "pdf" || d.Name != "Report 2026" || !bytes.Equal(d.Source.Bytes, pdf) {
			t.Errorf("request %d: document %+v", i, rq.Messages[0].Content[1])
		}
	}

	// A file whose bytes are not what it says is refused before any call, by field.
	_, err = oc.Chat.Completions.New(t.Context(), oai.ChatCompletionNewParams{Model: DefaultBedrockModel, Messages: []oai.ChatCompletionMessageParamUnion{
		oai.UserMessage([]oai.ChatCompletionContentPartUnionParam{
			oai.TextContentPart("summarize"),
			oai.FileContentPart(oai.ChatCompletionContentPartFileFileParam{
				Filename: oai.String("a.docx"),
				FileData: oai.String("data:application/vnd.openxmlformats-officedocument.wordprocessingml.document;base64," + b64),
			}),
		}),
	}})
	var apiErr *oai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 415 || !strings.Contains(apiErr.RawJSON(), "messages[0].content[1].file.file_data.media_type: declared application/vnd.openxmlformats-officedocument.wordprocessingml.document but the bytes are application/pdf") {
		t.Errorf("a PDF declared as docx: %v", err)
	}
	if n := len(up.Requests()); n != 4 {
		t.Errorf("%d requests reached Bedrock, want 4", n)
	}
}

// With the OpenAI-compatible provider, whose endpoints take no document files, a PDF
// reaches the model as its text, extracted by the knowledge base's parser and labelled.
func TestDocumentAsExtractedTextForOpenAIProvider(t *testing.T) {
	isolateAWS(t)
	up := openaitest.New(openaitest.Config{})
	t.Cleanup(up.Close)
	_, base := start(t, map[string]string{"GENAI_OPENAI_BASE_URL": up.URL, "GENAI_CHAT_MODEL": "test-model"})
	pdf, err := os.ReadFile("../../rag/testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	oc := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	_, err = oc.Chat.Completions.New(t.Context(), oai.ChatCompletionNewParams{Model: "test-model", Messages: []oai.ChatCompletionMessageParamUnion{
		oai.UserMessage([]oai.ChatCompletionContentPartUnionParam{
			oai.TextContentPart("summarize"),
			oai.FileContentPart(oai.ChatCompletionContentPartFileFileParam{
				Filename: oai.String("field notes.pdf"),
				FileData: oai.String("data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf)),
			}),
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	reqs := up.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests reached the endpoint", len(reqs))
	}
	parts := reqs[0].Messages[0].Content
	if len(parts) != 2 || parts[0].Text != "summarize" || parts[1].Type != "text" {
		t.Fatalf("parts = %+v", parts)
	}
	text := parts[1].Text
	if !strings.HasPrefix(text, "Document field notes:\n") || !strings.Contains(text, "Retrieval augmented generation depends on extraction") ||
		strings.Contains(text, "%PDF") {
		t.Errorf("the document arrived as %q", text)
	}
}

// documentText reads each format rag parses, and refuses Office 97's binary formats,
// which it does not, by name.
func TestDocumentText(t *testing.T) {
	docx, err := os.ReadFile("../../rag/testdata/office/notes.docx")
	if err != nil {
		t.Fatal(err)
	}
	text, err := documentText(t.Context(), &genai.ChatDocument{Name: "notes", Format: "docx", Data: docx})
	if err != nil || strings.TrimSpace(text) == "" || strings.Contains(text, "word/") {
		t.Errorf("docx: %q, %v", text, err)
	}
	text, err = documentText(t.Context(), &genai.ChatDocument{Format: "md", Data: []byte("# Title\n\nSome *words*.")})
	if err != nil || !strings.Contains(text, "Some words.") {
		t.Errorf("md: %q, %v", text, err)
	}
	_, err = documentText(t.Context(), &genai.ChatDocument{Name: "old", Format: "doc", Data: []byte("\xd0\xcf\x11\xe0")})
	var e *genai.Error
	if !errors.As(err, &e) || e.Code != genai.EMEDIATYPE || !strings.Contains(e.Message, `document "old": the doc format cannot be read as text`) {
		t.Errorf("doc: %v", err)
	}
}
