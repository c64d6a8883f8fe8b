package bedrock_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/agentruntimetest"
)

const (
	testKBID     = "KBTEST1234"
	testModelARN = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
)

func newKBServer(t testing.TB, opts agentruntimetest.Options) *agentruntimetest.Server {
	if opts.KnowledgeBaseID == "" {
		opts.KnowledgeBaseID = testKBID
	}
	srv := agentruntimetest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// newKB returns a KnowledgeBase that talks to srv through the real SDK client, signing
// with static test credentials.
func newKB(t *testing.T, srv *agentruntimetest.Server, opts bedrock.KBOptions) *bedrock.KnowledgeBase {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if opts.KnowledgeBaseID == "" {
		opts.KnowledgeBaseID = testKBID
	}
	if opts.ModelARN == "" {
		opts.ModelARN = testModelARN
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 5 * time.Millisecond
	}
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	kb, err := bedrock.NewKnowledgeBase(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

var testPassages = []agentruntimetest.Passage{
	agentruntimetest.S3("s3://docs-bucket/guides/Getting%20Started.md", "chunk-a", "Install the CLI first.", 0.91),
	agentruntimetest.S3("s3://docs-bucket/faq.pdf", "chunk-b", "Billing is monthly.", 0.75),
	{Text: "The API is REST.", Location: agentruntimetest.Location{Type: "WEB", URI: "https://example.com/api/overview"}, Score: 0.62},
	agentruntimetest.S3("s3://docs-bucket/faq.pdf", "chunk-c", "Refunds take a week.", 0.40),
}

func TestKBRetrieve(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages})
	kb := newKB(t, srv, bedrock.KBOptions{})

	hits, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "how do I start?", K: 3, Mode: genai.RetrieveVector})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 {
		t.Fatalf("got %d hits, want 3: %+v", len(hits), hits)
	}
	want := []struct {
		id, doc, title, text string
		score                float64
	}{
		{"chunk-a", "s3://docs-bucket/guides/Getting%20Started.md", "Getting Started.md", "Install the CLI first.", 0.91},
		{"chunk-b", "s3://docs-bucket/faq.pdf", "faq.pdf", "Billing is monthly.", 0.75},
		{"", "https://example.com/api/overview", "overview", "The API is REST.", 0.62},
	}
	for i, w := range want {
		h := hits[i]
		if h.DocumentID != w.doc || h.URI != w.doc || h.Title != w.title || h.Text != w.text || math.Abs(h.Score-w.score) > 1e-9 {
			t.Errorf("hit %d = %+v, want document/uri %q title %q text %q score %v", i, h, w.doc, w.title, w.text, w.score)
		}
		if w.id != "" && h.ID != w.id {
			t.Errorf("hit %d chunk id = %q, want Bedrock's %q", i, h.ID, w.id)
		}
	}
	// Without Bedrock's chunk id, a stable one is made up.
	if !strings.HasPrefix(hits[2].ID, "bedrock-") {
		t.Errorf("hit 2 chunk id = %q, want a derived bedrock-… id", hits[2].ID)
	}
	again, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "how do I start?", K: 3, Mode: genai.RetrieveVector})
	if err != nil || again[2].ID != hits[2].ID {
		t.Errorf("derived chunk id not stable: %q then %q (%v)", hits[2].ID, again[2].ID, err)
	}

	r := srv.Requests()[0]
	if r.Operation != "Retrieve" || r.KnowledgeBaseID() != testKBID || r.Path != "/knowledgebases/"+testKBID+"/retrieve" {
		t.Errorf("request %s %s for %q", r.Operation, r.Path, r.KnowledgeBaseID())
	}
	if r.Query() != "how do I start?" || r.NumberOfResults() != 3 {
		t.Errorf("query %q numberOfResults %d, want the query and 3", r.Query(), r.NumberOfResults())
	}
	if vs := r.VectorSearch(); vs.OverrideSearchType != "SEMANTIC" || vs.Filter != nil {
		t.Errorf("vectorSearchConfiguration = %+v, want SEMANTIC and no filter", vs)
	}
	if !strings.HasPrefix(r.Authorization, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		t.Errorf("Authorization = %q", r.Authorization)
	}
}

