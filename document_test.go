package genai_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"genai"
)

func documentBlock(mediaType string, data []byte, extra string) string {
	return `{"type":"document","source":{"type":"base64","media_type":"` + mediaType + `","data":"` +
		base64.StdEncoding.EncodeToString(data) + `"}` + extra + `}`
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSniffDocument(t *testing.T) {
	cases := map[string]string{
		"rag/testdata/pdf/groff.pdf":       "pdf",
		"rag/testdata/office/notes.docx":   "docx",
		"rag/testdata/office/figures.xlsx": "xlsx",
		"rag/testdata/office/figures.csv":  "txt",
		"rag/testdata/pdf/notes.html":      "html",
		"rag/testdata/office/notes.odt":    "", // a zip, but neither Word's nor Excel's
	}
	for path, want := range cases {
		if got := genai.SniffDocument(readFile(t, path)); got != want {
			t.Errorf("SniffDocument(%s) = %q, want %q", path, got, want)
		}
	}
	cfb := func(stream string) []byte {
		b := []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
		for _, c := range stream {
			b = append(b, byte(c), 0)
		}
		return b
	}
	if got := genai.SniffDocument(cfb("WordDocument")); got != "doc" {
		t.Errorf("a Word 97 file sniffed as %q", got)
	}
	if got := genai.SniffDocument(cfb("Workbook")); got != "xls" {
		t.Errorf("an Excel 97 file sniffed as %q", got)
	}
	if got := genai.SniffDocument([]byte("\x89PNG\r\n\x1a\n\x00")); got != "" {
		t.Errorf("a PNG sniffed as %q", got)
	}
	if got := genai.SniffDocument([]byte("a\x00b")); got != "" {
		t.Errorf("binary bytes sniffed as %q", got)
	}
}

func TestParseChatRequestDocuments(t *testing.T) {
	pdf := readFile(t, "rag/testdata/pdf/groff.pdf")
	body := `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"read this"},` +
		documentBlock("application/pdf", pdf, `,"title":"Report","context":"from 2026","cache_control":{"type":"ephemeral"}`) + `,` +
		`{"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}}]}]}`
	req, _, err := genai.ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	c := req.Messages[0].Content
	if d := c[1].Document; c[1].Type != genai.BlockDocument || d == nil || d.Name != "Report" || d.Format != "pdf" ||
		d.Context != "from 2026" || !bytes.Equal(d.Data, pdf) || c[1].Cache == nil {
		t.Errorf("the PDF block = %+v", c[1])
	}
	if d := c[2].Document; d == nil || d.Format != "txt" || string(d.Data) != "plain words" || d.Name != "" {
		t.Errorf("the text block = %+v", c[2])
	}
}

func TestParseChatRequestRefusesDocuments(t *testing.T) {
	pdf := readFile(t, "rag/testdata/pdf/groff.pdf")
	docx := readFile(t, "rag/testdata/office/notes.docx")
	msg := func(blocks ...string) string {
		return `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},` + strings.Join(blocks, ",") + `]}]}`
	}
	many := make([]string, genai.MaxDocuments+1)
	for i := range many {
		many[i] = `{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}`
	}
	cases := []struct {
		body string
		code string
		want string
	}{
		{msg(documentBlock("application/zip", pdf, "")), genai.EMEDIATYPE, `messages[0].content[1].source.media_type: "application/zip" is not a document type`},
		{msg(documentBlock("application/vnd.openxmlformats-officedocument.wordprocessingml.document", pdf, "")), genai.EMEDIATYPE,
			"messages[0].content[1].source.media_type: declared application/vnd.openxmlformats-officedocument.wordprocessingml.document but the bytes are application/pdf"},
		{msg(documentBlock("application/pdf", docx, "")), genai.EMEDIATYPE, "messages[0].content[1].source.media_type: declared application/pdf but the bytes are application/vnd.openxmlformats"},
		{msg(documentBlock("text/plain", []byte("\x00\x01\x02"), "")), genai.EMEDIATYPE, "messages[0].content[1].source.data: bytes are not a document"},
		{msg(documentBlock("application/pdf", nil, "")), genai.EINVALID, "messages[0].content[1].source.data: must not be empty"},
		{msg(`{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"%%%"}}`), genai.EINVALID, "messages[0].content[1].source.data: not valid base64"},
		{msg(`{"type":"document","source":{"type":"url","url":"http://x/a.pdf"}}`), genai.EINVALID, "messages[0].content[1].source.url: not supported by this server"},
		{msg(`{"type":"document","source":{"type":"file","media_type":"application/pdf","data":"x"}}`), genai.EINVALID, `messages[0].content[1].source.type: must be "base64" or "text", got "file"`},
		{msg(`{"type":"document"}`), genai.EINVALID, "messages[0].content[1].source: required for a document block"},
		{msg(documentBlock("application/pdf", pdf, `,"citations":{"enabled":true}`)), genai.EINVALID, "messages[0].content[1].citations"},
		{msg(many...), genai.ETOOLARGE, "messages: 21 documents, at most 20 per request"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[` + documentBlock("application/pdf", pdf, "") + `]}]}`,
			genai.EINVALID, "messages[1].content[0]: documents are allowed only in user messages"},
	}
	for _, c := range cases {
		_, _, err := genai.ParseChatRequest([]byte(c.body))
		var e *genai.Error
		if !errors.As(err, &e) || e.Code != c.code || !strings.Contains(e.Message, c.want) {
			t.Errorf("err = %v, want %s %q", err, c.code, c.want)
		}
	}
}

// The size limit, checked without a JSON body of 13 MB (slow under the race detector):
// on the bytes a surface decoded, and on a request built in code.
func TestDocumentSizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte("a"), genai.MaxDocumentBytes+1)
	_, err := genai.NewDocument("", "text/plain", big, "messages[0].content[1].source")
	var e *genai.Error
	if !errors.As(err, &e) || e.Code != genai.ETOOLARGE || e.Message != "messages[0].content[1].source.data: document is 10000001 bytes, over the limit of 10000000" {
		t.Errorf("NewDocument: %v", err)
	}
	req := &genai.ChatRequest{Messages: []genai.Message{{Role: genai.RoleUser, Content: []genai.ContentBlock{
		{Type: genai.BlockText, Text: "hi"}, {Type: genai.BlockDocument, Document: &genai.ChatDocument{Format: "txt", Data: big}},
	}}}}
	err = req.Validate()
	if !errors.As(err, &e) || e.Code != genai.ETOOLARGE || e.Message != "messages[0].content[1].source.data: document is 10000001 bytes, over the limit of 10000000" {
		t.Errorf("Validate: %v", err)
	}
	req.Messages[0].Content[1].Document.Format = "pages"
	if err := req.Validate(); !errors.As(err, &e) || e.Code != genai.EMEDIATYPE {
		t.Errorf("Validate of an unknown format: %v", err)
	}
	_, err = genai.DecodeDocument("", "application/pdf", strings.Repeat("A", (genai.MaxDocumentBytes/3+2)*4), "p")
	if !errors.As(err, &e) || e.Code != genai.ETOOLARGE || e.Message != "p.data: document is over the limit of 10000000 bytes" {
		t.Errorf("DecodeDocument: %v", err)
	}
}
