package bedrock

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"genai"
)

// Converse's limits on documents, narrower than the server's own (genai.MaxDocuments,
// genai.MaxDocumentBytes): Bedrock refuses a request past them with a ValidationException
// that does not say which document broke which rule, so they are checked here first.
const (
	maxDocuments     = 5
	maxDocumentBytes = 4_500_000
)

// validateDocuments checks Converse's rules for the documents of req: at most
// maxDocuments in the request, each at most maxDocumentBytes, and a name of letters,
// digits, single spaces, hyphens, parentheses and square brackets (a document without
// a name is given one by documentName). Documents in user messages only is the domain's
// rule (genai.ChatRequest.Validate).
func validateDocuments(req *genai.ChatRequest) error {
	n := 0
	for i, m := range req.Messages {
		for j, b := range m.Content {
			if b.Type != genai.BlockDocument {
				continue
			}
			n++
			path := fmt.Sprintf("messages[%d].content[%d]", i, j)
			if n > maxDocuments {
				return genai.Errorf(genai.ETOOLARGE, "%s: more than %d documents in one request, Bedrock's limit", path, maxDocuments)
			}
			if size := len(b.Document.Data); size > maxDocumentBytes {
				return genai.Errorf(genai.ETOOLARGE, "%s: document is %d bytes, over Bedrock's limit of %d", path, size, maxDocumentBytes)
			}
			if name := b.Document.Name; name != "" {
				if err := checkDocumentName(name); err != "" {
					return genai.Errorf(genai.EINVALID, "%s: document name %q %s", path, name, err)
				}
			}
		}
	}
	return nil
}

// checkDocumentName returns what is wrong with a document name by Bedrock's rule, or "".
func checkDocumentName(name string) string {
	prev := rune(0)
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '(', c == ')', c == '[', c == ']':
		case c == ' ':
			if prev == ' ' {
				return "has two spaces in a row, which Bedrock refuses"
			}
		default:
			return fmt.Sprintf("has %q; Bedrock takes only letters, digits, single spaces, hyphens, parentheses and square brackets", c)
		}
		prev = c
	}
	return ""
}

// documentName is the name Converse gets for the n-th document (from 1) of a request:
// its own, or "Document n" when it has none, as Converse requires one.
func documentName(d *genai.ChatDocument, n int) string {
	if d.Name != "" {
		return d.Name
	}
	return fmt.Sprintf("Document %d", n)
}

// documentBlock is d as a Converse document block.
func documentBlock(d *genai.ChatDocument, n int) types.ContentBlock {
	block := types.DocumentBlock{
		Name:   aws.String(documentName(d, n)),
		Format: types.DocumentFormat(d.Format),
		Source: &types.DocumentSourceMemberBytes{Value: d.Data},
	}
	if d.Context != "" {
		block.Context = aws.String(d.Context)
	}
	return &types.ContentBlockMemberDocument{Value: block}
}