func TestKBRetrieveDefaultsAndModes(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages})
	kb := newKB(t, srv, bedrock.KBOptions{NumberOfResults: 2})

	hits, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "anything"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 {
		t.Errorf("got %d hits, want KBOptions.NumberOfResults = 2", len(hits))
	}
	r := srv.Requests()[0]
	if r.NumberOfResults() != 2 || r.VectorSearch().OverrideSearchType != "HYBRID" {
		t.Errorf("numberOfResults %d search type %q, want 2 and HYBRID (the default mode)", r.NumberOfResults(), r.VectorSearch().OverrideSearchType)
	}

	_, err = kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "anything", Mode: genai.RetrieveBM25})
	if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(genai.ErrorMessage(err), "bm25") {
		t.Errorf("bm25: err = %v, want EINVALID naming the mode", err)
	}
	_, err = kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: " "})
	if genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("empty query: err = %v, want EINVALID", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("server got %d requests, want none for the invalid queries", n-1)
	}
}

func TestKBRetrieveByDocument(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages})
	kb := newKB(t, srv, bedrock.KBOptions{})

	hits, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "money", K: 10, DocumentID: "s3://docs-bucket/faq.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].ID != "chunk-b" || hits[1].ID != "chunk-c" {
		t.Errorf("hits = %+v, want faq.pdf's two chunks", hits)
	}
	f := srv.Requests()[0].VectorSearch().Filter
	if f == nil || f.Equals == nil || f.Equals.Key != bedrock.SourceURIMetadataKey || f.Equals.Value != "s3://docs-bucket/faq.pdf" {
		t.Errorf("filter = %+v, want equals %s = the document's URI", f, bedrock.SourceURIMetadataKey)
	}
}

// citedAnswer answers in pieces, citing the first sentence with passage a, the second
// with b and a, in Bedrock's order: each citation after the text it cites.
func citedAnswer(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
	return agentruntimetest.Answer{
		Parts: []string{"Install ", "the CLI ", "first. ", "Then pay ", "monthly.", " That is all."},
		Citations: []agentruntimetest.Citation{
			{Text: "Install the CLI first.", References: testPassages[:1]},
			{Text: "Then pay monthly.", References: []agentruntimetest.Passage{testPassages[1], testPassages[0]}},
		},
	}
}

// collectAnswer runs an answer's events to their end.
func collectAnswer(t *testing.T, ans *genai.Answer) (texts []string, cites []genai.Citation, final genai.Event, err error) {
	t.Helper()
	for ev, e := range ans.Events {
		if e != nil {
			return texts, cites, final, e
		}
		if final.Done {
			t.Fatalf("event %+v after the Done event", ev)
		}
		if ev.Done {
			final = ev
			continue
		}
		texts = append(texts, ev.Text)
		cites = append(cites, ev.Citations...)
	}
	return texts, cites, final, nil
}

