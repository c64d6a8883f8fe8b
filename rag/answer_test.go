package rag_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/rag"
)

// fixedRetriever answers every query with the same hits and records the queries, so
// tests see what a follow-up was rewritten into. The retrieval itself is tested in
// retrieve_test.go; the answers over the real store in store tests below.
type fixedRetriever struct {
	hits []genai.ChunkHit
	mu   sync.Mutex
	got  []genai.RetrieveQuery
}

func (f *fixedRetriever) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, q)
	return slices.Clone(f.hits), nil
}

func (f *fixedRetriever) queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var qs []string
	for _, q := range f.got {
		qs = append(qs, q.Query)
	}
	return qs
}

func hit(id, doc, title, text string) genai.ChunkHit {
	return genai.ChunkHit{Chunk: genai.Chunk{ID: id, DocumentID: doc, Text: text}, Title: title, URI: title + ".md", Score: 1}
}

var metforminHits = []genai.ChunkHit{
	hit("c1", "d1", "Metformin", "Metformin is a medicine used to treat type 2 diabetes. It lowers the amount of glucose the liver releases into the blood."),
	hit("c2", "d2", "Side effects", "Common side effects of metformin include nausea, diarrhoea and stomach pain. These usually pass after a few weeks."),
	hit("c3", "d3", "Insulin", "Insulin is a hormone made by the pancreas. People with type 1 diabetes need insulin injections."),
}

// newModel returns a real bedrock.ChatModel talking to srv through the AWS SDK.
func newModel(t *testing.T, srv *bedrocktest.Server) *bedrock.ChatModel {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return bedrock.New(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}, bedrock.Options{MaxBackoff: 5 * time.Millisecond})
}

// fakeBedrock answers rewriting calls (Converse) with rewritten and answers
// (ConverseStream) with tokens.
func fakeBedrock(t *testing.T, rewritten string, tokens []string, opts bedrocktest.Options) *bedrocktest.Server {
	opts.Reply = func(req *bedrocktest.Request) bedrocktest.Reply {
		if req.Operation == "Converse" {
			return bedrocktest.Reply{Tokens: []string{rewritten}}
		}
		return bedrocktest.Reply{Tokens: tokens}
	}
	srv := bedrocktest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// drain runs an answer's stream and returns its text and final event.
func drain(t *testing.T, a *genai.Answer) (string, genai.Event) {
	t.Helper()
	var text strings.Builder
	for ev, err := range a.Events {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if ev.Done {
			return text.String(), ev
		}
		text.WriteString(ev.Text)
	}
	t.Fatal("stream ended without a Done event")
	return "", genai.Event{}
}

func systemText(r *bedrocktest.Request) string {
	var s []string
	for _, b := range r.System {
		s = append(s, b.Text)
	}
	return strings.Join(s, "\n")
}

func TestAnswerWithModelAndFollowUp(t *testing.T) {
	srv := fakeBedrock(t, "metformin side effects", []string{"Metformin ", "treats type 2 diabetes ", "[1]."}, bedrocktest.Options{})
	ret := &fixedRetriever{hits: metforminHits}
	kb := &rag.Local{Retriever: ret, Chat: newModel(t, srv), Sessions: &rag.Sessions{}}
	ctx := context.Background()

	a, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "What is metformin used for?"})
	if err != nil {
		t.Fatal(err)
	}
	if a.SessionID == "" || a.Extractive {
		t.Errorf("session %q, extractive %v", a.SessionID, a.Extractive)
	}
	// The sources are known before any text.
	if len(a.Citations) != 3 || a.Citations[0] != (genai.Citation{N: 1, ChunkID: "c1", DocumentID: "d1", Title: "Metformin", URI: "Metformin.md", Text: metforminHits[0].Text}) || a.Citations[2].N != 3 {
		t.Fatalf("citations %+v", a.Citations)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("the model was called before the stream was read")
	}
	text, done := drain(t, a)
	if text != "Metformin treats type 2 diabetes [1]." || done.StopReason != "end_turn" || done.Usage.OutputTokens != 3 {
		t.Errorf("text %q, done %+v", text, done)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Operation != "ConverseStream" {
		t.Fatalf("a first question made calls %v, want one ConverseStream", ops(reqs))
	}
	prompt := reqs[0].LastUserText()
	for _, want := range []string{"[1] Metformin — Metformin is a medicine", "[2] Side effects — Common side effects", "[3] Insulin — ", "Question: What is metformin used for?"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q:\n%s", want, prompt)
		}
	}
	if sys := systemText(reqs[0]); !strings.Contains(sys, "only the numbered sources") || !strings.Contains(sys, "[1]") || !strings.Contains(sys, "do not contain the answer") {
		t.Errorf("system prompt %q", sys)
	}

	// A follow-up in the same session is rewritten by the model, and the answer sees the
	// earlier exchange.
	a2, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "What are its side effects?", SessionID: a.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	if a2.SessionID != a.SessionID {
		t.Errorf("session %q, want %q", a2.SessionID, a.SessionID)
	}
	drain(t, a2)
	reqs = srv.Requests()
	if len(reqs) != 3 || reqs[1].Operation != "Converse" || reqs[2].Operation != "ConverseStream" {
		t.Fatalf("calls %v, want a first answer, then Converse (rewrite) and ConverseStream", ops(reqs))
	}
	rw := reqs[1].LastUserText()
	if !strings.Contains(rw, "User: What is metformin used for?") || !strings.Contains(rw, "Assistant: Metformin treats type 2 diabetes [1].") || !strings.Contains(rw, "What are its side effects?") {
		t.Errorf("rewriting prompt lacks the conversation:\n%s", rw)
	}
	if ic := reqs[1].InferenceConfig; ic == nil || ic.MaxTokens == nil || *ic.MaxTokens > 200 || ic.Temperature == nil || *ic.Temperature != 0 {
		t.Errorf("rewriting call's inference config %+v: want few tokens at temperature 0", ic)
	}
	if q := ret.queries(); len(q) != 2 || q[0] != "What is metformin used for?" || q[1] != "metformin side effects" {
		t.Errorf("retrieval queries %q: want the question, then the rewritten follow-up", q)
	}
	msgs := reqs[2].Messages
	if len(msgs) != 3 || msgs[0].Role != "user" || msgs[0].Content[0].Text != "What is metformin used for?" ||
		msgs[1].Role != "assistant" || msgs[1].Content[0].Text != "Metformin treats type 2 diabetes [1]." ||
		msgs[2].Content[len(msgs[2].Content)-1].Text != "Question: What are its side effects?" {
		t.Errorf("the follow-up's answer call did not carry the session's history: %+v", msgs)
	}
	if h := sessionHistory(kb.Sessions, a.SessionID); len(h) != 4 {
		t.Errorf("session history has %d messages after two exchanges, want 4", len(h))
	}
}

