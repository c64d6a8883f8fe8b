package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"genai"
	"genai/rag"
)

// TextIngester ingests a text document into the local knowledge base, as
// POST /api/kb/documents does with a JSON body; rag.Documents is one.
type TextIngester interface {
	IngestText(ctx context.Context, title, uri, text string) (*rag.Ingested, error)
}

// IngestTools returns the ingestion group: ingest_document, which adds a text document
// to the knowledge base through docs, the same path as an upload. It is not offered to
// the chat's model, whose turn should not write the knowledge base unasked; an
// assistant connected over MCP, whose user approves each call, has it.
func IngestTools(docs TextIngester) []genai.ToolRunner {
	return []genai.ToolRunner{ingestDocument{docs}}
}

type ingestDocument struct{ docs TextIngester }

func (ingestDocument) Tool() genai.Tool {
	return genai.Tool{
		Name: "ingest_document",
		Description: "Add a text document (plain text, Markdown or HTML) to the user's knowledge base, where search_knowledge_base finds it. " +
			"A document of the same uri is replaced; without a uri, the same text replaces itself.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{` +
			`"title":{"type":"string","description":"the document's title (default: its first heading, else its uri)"},` +
			`"uri":{"type":"string","description":"where the text comes from, such as a URL or a file name; a name ending in .md or .html is read as Markdown or HTML"},` +
			`"text":{"type":"string","description":"the document's text"}},"required":["text"]}`),
	}
}

func (t ingestDocument) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	var in struct {
		Title string `json:"title"`
		URI   string `json:"uri"`
		Text  string `json:"text"`
	}
	if err := decodeInput(input, &in); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, genai.Errorf(genai.EINVALID, "text: required")
	}
	doc, err := t.docs.IngestText(ctx, in.Title, in.URI, in.Text)
	if err != nil {
		return nil, err
	}
	what := "Ingested"
	switch {
	case doc.Unchanged:
		what = "Left unchanged (same text as stored)"
	case doc.Replaced:
		what = "Replaced"
	}
	return text(fmt.Sprintf("%s the document %q (id %s, uri %s, %d chunks).", what, doc.Title, doc.ID, doc.URI, doc.Chunks)), nil
}
