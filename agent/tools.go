package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"genai"
)

// This file holds the server's own tools: search the knowledge base, list its
// documents, search the notes, add a note. Each group is made per request, so that
// the citations of several searches in one answer are numbered on from each other.

// KnowledgeBaseTools returns the knowledge-base group: search_knowledge_base, by kb,
// and list_documents when docs is not nil (a managed knowledge base lists none here).
func KnowledgeBaseTools(kb genai.Retriever, docs genai.DocumentService) []genai.ToolRunner {
	tools := []genai.ToolRunner{&kbSearch{kb: kb}}
	if docs != nil {
		tools = append(tools, listDocuments{docs})
	}
	return tools
}

// NoteTools returns the notes group: search_notes and add_note.
func NoteTools(notes *genai.NoteService) []genai.ToolRunner {
	return []genai.ToolRunner{noteSearch{notes}, addNote{notes}}
}

// decodeInput reads a tool call's input into v, refusing fields the tool does not take;
// the error, for the model, names the field.
func decodeInput(input json.RawMessage, v any) error {
	if err := genai.DecodeJSON(input, v); err != nil {
		return err
	}
	return genai.RefuseUnknown(input, "", v)
}

// kbSearch is search_knowledge_base. It numbers its passages on from those of its
// earlier calls in the same request.
type kbSearch struct {
	kb    genai.Retriever
	cited int
}

func (t *kbSearch) Tool() genai.Tool {
	return genai.Tool{
		Name: "search_knowledge_base",
		Description: "Search the user's knowledge base (their uploaded documents) for passages relevant to a query. " +
			"Returns numbered passages; cite them in your answer as [n].",
		InputSchema: json.RawMessage(`{"type":"object","properties":{` +
			`"query":{"type":"string","description":"what to look for, in words likely to appear in the passages"},` +
			`"k":{"type":"integer","minimum":1,"maximum":20,"description":"how many passages (default 6)"}},"required":["query"]}`),
	}
}

func (t *kbSearch) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	var in struct {
		Query string `json:"query"`
		K     int    `json:"k"`
	}
	if err := decodeInput(input, &in); err != nil {
		return nil, err
	}
	// The model's input enters here: validated once, as the HTTP routes validate theirs.
	q := genai.RetrieveQuery{Query: in.Query, K: in.K}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	hits, err := t.kb.Retrieve(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return text("No passage of the knowledge base matches this query."), nil
	}
	out := &genai.ToolOutput{}
	var b strings.Builder
	for _, h := range hits {
		t.cited++
		fmt.Fprintf(&b, "[%d] %s\n%s\n\n", t.cited, h.SourceName(), strings.TrimSpace(h.Text))
		out.Citations = append(out.Citations, h.Citation(t.cited))
	}
	out.Content = []genai.ContentBlock{{Type: genai.BlockText, Text: strings.TrimSpace(b.String())}}
	return out, nil
}

type listDocuments struct{ docs genai.DocumentService }

func (listDocuments) Tool() genai.Tool {
	return genai.Tool{
		Name:        "list_documents",
		Description: "List the documents in the user's knowledge base: title, source and size, newest first.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{}}`),
	}
}

// maxListedDocuments bounds what list_documents gives the model.
const maxListedDocuments = 200

func (t listDocuments) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	if err := decodeInput(input, &struct{}{}); err != nil {
		return nil, err
	}
	docs, err := t.docs.ListDocuments(ctx)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return text("The knowledge base has no documents."), nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d documents:\n", len(docs))
	for i, d := range docs {
		if i == maxListedDocuments {
			fmt.Fprintf(&b, "… and %d more\n", len(docs)-i)
			break
		}
		fmt.Fprintf(&b, "- %s (%s, %s, %d chunks)\n", d.Title, d.URI, d.Format, d.Chunks)
	}
	return text(b.String()), nil
}

type noteSearch struct{ notes *genai.NoteService }

func (noteSearch) Tool() genai.Tool {
	return genai.Tool{
		Name:        "search_notes",
		Description: "Search the user's notes by meaning, by title, or both (hybrid, the default).",
		InputSchema: json.RawMessage(`{"type":"object","properties":{` +
			`"query":{"type":"string"},` +
			`"mode":{"type":"string","enum":["semantic","title","hybrid"]},` +
			`"k":{"type":"integer","minimum":1,"maximum":20}},"required":["query"]}`),
	}
}

func (t noteSearch) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	var in genai.NoteSearch
	if err := decodeInput(input, &in); err != nil {
		return nil, err
	}
	hits, err := t.notes.Search(ctx, in)
	if err != nil {
		return nil, err
	}
	if len(hits) == 0 {
		return text("No note matches this query."), nil
	}
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "- %s", h.Title)
		if h.Link != "" {
			fmt.Fprintf(&b, " (%s)", h.Link)
		}
		fmt.Fprintf(&b, " [id %s]: %s\n", h.ID, strings.TrimSpace(h.Text))
	}
	return text(b.String()), nil
}

type addNote struct{ notes *genai.NoteService }

func (addNote) Tool() genai.Tool {
	return genai.Tool{
		Name:        "add_note",
		Description: "Add a note to the user's notes. Use it only when the user asks to remember or note something.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{` +
			`"title":{"type":"string"},"link":{"type":"string"},"text":{"type":"string"}},"required":["text"]}`),
	}
}

func (t addNote) Run(ctx context.Context, input json.RawMessage) (*genai.ToolOutput, error) {
	var in struct {
		Title string `json:"title"`
		Link  string `json:"link"`
		Text  string `json:"text"`
	}
	if err := decodeInput(input, &in); err != nil {
		return nil, err
	}
	added, err := t.notes.Add(ctx, []genai.Note{{Title: in.Title, Link: in.Link, Text: in.Text}})
	if err != nil {
		return nil, err
	}
	return text(fmt.Sprintf("Added the note %q (id %s).", added[0].Title, added[0].ID)), nil
}

func text(s string) *genai.ToolOutput {
	return &genai.ToolOutput{Content: []genai.ContentBlock{{Type: genai.BlockText, Text: s}}}
}
