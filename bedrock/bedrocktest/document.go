package bedrocktest

import (
	"fmt"
	"strings"
)

// DocumentBlock is a document sent in a user Message (Converse's document block).
type DocumentBlock struct {
	Format string `json:"format"` // "pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt" or "md"
	Name   string `json:"name"`
	Source struct {
		Bytes []byte `json:"bytes"`
	} `json:"source"`
	Context string `json:"context,omitempty"`
}

// Bedrock's limits on the documents of one Converse request.
const (
	maxDocuments     = 5
	maxDocumentBytes = 4_500_000
)

// validateDocuments applies Bedrock's rules for document blocks: only in user
// messages, a known format, a name of letters, digits, single spaces, hyphens,
// parentheses and square brackets, bytes present and within the size limit, and at
// most five in a request.
func validateDocuments(req *Request) string {
	n := 0
	for i, m := range req.Messages {
		for j, b := range m.Content {
			d := b.Document
			if d == nil {
				continue
			}
			n++
			at := fmt.Sprintf("messages.%d.content.%d.document", i, j)
			if m.Role != "user" {
				return at + ": documents are allowed only in user messages"
			}
			switch d.Format {
			case "pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md":
			default:
				return fmt.Sprintf("%s.format: %q is not a supported document format", at, d.Format)
			}
			if !validDocumentName(d.Name) {
				return fmt.Sprintf("%s.name: %q: the document name can only contain alphanumeric characters, whitespace characters, hyphens, parentheses, and square brackets, and not more than one consecutive whitespace character", at, d.Name)
			}
			if len(d.Source.Bytes) == 0 {
				return at + ".source.bytes: must not be empty"
			}
			if len(d.Source.Bytes) > maxDocumentBytes {
				return fmt.Sprintf("%s.source.bytes: %d bytes, over the limit of %d", at, len(d.Source.Bytes), maxDocumentBytes)
			}
		}
	}
	if n > maxDocuments {
		return fmt.Sprintf("A request can have at most %d documents, got %d", maxDocuments, n)
	}
	return ""
}

func validDocumentName(name string) bool {
	if name == "" {
		return false
	}
	prev := 'x'
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("-()[]", c):
		case c == ' ':
			if prev == ' ' {
				return false
			}
		default:
			return false
		}
		prev = c
	}
	return true
}

// documentNotes describes the documents of the last user message for EchoReply:
// " [document <name>, <format>, <n> bytes]" for each, so tests can see exactly what
// arrived.
func documentNotes(req *Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if m := req.Messages[i]; m.Role == "user" {
			var sb strings.Builder
			for _, b := range m.Content {
				if d := b.Document; d != nil {
					fmt.Fprintf(&sb, " [document %s, %s, %d bytes]", d.Name, d.Format, len(d.Source.Bytes))
				}
			}
			return sb.String()
		}
	}
	return ""
}