func TestKBAnswerStream(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages, Answer: citedAnswer})
	kb := newKB(t, srv, bedrock.KBOptions{})

	ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "How do I start, and how do I pay?", K: 4})
	if err != nil {
		t.Fatal(err)
	}
	if ans.SessionID == "" {
		t.Error("no session id from the stream")
	}
	if len(ans.Citations) != 0 {
		t.Errorf("Citations up front = %+v; a stream reports them in events", ans.Citations)
	}
	var sb strings.Builder
	var cites []genai.Citation
	var final genai.Event
	for ev, err := range ans.Events {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Done {
			final = ev
			continue
		}
		// A citation arrives with the text that carries its first mark.
		for _, c := range ev.Citations {
			if !strings.Contains(sb.String()+ev.Text, "["+string(rune('0'+c.N))+"]") {
				t.Errorf("citation %d arrived before its mark, with text %q", c.N, ev.Text)
			}
		}
		sb.WriteString(ev.Text)
		cites = append(cites, ev.Citations...)
	}
	if want := "Install the CLI first. [1] Then pay monthly. [2][1] That is all."; sb.String() != want {
		t.Errorf("text = %q, want %q", sb.String(), want)
	}
	if !final.Done || final.StopReason != "end_turn" {
		t.Errorf("final = %+v", final)
	}
	want := []genai.Citation{
		{N: 1, ChunkID: "chunk-a", DocumentID: "s3://docs-bucket/guides/Getting%20Started.md", Title: "Getting Started.md", URI: "s3://docs-bucket/guides/Getting%20Started.md", Text: "Install the CLI first."},
		{N: 2, ChunkID: "chunk-b", DocumentID: "s3://docs-bucket/faq.pdf", Title: "faq.pdf", URI: "s3://docs-bucket/faq.pdf", Text: "Billing is monthly."},
	}
	if len(cites) != len(want) {
		t.Fatalf("citations = %+v, want %+v", cites, want)
	}
	for i := range want {
		if cites[i] != want[i] {
			t.Errorf("citation %d = %+v, want %+v", i, cites[i], want[i])
		}
	}

	r := srv.Requests()[0]
	if r.Operation != "RetrieveAndGenerateStream" || r.Query() != "How do I start, and how do I pay?" || r.SessionID != "" {
		t.Errorf("request %s query %q session %q", r.Operation, r.Query(), r.SessionID)
	}
	if r.KnowledgeBaseID() != testKBID || r.ModelArn() != testModelARN || r.NumberOfResults() != 4 {
		t.Errorf("kb %q model %q numberOfResults %d", r.KnowledgeBaseID(), r.ModelArn(), r.NumberOfResults())
	}
	if vs := r.VectorSearch(); vs.OverrideSearchType != "" {
		t.Errorf("search type %q sent for an answer; Bedrock should choose", vs.OverrideSearchType)
	}

	// The session goes back to Bedrock, and the follow-up is the last user message.
	ans2, err := kb.Answer(context.Background(), &genai.AnswerRequest{
		SessionID:  ans.SessionID,
		DocumentID: "s3://docs-bucket/faq.pdf",
		Messages: []genai.Message{
			genai.TextMessage(genai.RoleUser, "How do I start?"),
			genai.TextMessage(genai.RoleAssistant, "Install the CLI first."),
			genai.TextMessage(genai.RoleUser, "And then?"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := collectAnswer(t, ans2); err != nil {
		t.Fatal(err)
	}
	if ans2.SessionID != ans.SessionID {
		t.Errorf("session %q came back as %q", ans.SessionID, ans2.SessionID)
	}
	r = srv.Requests()[1]
	if r.SessionID != ans.SessionID || r.Query() != "And then?" || r.NumberOfResults() != genai.DefaultRetrieveK {
		t.Errorf("follow-up sent session %q query %q numberOfResults %d", r.SessionID, r.Query(), r.NumberOfResults())
	}
	if f := r.VectorSearch().Filter; f == nil || f.Equals == nil || f.Equals.Value != "s3://docs-bucket/faq.pdf" {
		t.Errorf("filter = %+v, want the document", f)
	}

	// Bedrock ties the session to this server's IAM principal, which every API key
	// shares: another key cannot continue it, and nothing is sent for it.
	sent := len(srv.Requests())
	_, err = kb.Answer(context.Background(), &genai.AnswerRequest{SessionID: ans.SessionID, Query: "what did they ask?", Owner: "key:other"})
	if genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("another owner continued the session: %v", err)
	}
	if len(srv.Requests()) != sent {
		t.Error("the other owner's request reached Bedrock")
	}
}

// Citations reported late, after text beyond the cited span has been given out, put
// their mark where the text has got to.
func TestKBAnswerLateCitations(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages,
		Answer: func(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
			return agentruntimetest.Answer{
				Parts:         []string{"Alpha beta. ", "Gamma", " delta.\n"},
				Citations:     []agentruntimetest.Citation{{Text: "Alpha beta.", References: testPassages[2:3]}, {Text: "Gamma delta.", References: testPassages[:1]}},
				CitationsLast: true,
			}
		}})
	kb := newKB(t, srv, bedrock.KBOptions{})
	ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	texts, cites, _, err := collectAnswer(t, ans)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(texts, ""), "Alpha beta. Gamma delta. [1][2]\n"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	if len(cites) != 2 || cites[0].N != 1 || cites[0].URI != "https://example.com/api/overview" || cites[1].ChunkID != "chunk-a" {
		t.Errorf("citations = %+v", cites)
	}
}

