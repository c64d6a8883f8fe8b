package server_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/go-pdf/fpdf"

	"genai"
	"genai/server"
)

// threePagePDF is a PDF whose page i (from 1) says what happened in its month.
func threePagePDF(t *testing.T) string {
	t.Helper()
	f := fpdf.New("P", "mm", "A4", "")
	f.SetTitle("Plant log", true)
	f.SetFont("Helvetica", "", 12)
	for i, text := range []string{
		"In January the turbine was inspected and the bearings were greased.",
		"In February the coolant pump failed and was replaced with a spare.",
		"In March the control room moved to the new building.",
	} {
		f.AddPage()
		f.MultiCell(0, 6, fmt.Sprintf("Page %d. %s", i+1, text), "", "", false)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A passage of a PDF carries its page through every route that shows it: retrieval,
// the answer's citations, and the workshop's Bedrock-shaped metadata.
func TestKBPagesOnTheStore(t *testing.T) {
	base := ingestServer(t, realIngester(t, nil), server.Options{})
	if status, body := postMultipart(t, base+"/api/kb/documents", filePart{"file", "log.pdf", threePagePDF(t)}); status != 201 {
		t.Fatalf("upload: %d %s", status, body)
	}

	status, body := do(t, "POST", base+"/api/kb/retrieve", `{"query":"coolant pump replaced","k":1}`)
	var res struct{ Results []genai.ChunkHit }
	decodeJSON(t, body, &res)
	if status != 200 || len(res.Results) != 1 || res.Results[0].Page != 2 || !bytes.Contains(body, []byte(`"page":2`)) {
		t.Fatalf("retrieve: %d %s; want the passage of page 2 with its page", status, body)
	}

	status, body = do(t, "POST", base+"/api/kb/answer", `{"query":"When did the coolant pump fail?","stream":false}`)
	var ans struct{ Citations []genai.Citation }
	decodeJSON(t, body, &ans)
	if status != 200 || len(ans.Citations) == 0 || ans.Citations[0].Page != 2 {
		t.Fatalf("answer: %d %s; want a citation of page 2", status, body)
	}

	status, body = do(t, "POST", base+"/knowledge-base-retrieve", `{"messages":[{"role":"user","content":"coolant pump replaced"}]}`)
	if status != 200 || !bytes.Contains(body, []byte(`"x-amz-bedrock-kb-document-page-number":"2"`)) {
		t.Errorf("workshop retrieve: %d %s; want the page in the metadata", status, body)
	}
}