func ops(reqs []*bedrocktest.Request) []string {
	var s []string
	for _, r := range reqs {
		s = append(s, r.Operation)
	}
	return s
}

func TestAnswerMessagesCarryTheConversation(t *testing.T) {
	srv := fakeBedrock(t, "metformin side effects", []string{"Nausea [2]."}, bedrocktest.Options{})
	ret := &fixedRetriever{hits: metforminHits}
	kb := &rag.Local{Retriever: ret, Chat: newModel(t, srv)} // no Sessions: the client holds the history
	a, err := kb.Answer(context.Background(), &genai.AnswerRequest{Messages: []genai.Message{
		genai.TextMessage(genai.RoleUser, "What is metformin used for?"),
		genai.TextMessage(genai.RoleAssistant, "Type 2 diabetes [1]."),
		genai.TextMessage(genai.RoleUser, "And its side effects?"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := drain(t, a); text != "Nausea [2]." {
		t.Errorf("text %q", text)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Operation != "Converse" || len(reqs[1].Messages) != 3 {
		t.Fatalf("calls %v", ops(reqs))
	}
	if q := ret.queries(); len(q) != 1 || q[0] != "metformin side effects" {
		t.Errorf("retrieval query %q", q)
	}
}

func TestRewriteFailureFallsBackToTerms(t *testing.T) {
	srv := bedrocktest.NewServer(bedrocktest.Options{Reply: func(req *bedrocktest.Request) bedrocktest.Reply {
		if req.Operation == "Converse" {
			return bedrocktest.Reply{Error: &bedrocktest.APIError{Status: 400, Type: "ValidationException", Message: "no"}}
		}
		return bedrocktest.Reply{Tokens: []string{"ok"}}
	}})
	t.Cleanup(srv.Close)
	ret := &fixedRetriever{hits: metforminHits}
	kb := &rag.Local{Retriever: ret, Chat: newModel(t, srv), Sessions: &rag.Sessions{}}
	kb.Sessions.AppendExchange(context.Background(), "s1", "", genai.Exchange{Question: "What is metformin used for?", Answer: "Diabetes [1]."})
	a, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "What are its side effects?", SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, a)
	if q := ret.queries(); len(q) != 1 || !strings.HasPrefix(q[0], "metformin") || !strings.HasSuffix(q[0], "What are its side effects?") {
		t.Errorf("query %q: want the previous question's terms before the follow-up", q)
	}
}

func TestAnswerStoppedEarlyCancelsTheModel(t *testing.T) {
	srv := fakeBedrock(t, "", []string{"a ", "b ", "c"}, bedrocktest.Options{TokenDelay: time.Minute})
	kb := &rag.Local{Retriever: &fixedRetriever{hits: metforminHits}, Chat: newModel(t, srv), Sessions: &rag.Sessions{}}
	a, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "metformin?"})
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range a.Events {
		if err != nil || ev.Text != "a " {
			t.Fatalf("first event %+v, %v", ev, err)
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Canceled == 1 }); err != nil {
		t.Fatal(err)
	}
	if h := sessionHistory(kb.Sessions, a.SessionID); len(h) != 0 {
		t.Errorf("an unfinished answer was remembered: %+v", h)
	}
}

func TestExtractiveAnswer(t *testing.T) {
	hits := []genai.ChunkHit{
		hit("c1", "d1", "Insulin", "Insulin is a hormone made by the pancreas. People with type 1 diabetes need insulin injections."),
		hit("c2", "d2", "Side effects", "# Side effects\n\nCommon side effects of metformin include nausea,\ndiarrhoea and stomach pain. These usually pass after a few weeks, e.g. as the body adapts. Rarely, metformin causes lactic acidosis."),
		hit("c3", "d2", "Side effects (copy)", "Common side effects of metformin include nausea, diarrhoea and stomach pain."),
	}
	ret := &fixedRetriever{hits: hits}
	kb := &rag.Local{Retriever: ret, Sessions: &rag.Sessions{}}
	ask := func() (*genai.Answer, string) {
		a, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "What are the side effects of metformin?"})
		if err != nil {
			t.Fatal(err)
		}
		text, done := drain(t, a)
		if done.StopReason != "end_turn" {
			t.Errorf("done %+v", done)
		}
		return a, text
	}
	a, text := ask()
	if !a.Extractive {
		t.Error("Extractive not set")
	}
	if !strings.HasPrefix(text, "Extractive answer (no model configured): ") {
		t.Errorf("text lacks the label: %q", text)
	}
	lines := strings.Split(text, "\n")[2:]
	want := []string{
		"Common side effects of metformin include nausea, diarrhoea and stomach pain. [1]",
		"Rarely, metformin causes lactic acidosis. [1]",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("sentences:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Only the cited chunk is a citation, renumbered from 1; the duplicate sentence of c3
	// and the unrelated chunk are left out.
	if len(a.Citations) != 1 || a.Citations[0].N != 1 || a.Citations[0].ChunkID != "c2" {
		t.Errorf("citations %+v", a.Citations)
	}
	if _, again := ask(); again != text {
		t.Errorf("not deterministic:\n%q\n%q", text, again)
	}
}

func TestNoRelevantChunks(t *testing.T) {
	srv := fakeBedrock(t, "", []string{"made up"}, bedrocktest.Options{})
	for _, tc := range []struct {
		name string
		kb   *rag.Local
	}{
		{"model", &rag.Local{Retriever: &fixedRetriever{}, Chat: newModel(t, srv)}},
		{"extractive, no hits", &rag.Local{Retriever: &fixedRetriever{}}},
		{"extractive, no matching sentence", &rag.Local{Retriever: &fixedRetriever{hits: metforminHits[2:]}}},
	} {
		a, err := tc.kb.Answer(context.Background(), &genai.AnswerRequest{Query: "How tall is the Eiffel tower?"})
		if err != nil {
			t.Fatal(err)
		}
		text, _ := drain(t, a)
		if len(a.Citations) != 0 || !strings.Contains(text, "no passage about this question") {
			t.Errorf("%s: text %q, citations %+v", tc.name, text, a.Citations)
		}
		if a.Extractive != (tc.kb.Chat == nil) || (a.Extractive && !strings.HasPrefix(text, "Extractive answer")) {
			t.Errorf("%s: extractive %v, text %q", tc.name, a.Extractive, text)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the model was called %d times with no sources", n)
	}
}

func TestAnswerWithoutRetriever(t *testing.T) {
	if _, err := (&rag.Local{}).Answer(context.Background(), &genai.AnswerRequest{Query: "q"}); genai.ErrorCode(err) != genai.EUNAVAILABLE {
		t.Errorf("no retriever: %v", err)
	}
}

var _ genai.KnowledgeBase = (*rag.Local)(nil)

// sessionHistory is the conversation of session id for the owner of a server without
// keys.
func sessionHistory(s genai.SessionStore, id string) []genai.Message {
	h, _ := s.SessionHistory(context.Background(), id, "")
	return genai.SessionMessages(h)
}
