package web_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"genai/bedrock/bedrocktest"
)

// A PDF attached on the chat page is listed with the question, reaches Converse as a
// document block byte-exact under a name Bedrock takes, and the answer (the fake echoes
// what it received) says so.
func TestBrowserChatAttachDocument(t *testing.T) {
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{}})
	pdf, err := os.ReadFile("../rag/testdata/pdf/groff.pdf")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "field_notes 2026.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("attach")))
	a.do("attach the PDF", chromedp.SetUploadFiles(chromedp.ID("attach-input"), []string{path}))
	a.waitFor("the attachment listed", `document.getElementById('attachments').textContent.includes('field-notes 2026 (pdf, 13 kB)')`)
	a.screenshot("chat-document-attached")
	a.send("Summarize it")
	a.waitAnswerDone()
	want := "You said: Summarize it [document field-notes 2026, pdf, 12716 bytes]"
	a.waitFor("the echoed answer", lastAnswer+`.querySelector('.msg-body').textContent.trim() === '`+want+`'`)
	a.waitFor("the document shown with the question", `document.querySelector('#log .msg.user .attachment')?.textContent === 'field-notes 2026 (pdf, 13 kB)'`)
	if n := eval[int](a, `document.querySelectorAll('#attachments li').length`); n != 0 {
		t.Errorf("%d attachments left in the composer after sending", n)
	}
	a.screenshot("chat-document-answered")

	reqs := a.upstream.Requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	c := reqs[0].Messages[0].Content
	if len(c) != 2 || c[0].Document == nil || c[1].Text != "Summarize it" {
		t.Fatalf("upstream content = %+v", c)
	}
	if d := c[0].Document; d.Name != "field-notes 2026" || d.Format != "pdf" || !bytes.Equal(d.Source.Bytes, pdf) {
		t.Errorf("upstream document: %q %q %d bytes", d.Name, d.Format, len(d.Source.Bytes))
	}

	// A file that is no document is refused in the page, with a message.
	png := filepath.Join(t.TempDir(), "red.png")
	os.WriteFile(png, testPNG(t), 0o600)
	a.do("attach a picture", chromedp.SetUploadFiles(chromedp.ID("attach-input"), []string{png}))
	a.waitFor("a refusal", `document.getElementById('banner').textContent.includes('red.png: not a document'.replace('r', 'R'))`)
	if n := eval[int](a, `document.querySelectorAll('#attachments li').length`); n != 0 {
		t.Errorf("%d attachments after a refused file", n)
	}
}
