package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
)

// The agent's knowledge-base tool cites a PDF passage with its page, as the Knowledge
// page does: in the passage it gives the model and in the citations it streams.
func TestAgentKnowledgeBaseCitesPages(t *testing.T) {
	base := agentServer(t, map[string]string{})
	f := fpdf.New("P", "mm", "A4", "")
	f.SetTitle("Harbour guide", true)
	f.SetFont("Helvetica", "", 12)
	for _, text := range []string{"The harbour opens at dawn for fishing boats.", "Neap tides, the lowest tides, come at the quarter moons."} {
		f.AddPage()
		f.MultiCell(0, 6, text, "", "", false)
	}
	var pdf, form bytes.Buffer
	if err := f.Output(&pdf); err != nil {
		t.Fatal(err)
	}
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("file", "harbour.pdf")
	part.Write(pdf.Bytes())
	mw.Close()
	resp, err := http.Post(base+"/api/kb/documents", mw.FormDataContentType(), &form)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("upload: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	evs := agentChat(t, base, `{"messages":[{"role":"user","content":"lowest neap tides"}],"server_tools":["knowledge_base"]}`)
	var result, cites map[string]any
	for _, e := range evs {
		switch e.name {
		case "tool_result":
			result = e.data
		case "citations":
			cites = e.data
		}
	}
	content, _ := json.Marshal(result["content"])
	if !strings.Contains(string(content), "[1] Harbour guide (p. 2)") {
		t.Errorf("tool result %s, want the passage of page 2 named with its page", content)
	}
	cs, _ := cites["citations"].([]any)
	if len(cs) == 0 || cs[0].(map[string]any)["page"] != 2.0 {
		t.Errorf("citations %v, want the first of page 2", cites)
	}
	for _, c := range cs {
		if c := c.(map[string]any); c["uri"] == "tides.md" && c["page"] != nil {
			t.Errorf("a passage of a text document has a page: %v", c)
		}
	}
}