func TestKBAnswerDefaultAnswer(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages})
	kb := newKB(t, srv, bedrock.KBOptions{})
	ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "billing?", K: 2})
	if err != nil {
		t.Fatal(err)
	}
	texts, cites, _, err := collectAnswer(t, ans)
	if err != nil {
		t.Fatal(err)
	}
	want := "Source 1 says: Install the CLI first. [1] Source 2 says: Billing is monthly. [2]"
	if got := strings.Join(texts, ""); got != want || len(cites) != 2 {
		t.Errorf("text %q (%d citations), want %q", got, len(cites), want)
	}
}

func TestKBAnswerFallback(t *testing.T) {
	for _, tc := range []struct {
		name      string
		streamErr agentruntimetest.APIError
		forGood   bool
	}{
		{"unknown operation", agentruntimetest.APIError{Status: 404, Type: "UnknownOperationException", Message: "no such operation"}, true},
		{"access denied", agentruntimetest.APIError{Status: 403, Type: "AccessDeniedException", Message: "not allowed: bedrock:RetrieveAndGenerateStream"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages, Answer: citedAnswer, StreamError: &tc.streamErr})
			kb := newKB(t, srv, bedrock.KBOptions{})
			for i := range 2 {
				ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "How?"})
				if err != nil {
					t.Fatal(err)
				}
				texts, cites, final, err := collectAnswer(t, ans)
				if err != nil {
					t.Fatal(err)
				}
				if want := "Install the CLI first. [1] Then pay monthly. [2][1] That is all."; strings.Join(texts, "") != want {
					t.Errorf("answer %d text = %q, want %q", i, strings.Join(texts, ""), want)
				}
				if len(cites) != 0 {
					t.Errorf("answer %d: event citations %+v repeat Answer.Citations", i, cites)
				}
				if len(ans.Citations) != 2 || ans.Citations[0].ChunkID != "chunk-a" || ans.Citations[1].N != 2 || ans.Citations[1].ChunkID != "chunk-b" {
					t.Errorf("answer %d citations = %+v", i, ans.Citations)
				}
				if ans.SessionID == "" || !final.Done {
					t.Errorf("answer %d session %q final %+v", i, ans.SessionID, final)
				}
			}
			var ops []string
			for _, r := range srv.Requests() {
				ops = append(ops, r.Operation)
			}
			want := "RetrieveAndGenerateStream RetrieveAndGenerate RetrieveAndGenerateStream RetrieveAndGenerate"
			if tc.forGood {
				want = "RetrieveAndGenerateStream RetrieveAndGenerate RetrieveAndGenerate"
			}
			if got := strings.Join(ops, " "); got != want {
				t.Errorf("operations = %s, want %s", got, want)
			}
		})
	}
}

func TestKBAnswerNoStreamOption(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages, Answer: citedAnswer})
	kb := newKB(t, srv, bedrock.KBOptions{NoStream: true})
	ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "How?"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := collectAnswer(t, ans); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Operation != "RetrieveAndGenerate" {
		t.Errorf("requests = %+v, want one RetrieveAndGenerate", r)
	}
	// The session goes back through the whole-answer call too.
	ans2, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "More?", SessionID: ans.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	if ans2.SessionID != ans.SessionID || srv.Requests()[1].SessionID != ans.SessionID {
		t.Errorf("session %q: answered %q, sent %q", ans.SessionID, ans2.SessionID, srv.Requests()[1].SessionID)
	}
}

func TestKBAnswerGuardrail(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Answer: func(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
		return agentruntimetest.Answer{Parts: []string{"Sorry, the model cannot answer this question."}, GuardrailIntervened: true}
	}})
	for _, noStream := range []bool{false, true} {
		kb := newKB(t, srv, bedrock.KBOptions{NoStream: noStream, Guardrail: &bedrock.Guardrail{ID: "gr-1", Version: "3"}})
		ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "something bad"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, final, err := collectAnswer(t, ans)
		if err != nil || final.StopReason != genai.StopGuardrail {
			t.Errorf("NoStream %v: final %+v err %v, want stop reason %s", noStream, final, err, genai.StopGuardrail)
		}
		reqs := srv.Requests()
		gen := string(reqs[len(reqs)-1].RetrieveAndGenerateConfiguration.KnowledgeBaseConfiguration.GenerationConfiguration)
		if !strings.Contains(gen, `"guardrailId":"gr-1"`) || !strings.Contains(gen, `"guardrailVersion":"3"`) {
			t.Errorf("NoStream %v: generationConfiguration %s", noStream, gen)
		}
	}
}

