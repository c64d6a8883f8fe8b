package genai

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"mime"
	"strings"
	"unicode/utf8"
)

// BlockDocument is a file sent to a model beside the text of a user message: a PDF, a
// spreadsheet, a Word document, a web page or plain text (ChatDocument).
const BlockDocument BlockType = "document"

// Limits on the documents of one request that this server sets whatever the provider,
// to bound the memory of one request; a provider's own narrower limits (Bedrock's five
// documents of 4.5 MB) are checked by that provider.
const (
	MaxDocumentBytes = 10_000_000 // decoded bytes of one document
	MaxDocuments     = 20         // documents in one request
)

// ChatDocument is a file a user sends to a model. Format is one of DocumentFormats and has
// been checked against the bytes by SniffDocument. Name is what the model (and the
// user) call it; it may be empty, and a provider with rules for names checks them.
// Context, when set, says how the document is to be read (Anthropic's "context").
type ChatDocument struct {
	Name    string
	Format  string
	Data    []byte
	Context string
}

// DocumentFormats are the formats a Document may have, Bedrock Converse's list, each
// with its MIME type.
var DocumentFormats = map[string]string{
	"pdf":  "application/pdf",
	"csv":  "text/csv",
	"doc":  "application/msword",
	"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xls":  "application/vnd.ms-excel",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"html": "text/html",
	"txt":  "text/plain",
	"md":   "text/markdown",
}

// documentFormatList names the formats in errors.
const documentFormatList = "pdf, csv, doc, docx, xls, xlsx, html, txt or md"

// DocumentTextFunc extracts the text of a document, for a provider whose models take
// no documents and are sent the text instead. Its errors are *Error values naming the
// document.
type DocumentTextFunc func(ctx context.Context, d *ChatDocument) (string, error)

// MediaType returns the document's MIME type, such as "application/pdf".
func (d *ChatDocument) MediaType() string { return DocumentFormats[d.Format] }

// DocumentFormatOf returns the format of the MIME type mediaType (parameters such as
// charset are ignored), or "" when it is not a document format.
func DocumentFormatOf(mediaType string) string {
	t, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return ""
	}
	if t == "text/x-markdown" {
		return "md"
	}
	for f, mt := range DocumentFormats {
		if mt == t {
			return f
		}
	}
	return ""
}

// SniffDocument returns the format that data's bytes show: "pdf", "docx" or "xlsx" (by
// the parts of the zip package), "doc" or "xls" (by the streams of the compound file),
// "html" for text that starts as a web page does, "txt" for any other UTF-8 text without
// NUL bytes (which csv and md are too), and "" for bytes of none of these.
func SniffDocument(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "pdf"
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return ""
		}
		for _, f := range zr.File {
			switch {
			case strings.HasPrefix(f.Name, "word/"):
				return "docx"
			case strings.HasPrefix(f.Name, "xl/"):
				return "xlsx"
			}
		}
		return ""
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		// The compound file's directory names its streams in UTF-16LE: Word's main
		// stream is "WordDocument", Excel's "Workbook" (or "Book" before Excel 97).
		switch {
		case bytes.Contains(data, utf16le("WordDocument")):
			return "doc"
		case bytes.Contains(data, utf16le("Workbook")), bytes.Contains(data, utf16le("Book")):
			return "xls"
		}
		return ""
	}
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return ""
	}
	head := strings.ToLower(strings.TrimLeft(string(data[:min(len(data), 512)]), "\ufeff \t\r\n"))
	if strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") {
		return "html"
	}
	return "txt"
}

func utf16le(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return b
}

// documentMatches reports whether bytes sniffed as sniffed may be a document of the
// declared format: text is txt, csv, md or html alike (a web page need not start with
// a doctype).
func documentMatches(declared, sniffed string) bool {
	if declared == sniffed {
		return true
	}
	switch declared {
	case "txt", "csv", "md", "html":
		return sniffed == "txt" || sniffed == "html"
	}
	return false
}

// NewDocument checks a document a client sent, at path: a known media type, at most
// MaxDocumentBytes, bytes that are what the media type says (SniffDocument). Every
// surface that takes documents reads them with it, so the rules are the same on each.
func NewDocument(name, mediaType string, data []byte, path string) (*ChatDocument, error) {
	format := DocumentFormatOf(mediaType)
	if format == "" {
		return nil, Errorf(EMEDIATYPE, "%s.media_type: %q is not a document type (%s)", path, mediaType, documentFormatList)
	}
	if len(data) == 0 {
		return nil, Errorf(EINVALID, "%s.data: must not be empty", path)
	}
	if len(data) > MaxDocumentBytes {
		return nil, Errorf(ETOOLARGE, "%s.data: document is %d bytes, over the limit of %d", path, len(data), MaxDocumentBytes)
	}
	sniffed := SniffDocument(data)
	if sniffed == "" {
		return nil, Errorf(EMEDIATYPE, "%s.data: bytes are not a document (%s)", path, documentFormatList)
	}
	if !documentMatches(format, sniffed) {
		return nil, Errorf(EMEDIATYPE, "%s.media_type: declared %s but the bytes are %s", path, mediaType, DocumentFormats[sniffed])
	}
	return &ChatDocument{Name: name, Format: format, Data: data}, nil
}

// DecodeDocument decodes base64 document data at path and checks it with NewDocument;
// it refuses data over the limit before decoding it.
func DecodeDocument(name, mediaType, b64, path string) (*ChatDocument, error) {
	if base64.StdEncoding.DecodedLen(len(b64)) > MaxDocumentBytes+3 {
		return nil, Errorf(ETOOLARGE, "%s.data: document is over the limit of %d bytes", path, MaxDocumentBytes)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, Errorf(EINVALID, "%s.data: not valid base64", path)
	}
	return NewDocument(name, mediaType, data, path)
}

// validateDocument checks the document block j of message i: in a user message, and
// within the server's size limit.
func (r *ChatRequest) validateDocument(i, j int) error {
	b := r.Messages[i].Content[j]
	if r.Messages[i].Role != RoleUser {
		return Errorf(EINVALID, "messages[%d].content[%d]: documents are allowed only in user messages", i, j)
	}
	if b.Document == nil || len(b.Document.Data) == 0 {
		return Errorf(EINVALID, "messages[%d].content[%d].source: required for a document block", i, j)
	}
	if _, ok := DocumentFormats[b.Document.Format]; !ok {
		return Errorf(EMEDIATYPE, "messages[%d].content[%d]: document format %q is not %s", i, j, b.Document.Format, documentFormatList)
	}
	if len(b.Document.Data) > MaxDocumentBytes {
		return Errorf(ETOOLARGE, "messages[%d].content[%d].source.data: document is %d bytes, over the limit of %d", i, j, len(b.Document.Data), MaxDocumentBytes)
	}
	return nil
}
