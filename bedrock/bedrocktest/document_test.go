package bedrocktest

import (
	"encoding/json"
	"strings"
	"testing"
)

// The fake refuses the documents Bedrock refuses, so a provider that sent them would
// fail its tests as it would fail in production.
func TestValidateDocuments(t *testing.T) {
	doc := func(d string) string {
		return `{"messages":[{"role":"user","content":[{"text":"hi"},` + d + `]}]}`
	}
	pdf := `"source":{"bytes":"JVBERi0="}`
	cases := []struct{ body, want string }{
		{doc(`{"document":{"format":"pdf","name":"a.pdf",` + pdf + `}}`), "messages.0.content.1.document.name"},
		{doc(`{"document":{"format":"pdf","name":"a  b",` + pdf + `}}`), "messages.0.content.1.document.name"},
		{doc(`{"document":{"format":"pdf","name":"",` + pdf + `}}`), "messages.0.content.1.document.name"},
		{doc(`{"document":{"format":"pages","name":"a",` + pdf + `}}`), "messages.0.content.1.document.format"},
		{doc(`{"document":{"format":"pdf","name":"a","source":{"bytes":""}}}`), "messages.0.content.1.document.source.bytes"},
		{doc(strings.Repeat(`{"document":{"format":"pdf","name":"a",`+pdf+`}},`, 5) + `{"document":{"format":"pdf","name":"a",` + pdf + `}}`), "at most 5 documents"},
		{`{"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"document":{"format":"pdf","name":"a",` + pdf + `}}]}]}`, "only in user messages"},
	}
	for _, c := range cases {
		var req Request
		if err := json.Unmarshal([]byte(c.body), &req); err != nil {
			t.Fatal(err)
		}
		req.ModelID = "m"
		if msg := validate(&req); !strings.Contains(msg, c.want) {
			t.Errorf("%s: validate = %q, want it to name %q", c.body, msg, c.want)
		}
	}
	var ok Request
	if err := json.Unmarshal([]byte(doc(`{"document":{"format":"pdf","name":"Report (1) [a]-b",`+pdf+`}}`)), &ok); err != nil {
		t.Fatal(err)
	}
	ok.ModelID = "m"
	if msg := validate(&ok); msg != "" {
		t.Errorf("a valid document refused: %s", msg)
	}
	if got, want := documentNotes(&ok), " [document Report (1) [a]-b, pdf, 5 bytes]"; got != want {
		t.Errorf("documentNotes = %q, want %q", got, want)
	}
}
