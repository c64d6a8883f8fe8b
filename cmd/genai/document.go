package main

import (
	"context"
	"strings"

	"genai"
	"genai/rag"
)

// documentText extracts a chat document's text with the knowledge base's parsers, for
// the OpenAI-compatible provider, whose endpoints take no document files. It lives here,
// where the providers are wired, because the provider must not import the knowledge
// base (package rag): openai.Options takes it as a function.
func documentText(ctx context.Context, d *genai.ChatDocument) (string, error) {
	ext := d.Format
	switch d.Format {
	case "doc", "xls":
		// rag reads Office's zip formats only, not the binary ones of Office 97.
		return "", genai.Errorf(genai.EMEDIATYPE, "document %q: the %s format cannot be read as text for this provider; send it as docx, xlsx or pdf", d.Name, d.Format)
	}
	name := d.Name
	if name == "" {
		name = "document"
	}
	// Parse takes the format from the name's extension; the format was checked against
	// the bytes when the document arrived (genai.NewDocument).
	p, err := rag.Parse(ctx, name+"."+ext, d.Data, rag.ParseLimits{})
	if err != nil {
		return "", err
	}
	texts := make([]string, 0, len(p.Sections))
	for _, s := range p.Sections {
		if t := strings.TrimSpace(s.Text); t != "" {
			texts = append(texts, t)
		}
	}
	return strings.Join(texts, "\n\n"), nil
}
