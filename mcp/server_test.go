package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"genai"
	"genai/rag"
)

// A document read as a resource is its text as ingested, not its chunks end to end:
// the sentences consecutive chunks share appear once.
func TestDocumentTextJoinsOverlappingChunks(t *testing.T) {
	var paras []string
	for p := range 6 {
		var sentences []string
		for s := range 9 {
			sentences = append(sentences, strings.Repeat("word ", 3+s%4)+"sentence "+string(rune('a'+p))+string(rune('a'+s))+".")
		}
		paras = append(paras, strings.Join(sentences, " "))
	}
	body := strings.Join(paras, "\n\n")
	sections := []rag.Section{{Text: "Intro line."}, {Headings: []string{"Guide", "Setup"}, Text: body}}
	chunks := rag.Chunker{Tokens: 60, Overlap: 20}.Split(sections)
	if len(chunks) < 5 {
		t.Fatalf("want a body split into several overlapping chunks, got %d", len(chunks))
	}
	got := DocumentText(chunks)
	want := "Intro line.\n\nGuide\n\nSetup\n\n" + body
	if got != want {
		t.Errorf("DocumentText:\n%q\nwant\n%q", got, want)
	}
}

// testTool is a server tool whose run is the test's.
type testTool struct {
	name string
	run  func() (*genai.ToolOutput, error)
}

func (t testTool) Tool() genai.Tool {
	return genai.Tool{Name: t.name, Description: "a test tool", InputSchema: json.RawMessage(`{"type":"object"}`)}
}

func (t testTool) Run(context.Context, json.RawMessage) (*genai.ToolOutput, error) { return t.run() }

// docList is a knowledge base of n documents; one with a negative n panics.
type docList struct{ n int }

func (d docList) ListDocuments(context.Context) ([]genai.Document, error) {
	if d.n < 0 {
		panic("store went away")
	}
	var docs []genai.Document
	for i := range d.n {
		docs = append(docs, genai.Document{ID: fmt.Sprintf("doc%04d", i), Title: fmt.Sprintf("Doc %d", i)})
	}
	return docs, nil
}

func (d docList) GetDocument(_ context.Context, id string) (*genai.Document, error) {
	return nil, genai.Errorf(genai.ENOTFOUND, "document %q: not found", id)
}

func (d docList) DocumentChunks(_ context.Context, id string) ([]genai.Chunk, error) {
	return nil, genai.Errorf(genai.ENOTFOUND, "document %q: not found", id)
}

// connect runs a server of opts and returns the SDK's client connected to it.
func connect(t *testing.T, opts ServerOptions) *sdk.ClientSession {
	t.Helper()
	st, ct := sdk.NewInMemoryTransports()
	ss, err := NewServer(opts).srv.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// A tool's images reach the client as images; its failures, panics included, as
// isError results that show only what is safe to show.
func TestToolResults(t *testing.T) {
	var logged strings.Builder
	tools := func() []genai.ToolRunner {
		return []genai.ToolRunner{
			testTool{"picture", func() (*genai.ToolOutput, error) {
				return &genai.ToolOutput{Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "a dot"},
					{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: []byte("\x89PNG")}}}}, nil
			}},
			testTool{"refuses", func() (*genai.ToolOutput, error) { return nil, genai.Errorf(genai.EINVALID, "colour: not a colour") }},
			testTool{"breaks", func() (*genai.ToolOutput, error) { return nil, errors.New("dial tcp 10.0.0.7:5432: refused") }},
			testTool{"panics", func() (*genai.ToolOutput, error) { panic("nil map") }},
		}
	}
	cs := connect(t, ServerOptions{Tools: tools, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	call := func(name string) *sdk.CallToolResult {
		res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	res := call("picture")
	if res.IsError || len(res.Content) != 2 {
		t.Fatalf("picture: %+v", res)
	}
	if img, ok := res.Content[1].(*sdk.ImageContent); !ok || img.MIMEType != "image/png" || string(img.Data) != "\x89PNG" {
		t.Errorf("picture: the image came back as %#v", res.Content[1])
	}
	for name, want := range map[string]string{"refuses": "colour: not a colour", "breaks": "internal error", "panics": "the tool panics failed"} {
		res := call(name)
		text := ""
		if len(res.Content) == 1 {
			text = res.Content[0].(*sdk.TextContent).Text
		}
		if !res.IsError || text != want {
			t.Errorf("%s: isError %v, %q; want an error result %q", name, res.IsError, text, want)
		}
	}
	if !strings.Contains(logged.String(), "10.0.0.7:5432") {
		t.Errorf("the internal error's detail is not logged: %q", logged.String())
	}
	if _, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "nonesuch"}); err == nil {
		t.Error("an unknown tool: no protocol error")
	}
}

// resources/list pages through every document, and an unknown document is not found.
func TestDocumentResources(t *testing.T) {
	cs := connect(t, ServerOptions{Documents: docList{documentsPageSize + 20}})
	var uris []string
	for r, err := range cs.Resources(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		uris = append(uris, r.URI)
	}
	if len(uris) != documentsPageSize+20 || uris[len(uris)-1] != documentURIPrefix+fmt.Sprintf("doc%04d", documentsPageSize+19) {
		t.Errorf("listed %d resources, want %d ending in the last document", len(uris), documentsPageSize+20)
	}
	if _, err := cs.ListResources(t.Context(), &sdk.ListResourcesParams{Cursor: "x"}); err == nil || !strings.Contains(err.Error(), "cursor") {
		t.Errorf("a bad cursor: %v", err)
	}
	_, err := cs.ReadResource(t.Context(), &sdk.ReadResourceParams{URI: documentURIPrefix + "nonesuch"})
	if err == nil {
		t.Error("reading an unknown document: no error")
	}
}

// A panic in a handler is an internal error for that request; the process and the
// session go on.
func TestPanicIsAnInternalError(t *testing.T) {
	cs := connect(t, ServerOptions{Documents: docList{-1}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := cs.ListResources(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("resources/list that panics: %v", err)
	}
	if err := cs.Ping(t.Context(), nil); err != nil {
		t.Errorf("the session after a panic: %v", err)
	}
}
