package genai

import (
	"slices"
	"strings"
	"testing"
)

// TestAnswerRequestValidate holds the rules of an answer request, checked once where
// it enters: each refusal names what was wrong.
func TestAnswerRequestValidate(t *testing.T) {
	user, assistant := TextMessage(RoleUser, "What is metformin?"), TextMessage(RoleAssistant, "A medicine [1].")
	for _, tc := range []struct {
		req       AnswerRequest
		code, msg string
	}{
		{AnswerRequest{}, EINVALID, "query: required"},
		{AnswerRequest{Query: "   "}, EINVALID, "query: required"},
		{AnswerRequest{Messages: []Message{user, assistant}}, EINVALID, "messages[1].role: the last message must be the user's question"},
		{AnswerRequest{Messages: []Message{user, assistant, TextMessage(RoleUser, " ")}}, EINVALID, "messages[2].content: the question has no text"},
		{AnswerRequest{Query: "q", K: MaxRetrieveK + 1}, EINVALID, "k: must be from 1 to 100"},
		{AnswerRequest{Query: "q", K: -1}, EINVALID, "k: must be from 1 to 100"},
		{AnswerRequest{Query: strings.Repeat("a", MaxQueryBytes+1)}, ETOOLARGE, "query: 4097 bytes"},
		{AnswerRequest{Query: "q\xff"}, EINVALID, "query: not valid UTF-8"},
		{AnswerRequest{Query: "q", SessionID: strings.Repeat("s", 129)}, EINVALID, "session_id: at most 128 bytes"},
		{AnswerRequest{Query: "q", SessionID: "a/b"}, EINVALID, `session_id: "a/b" has a character other than`},
	} {
		err := tc.req.Validate()
		if ErrorCode(err) != tc.code || !strings.HasPrefix(ErrorMessage(err), tc.msg) {
			t.Errorf("%.60q: Validate() = %v, want %s %q", tc.req.Query+tc.req.SessionID, err, tc.code, tc.msg)
		}
	}
	req := AnswerRequest{Messages: []Message{user, assistant, TextMessage(RoleUser, " And its side effects? ")}, SessionID: "kbs_1:a-b.c"}
	if err := req.Validate(); err != nil || req.K != DefaultRetrieveK {
		t.Fatalf("Validate() = %v, K %d; want nil and the default K %d", err, req.K, DefaultRetrieveK)
	}
}

// TestAnswerRequestConversation derives the question and the turns before it, in one
// place for every knowledge base.
func TestAnswerRequestConversation(t *testing.T) {
	q, history := (&AnswerRequest{Query: "  What is metformin? "}).Conversation()
	if q != "What is metformin?" || history != nil {
		t.Errorf("Conversation of a query = %q, %v", q, history)
	}
	image := Message{Role: RoleUser, Content: []ContentBlock{{Type: BlockImage}}}
	q, history = (&AnswerRequest{Messages: []Message{
		image, TextMessage(RoleAssistant, "A chart."), TextMessage(RoleUser, " What does it show? "),
	}}).Conversation()
	texts := make([]string, len(history))
	for i, m := range history {
		texts[i] = string(m.Role) + ": " + m.Text()
	}
	if q != "What does it show?" || !slices.Equal(texts, []string{"user: (no text)", "assistant: A chart."}) {
		t.Errorf("Conversation = %q, %q", q, texts)
	}
}

// TestChunkHitCitation cites a hit with its page, and names it for a reader.
func TestChunkHitCitation(t *testing.T) {
	h := ChunkHit{Chunk: Chunk{ID: "c1", DocumentID: "d1", Headings: []string{"Setup", "Power"}, Page: 12, Text: "Plug it in."}, Title: "Manual", URI: "manual.pdf", Score: 0.5}
	c := h.Citation(3)
	if c != (Citation{N: 3, ChunkID: "c1", DocumentID: "d1", Title: "Manual", URI: "manual.pdf", Page: 12, Text: "Plug it in."}) {
		t.Errorf("Citation = %+v", c)
	}
	if got := h.SourceName(); got != "Manual › Setup › Power (p. 12)" {
		t.Errorf("SourceName = %q", got)
	}
	h.Title, h.Headings, h.Page = "", nil, 0
	if got := h.SourceName(); got != "manual.pdf" {
		t.Errorf("SourceName of an untitled hit without page = %q", got)
	}
}