func TestKBAnswerInvalid(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{})
	kb := newKB(t, srv, bedrock.KBOptions{})
	for _, req := range []*genai.AnswerRequest{
		{},
		{Query: "  "},
		{Messages: []genai.Message{genai.TextMessage(genai.RoleAssistant, "hi")}},
		{Query: "ok", K: genai.MaxRetrieveK + 1},
		{Query: "\xff"},
	} {
		if _, err := kb.Answer(context.Background(), req); genai.ErrorCode(err) != genai.EINVALID {
			t.Errorf("%+v: err = %v, want EINVALID", req, err)
		}
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("server got %d requests for invalid answers", n)
	}

	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""), BaseEndpoint: aws.String(srv.URL)}
	if _, err := bedrock.NewKnowledgeBase(cfg, bedrock.KBOptions{}); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("no knowledge base id: err = %v, want EINVALID", err)
	}
	noModel, err := bedrock.NewKnowledgeBase(cfg, bedrock.KBOptions{KnowledgeBaseID: testKBID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = noModel.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
	if genai.ErrorCode(err) != genai.ENOPROVIDER || !strings.Contains(genai.ErrorMessage(err), "GENAI_BEDROCK_KB_MODEL_ARN") {
		t.Errorf("no model: err = %v, want ENOPROVIDER naming the setting", err)
	}
	if _, err := noModel.Retrieve(context.Background(), genai.RetrieveQuery{Query: "hi"}); err != nil {
		t.Errorf("Retrieve without a model: %v", err)
	}
}

func TestKBErrorsBeforeStream(t *testing.T) {
	for _, tc := range []struct {
		apiErr   agentruntimetest.APIError
		code     string
		contains string
	}{
		{agentruntimetest.APIError{Status: 400, Type: "ValidationException", Message: "numberOfResults too big"}, genai.EINVALID, "numberOfResults too big"},
		{agentruntimetest.APIError{Status: 424, Type: "DependencyFailedException", Message: "the vector store is down"}, genai.EUPSTREAM, "DependencyFailedException"},
		{agentruntimetest.APIError{Status: 404, Type: "ResourceNotFoundException", Message: "no such model"}, genai.EUPSTREAM, "ResourceNotFoundException"},
	} {
		srv := newKBServer(t, agentruntimetest.Options{Answer: func(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
			return agentruntimetest.Answer{Error: &tc.apiErr}
		}})
		kb := newKB(t, srv, bedrock.KBOptions{})
		_, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
		if genai.ErrorCode(err) != tc.code || !strings.Contains(genai.ErrorMessage(err), tc.contains) || !strings.Contains(genai.ErrorMessage(err), testKBID) {
			t.Errorf("%s: err = %v, want %s containing %q and the knowledge base id", tc.apiErr.Type, err, tc.code, tc.contains)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%s: %d requests; only an unavailable stream falls back", tc.apiErr.Type, n)
		}
	}

	// A knowledge base that does not exist.
	srv := newKBServer(t, agentruntimetest.Options{})
	kb := newKB(t, srv, bedrock.KBOptions{KnowledgeBaseID: "NOSUCHKB00"})
	_, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "hi"})
	if genai.ErrorCode(err) != genai.EUPSTREAM || !strings.Contains(genai.ErrorMessage(err), "ResourceNotFoundException") {
		t.Errorf("Retrieve of an unknown knowledge base: err = %v", err)
	}
	_, err = kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
	if genai.ErrorCode(err) != genai.EUPSTREAM || !strings.Contains(genai.ErrorMessage(err), "ResourceNotFoundException") {
		t.Errorf("Answer of an unknown knowledge base: err = %v", err)
	}
}

func TestKBThrottlingRetriedThenSucceeds(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages, ThrottleFirst: 2})
	kb := newKB(t, srv, bedrock.KBOptions{MaxAttempts: 4})
	ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
	if err != nil {
		t.Fatalf("answer failed after throttling: %v", err)
	}
	if _, _, final, err := collectAnswer(t, ans); err != nil || !final.Done {
		t.Fatalf("final %+v err %v", final, err)
	}
	if st := srv.Stats(); st.Requests != 3 || st.Throttled != 2 || st.Completed != 1 {
		t.Errorf("stats = %+v, want 3 requests, 2 throttled, 1 completed", st)
	}
}

func TestKBThrottlingPersistent(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{ThrottleFirst: math.MaxInt})
	kb := newKB(t, srv, bedrock.KBOptions{MaxAttempts: 3})
	check := func(what string, err error) {
		t.Helper()
		var ge *genai.Error
		if !errors.As(err, &ge) || ge.Code != genai.ETHROTTLED {
			t.Fatalf("%s: err = %v, want ETHROTTLED", what, err)
		}
		if ge.RetryAfter <= 0 || !strings.Contains(ge.Message, "ThrottlingException") {
			t.Errorf("%s: RetryAfter %v message %q", what, ge.RetryAfter, ge.Message)
		}
	}
	_, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
	check("Answer", err)
	if st := srv.Stats(); st.Requests != 3 {
		t.Errorf("server got %d attempts, want MaxAttempts = 3 and no fallback", st.Requests)
	}
	_, err = kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "hi"})
	check("Retrieve", err)
}

func TestKBMidStreamError(t *testing.T) {
	for _, tc := range []struct {
		exception string
		code      string
	}{
		{"throttlingException", genai.ETHROTTLED},
		{"internalServerException", genai.EUPSTREAM},
		{"dependencyFailedException", genai.EUPSTREAM},
		{"", genai.EUPSTREAM}, // the connection cut inside a frame
	} {
		srv := newKBServer(t, agentruntimetest.Options{
			Answer: func(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
				return agentruntimetest.Answer{Parts: []string{"one ", "two ", "three ", "four"}}
			},
			FailStream: &agentruntimetest.StreamFailure{AfterParts: 2, Exception: tc.exception, Message: "the model fell over"},
		})
		kb := newKB(t, srv, bedrock.KBOptions{})
		ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
		if err != nil {
			t.Fatalf("%q: %v", tc.exception, err)
		}
		texts, _, final, err := collectAnswer(t, ans)
		if got := strings.Join(texts, ""); got != "one two " {
			t.Errorf("%q: text before the error = %q, want %q", tc.exception, got, "one two ")
		}
		if final.Done || genai.ErrorCode(err) != tc.code {
			t.Errorf("%q: final %+v err %v, want %s and no Done", tc.exception, final, err, tc.code)
		}
		if tc.exception != "" && !strings.Contains(genai.ErrorMessage(err), "the model fell over") {
			t.Errorf("%q: message %q lacks Bedrock's", tc.exception, genai.ErrorMessage(err))
		}
		if st := srv.Stats(); st.Requests != 1 {
			t.Errorf("%q: %d requests; a stream that yielded text must not be retried", tc.exception, st.Requests)
		}
	}
}

func slowKBServer(t *testing.T, firstEventDelay time.Duration) *agentruntimetest.Server {
	return newKBServer(t, agentruntimetest.Options{
		Answer: func(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
			return agentruntimetest.Answer{Parts: strings.SplitAfter(strings.Repeat("word ", 10_000), " ")}
		},
		FirstEventDelay: firstEventDelay,
		EventDelay:      5 * time.Millisecond,
	})
}

func waitKBStats(t *testing.T, srv *agentruntimetest.Server, what string, cond func(agentruntimetest.Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Wait(ctx, cond); err != nil {
		t.Fatalf("server never saw %s: %v", what, err)
	}
}

func TestKBConsumerStopsEarlyCancelsUpstream(t *testing.T) {
	srv := slowKBServer(t, 0)
	kb := newKB(t, srv, bedrock.KBOptions{})
	ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ev, err := range ans.Events {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Text != "" {
			n++
		}
		if n == 3 {
			break
		}
	}
	waitKBStats(t, srv, "the stream cancelled", func(st agentruntimetest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

func TestKBContextCancelEndsStream(t *testing.T) {
	srv := slowKBServer(t, 0)
	kb := newKB(t, srv, bedrock.KBOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ans, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ev, e := range ans.Events {
		if e != nil {
			err = e
			break
		}
		if ev.Done {
			t.Fatal("stream finished despite the cancel")
		}
		if n++; n == 3 {
			cancel()
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("after %d events: err = %v, want one wrapping context.Canceled", n, err)
	}
	waitKBStats(t, srv, "the stream cancelled", func(st agentruntimetest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

// An answer whose events are never ranged is released when its context ends.
func TestKBUnreadAnswerReleasedByContext(t *testing.T) {
	srv := newKBServer(t, agentruntimetest.Options{
		Answer: func(*agentruntimetest.Request, []agentruntimetest.Passage) agentruntimetest.Answer {
			return agentruntimetest.Answer{Parts: []string{"first ", "never"}}
		},
		EventDelay: time.Hour,
	})
	kb := newKB(t, srv, bedrock.KBOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "hi"}); err != nil {
		t.Fatal(err)
	}
	waitKBStats(t, srv, "the stream start", func(st agentruntimetest.Stats) bool { return st.Active == 1 })
	cancel()
	waitKBStats(t, srv, "the stream cancelled", func(st agentruntimetest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
}

// Answer waits for Bedrock's first event; a cancel while it waits ends the call.
func TestKBContextCancelBeforeFirstEvent(t *testing.T) {
	srv := slowKBServer(t, time.Hour)
	kb := newKB(t, srv, bedrock.KBOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := kb.Answer(ctx, &genai.AnswerRequest{Query: "hi"})
		errc <- err
	}()
	waitKBStats(t, srv, "the stream start", func(st agentruntimetest.Stats) bool { return st.Active == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want one wrapping context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Answer did not return after its context was cancelled")
	}
	waitKBStats(t, srv, "the stream cancelled", func(st agentruntimetest.Stats) bool { return st.Canceled == 1 && st.Active == 0 })
	if n := srv.Stats().Requests; n != 1 {
		t.Errorf("%d requests: a cancelled answer must not fall back", n)
	}
}

// An exception in place of the first event is an error of Answer itself, before any
// text, so that a client gets an ordinary HTTP error.
func TestKBExceptionAsFirstEvent(t *testing.T) {
	for _, tc := range []struct {
		exception, code string
	}{
		{"validationException", genai.EINVALID},
		{"throttlingException", genai.ETHROTTLED},
		{"dependencyFailedException", genai.EUPSTREAM},
	} {
		srv := newKBServer(t, agentruntimetest.Options{FailStream: &agentruntimetest.StreamFailure{AfterParts: 0, Exception: tc.exception, Message: "no good"}})
		kb := newKB(t, srv, bedrock.KBOptions{})
		_, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "hi"})
		if genai.ErrorCode(err) != tc.code || !strings.Contains(genai.ErrorMessage(err), "no good") {
			t.Errorf("%s: err = %v, want %s with Bedrock's message", tc.exception, err, tc.code)
		}
	}
}

func TestKBEndpointFromEnvironment(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", "AWS_ENDPOINT_URL"} {
		t.Run(env, func(t *testing.T) {
			isolateAWSEnv(t)
			t.Setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", "")
			srv := newKBServer(t, agentruntimetest.Options{Passages: testPassages})
			t.Setenv(env, srv.URL)
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")

			cfg, err := bedrock.LoadConfig(context.Background(), "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			kb, err := bedrock.NewKnowledgeBase(cfg, bedrock.KBOptions{KnowledgeBaseID: testKBID, ModelARN: testModelARN})
			if err != nil {
				t.Fatal(err)
			}
			hits, err := kb.Retrieve(context.Background(), genai.RetrieveQuery{Query: "via env", K: 1})
			if err != nil || len(hits) != 1 {
				t.Fatalf("hits %+v err %v", hits, err)
			}
			ans, err := kb.Answer(context.Background(), &genai.AnswerRequest{Query: "via env"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := collectAnswer(t, ans); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 || !strings.Contains(reqs[0].Authorization, "Credential=AKIDENV/") || !strings.Contains(reqs[1].Authorization, "/us-east-1/bedrock/aws4_request") {
				t.Errorf("%d requests, Authorization %q", len(reqs), reqs[0].Authorization)
			}
		})
	}
}
