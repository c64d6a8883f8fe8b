package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
	"github.com/aws/smithy-go"

	"genai"
)

// Metadata keys Amazon Bedrock Knowledge Bases sets on every chunk it returns.
const (
	SourceURIMetadataKey = "x-amz-bedrock-kb-source-uri"
	ChunkIDMetadataKey   = "x-amz-bedrock-kb-chunk-id"
)

// KBOptions configure a KnowledgeBase. Zero fields take the defaults.
type KBOptions struct {
	// KnowledgeBaseID is the id of the Bedrock knowledge base, such as "ABCDEFGHIJ".
	// Required.
	KnowledgeBaseID string
	// ModelARN is the model, or inference profile, that writes answers, such as
	// "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0".
	// Required for Answer; Retrieve works without it.
	ModelARN string
	// NumberOfResults is how many passages a query that sets no K retrieves; default
	// genai.DefaultRetrieveK.
	NumberOfResults int
	// NoStream makes Answer call RetrieveAndGenerate, the whole answer at once, instead
	// of RetrieveAndGenerateStream.
	NoStream bool
	// MaxAttempts and MaxBackoff are as in Options. Only the initial response of a
	// stream is retried.
	MaxAttempts int
	MaxBackoff  time.Duration
	// RerankModelARN, when set, has Bedrock rerank the passages it retrieves with that
	// reranking model (vectorSearchConfiguration's rerankingConfiguration; see
	// RerankModelARN for building one from an id), keeping the best K of
	// RerankCandidates retrieved; RerankCandidates defaults to MaxRerankKBCandidates,
	// also its most, and is never below K.
	RerankModelARN   string
	RerankCandidates int
	// Guardrail, when set, checks the answers (generationConfiguration's
	// guardrailConfiguration); an intervention ends an answer with genai.StopGuardrail.
	Guardrail *Guardrail
}

// KnowledgeBase is a genai.KnowledgeBase on Amazon Bedrock Knowledge Bases (managed
// mode), called with Bedrock Agent Runtime's Retrieve, RetrieveAndGenerateStream and
// RetrieveAndGenerate. Bedrock ingests, chunks and indexes the documents itself, from
// its data sources; this type only asks. It is safe for concurrent use.
//
// In managed mode a document is identified by its source URI (s3://bucket/key, a web
// URL, …): ChunkHit.DocumentID and URI are both that URI, Title its file name, and a
// query's DocumentID filters on Bedrock's x-amz-bedrock-kb-source-uri metadata, so it
// must be a source URI as Retrieve returns it.
type KnowledgeBase struct {
	client *bedrockagentruntime.Client
	opts   KBOptions
	// noStream is set once the endpoint has said it does not know the streaming
	// operation, so later answers go straight to RetrieveAndGenerate.
	noStream atomic.Bool
	// owners remembers who started each session this server saw Bedrock open. Bedrock
	// ties a session to the IAM principal, which every API key of this server shares.
	owners sessionOwners
}

var _ genai.KnowledgeBase = (*KnowledgeBase)(nil)

// NewKnowledgeBase returns a KnowledgeBase that calls Bedrock Agent Runtime with cfg,
// set up as New sets up a ChatModel: cfg's region, credentials and endpoint
// (BaseEndpoint, or AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME or AWS_ENDPOINT_URL read when
// cfg was loaded), with a retryer of opts' attempts and backoff. It does not contact
// Bedrock. It fails with an EINVALID *genai.Error when opts has no KnowledgeBaseID.
func NewKnowledgeBase(cfg aws.Config, opts KBOptions) (*KnowledgeBase, error) {
	if strings.TrimSpace(opts.KnowledgeBaseID) == "" {
		return nil, genai.Errorf(genai.EINVALID, "bedrock: knowledge base id: required (GENAI_BEDROCK_KB_ID)")
	}
	if opts.NumberOfResults <= 0 {
		opts.NumberOfResults = genai.DefaultRetrieveK
	}
	if opts.NumberOfResults > genai.MaxRetrieveK {
		return nil, genai.Errorf(genai.EINVALID, "bedrock: knowledge base number of results: %d is over the limit of %d", opts.NumberOfResults, genai.MaxRetrieveK)
	}
	if opts.RerankModelARN != "" {
		if !rerankARN.MatchString(opts.RerankModelARN) {
			return nil, genai.Errorf(genai.EINVALID, "bedrock: knowledge base rerank model: %q is not a Bedrock model ARN", opts.RerankModelARN)
		}
		if opts.RerankCandidates <= 0 || opts.RerankCandidates > MaxRerankKBCandidates {
			opts.RerankCandidates = MaxRerankKBCandidates
		}
	}
	return &KnowledgeBase{client: agentRuntimeClient(cfg, opts.MaxAttempts, opts.MaxBackoff), opts: opts}, nil
}

// agentRuntimeClient is the Bedrock Agent Runtime client of the knowledge base and the
// reranker: the SDK's standard retryer with our attempts and backoff (defaults for
// zero), and the request-body guard of every client here.
func agentRuntimeClient(cfg aws.Config, attempts int, backoff time.Duration) *bedrockagentruntime.Client {
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	retryer := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = backoff
	})
	return bedrockagentruntime.NewFromConfig(cfg, func(o *bedrockagentruntime.Options) {
		o.Retryer = retryer
		o.HTTPClient = requestBodyGuard{o.HTTPClient}
	})
}

// target names the knowledge base in error messages.
func (kb *KnowledgeBase) target() string { return "knowledge base " + kb.opts.KnowledgeBaseID }

// Retrieve asks Bedrock's Retrieve for the passages most relevant to q.Query: q.K of
// them (KBOptions.NumberOfResults when q.K is 0), searched as q.Mode says (hybrid is
// Bedrock's HYBRID, vector its SEMANTIC), from document q.DocumentID only when set.
// Bedrock offers no keyword-only search, so RetrieveBM25 is an EINVALID error, as are a
// vector store that cannot do hybrid search (Bedrock's ValidationException) and the
// rules of RetrieveQuery.Validate. Hits come in Bedrock's order, best first, with
// Bedrock's relevance score. Other failures are mapped as for ChatModel.Chat.
func (kb *KnowledgeBase) Retrieve(ctx context.Context, q genai.RetrieveQuery) ([]genai.ChunkHit, error) {
	if q.K == 0 {
		q.K = kb.opts.NumberOfResults
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var search types.SearchType
	switch q.Mode {
	case genai.RetrieveHybrid:
		search = types.SearchTypeHybrid
	case genai.RetrieveVector:
		search = types.SearchTypeSemantic
	default:
		return nil, genai.Errorf(genai.EINVALID, "mode: %q is not offered by Amazon Bedrock Knowledge Bases, which searches by meaning (\"vector\") or by meaning and words (\"hybrid\")", q.Mode)
	}
	out, err := kb.client.Retrieve(ctx, &bedrockagentruntime.RetrieveInput{
		KnowledgeBaseId:        aws.String(kb.opts.KnowledgeBaseID),
		RetrievalQuery:         &types.KnowledgeBaseQuery{Text: aws.String(q.Query)},
		RetrievalConfiguration: kb.retrievalConfiguration(q.K, search, q.DocumentID),
	})
	if err != nil {
		return nil, upstreamError(ctx, "Retrieve", kb.target(), err)
	}
	hits := make([]genai.ChunkHit, 0, len(out.RetrievalResults))
	for _, r := range out.RetrievalResults {
		h := chunkHit(r.Content, r.Location, r.Metadata)
		h.Score = aws.ToFloat64(r.Score)
		hits = append(hits, h)
	}
	return hits, nil
}

// MaxRerankKBCandidates is the most passages a knowledge base retrieves in one query
// (numberOfResults), so the most Bedrock can rerank there.
const MaxRerankKBCandidates = 100

// retrievalConfiguration asks for k results, with search as the search type (empty:
// Bedrock's choice) and, when documentID is set, only chunks of that source; with a
// rerank model, RerankCandidates (at least k) are retrieved and the best k of them
// after reranking kept.
func (kb *KnowledgeBase) retrievalConfiguration(k int, search types.SearchType, documentID string) *types.KnowledgeBaseRetrievalConfiguration {
	vs := &types.KnowledgeBaseVectorSearchConfiguration{
		NumberOfResults:    aws.Int32(int32(k)),
		OverrideSearchType: search,
	}
	if arn := kb.opts.RerankModelARN; arn != "" {
		vs.NumberOfResults = aws.Int32(int32(max(k, kb.opts.RerankCandidates)))
		vs.RerankingConfiguration = rerankingConfiguration(arn, k)
	}
	if documentID != "" {
		vs.Filter = &types.RetrievalFilterMemberEquals{Value: types.FilterAttribute{
			Key:   aws.String(SourceURIMetadataKey),
			Value: document.NewLazyDocument(documentID),
		}}
	}
	return &types.KnowledgeBaseRetrievalConfiguration{VectorSearchConfiguration: vs}
}

// Answer asks Bedrock to retrieve passages for the question and have KBOptions.ModelARN
// answer from them, streamed by RetrieveAndGenerateStream. The question is req.Query, or
// the text of the last user message of req.Messages: Bedrock keeps the conversation
// itself, by session, so earlier messages are not sent; req.SessionID continues a
// session Bedrock started (an unknown one is Bedrock's EINVALID), and Answer.SessionID is
// the session to pass next time. req.K passages are retrieved (KBOptions.NumberOfResults
// when 0), only from document req.DocumentID when set.
//
// Bedrock reports citations as it goes, after the text they cite, so a streamed Answer
// has no Citations up front: each arrives in Event.Citations, numbered in order of first
// appearance, on the event whose text carries its first mark. Bedrock's text has no
// marks; " [n]" is inserted at the end of each cited span. Text is given out as it
// arrives except trailing white space, held until more text comes, so that a citation of
// the sentence just sent puts its mark before the space; should Bedrock cite a span
// after text beyond it has been given out, the mark goes where the text has got to.
//
// When the endpoint does not offer the streaming operation (UnknownOperationException,
// or AccessDeniedException for a role allowed only RetrieveAndGenerate), or with
// KBOptions.NoStream, Answer calls RetrieveAndGenerate instead: Answer.Citations then
// lists every citation and the whole marked text comes in one event.
//
// Answer returns once Bedrock has sent the first event, so failures before any text are
// its errors: ENOPROVIDER without a ModelARN, EINVALID for a bad request, and Bedrock's
// failures mapped as for ChatModel.Chat (ETHROTTLED after the retries, EINVALID,
// EUPSTREAM naming Bedrock's error code). A failure after that is the last element of
// Events, after the text that came before it. The caller must range over Events, once,
// or cancel ctx, to release the stream; ctx bounds the whole answer.
//
// A session belongs to the req.Owner that started it: another owner's req.SessionID is
// ENOTFOUND.
func (kb *KnowledgeBase) Answer(ctx context.Context, req *genai.AnswerRequest) (*genai.Answer, error) {
	if req.SessionID != "" && !kb.owners.may(req.SessionID, req.Owner) {
		return nil, genai.Errorf(genai.ENOTFOUND, "session_id: no session %q for this API key", req.SessionID)
	}
	ans, err := kb.answer(ctx, req)
	if err == nil && ans.SessionID != "" {
		kb.owners.record(ans.SessionID, req.Owner)
	}
	return ans, err
}

func (kb *KnowledgeBase) answer(ctx context.Context, req *genai.AnswerRequest) (*genai.Answer, error) {
	if kb.opts.ModelARN == "" {
		return nil, genai.Errorf(genai.ENOPROVIDER, "the Bedrock knowledge base %s has no model to answer with: set GENAI_BEDROCK_KB_MODEL_ARN to the ARN of a model or inference profile", kb.opts.KnowledgeBaseID)
	}
	query := req.Query
	field := "query"
	if query == "" && len(req.Messages) > 0 {
		query, field = lastUserText(req.Messages), "messages"
	}
	k := req.K
	if k == 0 {
		k = kb.opts.NumberOfResults
	}
	switch {
	case !utf8.ValidString(query):
		return nil, genai.Errorf(genai.EINVALID, "%s: not valid UTF-8", field)
	case strings.TrimSpace(query) == "" && field == "messages":
		return nil, genai.Errorf(genai.EINVALID, "messages: no user message with text to answer")
	case strings.TrimSpace(query) == "":
		return nil, genai.Errorf(genai.EINVALID, "query: required")
	case k < 1 || k > genai.MaxRetrieveK:
		return nil, genai.Errorf(genai.EINVALID, "k: must be from 1 to %d, got %d", genai.MaxRetrieveK, k)
	}
	input := &types.RetrieveAndGenerateInput{Text: aws.String(query)}
	config := &types.RetrieveAndGenerateConfiguration{
		Type: types.RetrieveAndGenerateTypeKnowledgeBase,
		KnowledgeBaseConfiguration: &types.KnowledgeBaseRetrieveAndGenerateConfiguration{
			KnowledgeBaseId:        aws.String(kb.opts.KnowledgeBaseID),
			ModelArn:               aws.String(kb.opts.ModelARN),
			RetrievalConfiguration: kb.retrievalConfiguration(k, "", req.DocumentID),
		},
	}
	if g := kb.opts.Guardrail; g != nil {
		config.KnowledgeBaseConfiguration.GenerationConfiguration = &types.GenerationConfiguration{
			GuardrailConfiguration: &types.GuardrailConfiguration{GuardrailId: aws.String(g.ID), GuardrailVersion: aws.String(g.Version)},
		}
	}
	var session *string
	if req.SessionID != "" {
		session = aws.String(req.SessionID)
	}
	if !kb.opts.NoStream && !kb.noStream.Load() {
		ans, err := kb.answerStream(ctx, &bedrockagentruntime.RetrieveAndGenerateStreamInput{
			Input: input, RetrieveAndGenerateConfiguration: config, SessionId: session,
		})
		if err == nil {
			return ans, nil
		}
		unavailable, forGood := streamUnavailable(err)
		if !unavailable || ctx.Err() != nil {
			return nil, upstreamError(ctx, "RetrieveAndGenerateStream", kb.target(), err)
		}
		if forGood {
			kb.noStream.Store(true)
		}
	}
	out, err := kb.client.RetrieveAndGenerate(ctx, &bedrockagentruntime.RetrieveAndGenerateInput{
		Input: input, RetrieveAndGenerateConfiguration: config, SessionId: session,
	})
	if err != nil {
		return nil, upstreamError(ctx, "RetrieveAndGenerate", kb.target(), err)
	}
	c := newCiter()
	if out.Output != nil {
		c.add(aws.ToString(out.Output.Text))
	}
	for _, ct := range out.Citations {
		c.cite(ct.GeneratedResponsePart, ct.RetrievedReferences)
	}
	text := c.take(true).Text
	done := genai.Event{Done: true, StopReason: "end_turn"}
	if out.GuardrailAction == types.GuadrailActionIntervened {
		done.StopReason = genai.StopGuardrail
	}
	return &genai.Answer{
		SessionID: aws.ToString(out.SessionId),
		Citations: c.all,
		Events: func(yield func(genai.Event, error) bool) {
			if text != "" && !yield(genai.Event{Text: text}, nil) {
				return
			}
			yield(done, nil)
		},
	}, nil
}

// streamUnavailable reports whether err says the streaming operation is not offered to
// us, so RetrieveAndGenerate may do instead, and whether that holds for good (the
// endpoint does not know the operation) rather than for this call (access denied, which
// a policy change may lift).
func streamUnavailable(err error) (unavailable, forGood bool) {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch status := statusCode(err); {
	case strings.EqualFold(code, "UnknownOperationException"):
		return true, true
	case strings.EqualFold(code, "AccessDeniedException"):
		return true, false
	case (status == http.StatusNotFound && !strings.EqualFold(code, "ResourceNotFoundException")) ||
		status == http.StatusNotImplemented:
		return true, true
	}
	return false, false
}

// answerStream starts a RetrieveAndGenerateStream and returns the Answer that reads it.
func (kb *KnowledgeBase) answerStream(ctx context.Context, in *bedrockagentruntime.RetrieveAndGenerateStreamInput) (*genai.Answer, error) {
	// Our own cancel, so that the consumer stopping for any reason ends the HTTP request
	// at once rather than when the caller's ctx ends.
	ctx, cancel := context.WithCancel(ctx)
	out, err := kb.client.RetrieveAndGenerateStream(ctx, in)
	if err != nil {
		cancel()
		return nil, err
	}
	stream := out.GetStream()
	// Bedrock reports some failures (a model the role may not use, a question too long)
	// as an exception in place of the first event: waiting for that event makes them
	// ordinary errors of Answer, before a client has been sent anything.
	first, ok := <-stream.Events()
	if !ok {
		err := stream.Err()
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			stream.Close()
			cancel()
			return nil, err
		}
	}
	var ranged atomic.Bool
	events := func(yield func(genai.Event, error) bool) {
		if ranged.Swap(true) {
			yield(genai.Event{}, genai.Errorf(genai.EINTERNAL, "bedrock: Answer.Events ranged twice"))
			return
		}
		defer cancel()
		defer stream.Close()
		c := newCiter()
		stop := "end_turn"
		for ev := first; ok; ev, ok = <-stream.Events() {
			switch v := ev.(type) {
			case *types.RetrieveAndGenerateStreamResponseOutputMemberOutput:
				c.add(aws.ToString(v.Value.Text))
			case *types.RetrieveAndGenerateStreamResponseOutputMemberCitation:
				part, refs := v.Value.GeneratedResponsePart, v.Value.RetrievedReferences
				//lint:ignore SA1019 an endpoint may send the citation in the older member only
				if old := v.Value.Citation; part == nil && len(refs) == 0 && old != nil {
					part, refs = old.GeneratedResponsePart, old.RetrievedReferences
				}
				c.cite(part, refs)
			case *types.RetrieveAndGenerateStreamResponseOutputMemberGuardrail:
				if v.Value.Action == types.GuadrailActionIntervened {
					stop = genai.StopGuardrail
				}
			}
			if e := c.take(false); hasContent(e) && !yield(e, nil) {
				return
			}
		}
		// The text and marks that came before an error go first. A connection cut
		// between two frames reads as a clean end: the stream has no end event to miss.
		if e := c.take(true); hasContent(e) && !yield(e, nil) {
			return
		}
		err := stream.Err()
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			yield(genai.Event{}, upstreamError(ctx, "RetrieveAndGenerateStream", kb.target(), err))
			return
		}
		yield(genai.Event{Done: true, StopReason: stop}, nil)
	}
	return &genai.Answer{SessionID: aws.ToString(out.SessionId), Events: events}, nil
}

func hasContent(e genai.Event) bool { return e.Text != "" || len(e.Citations) > 0 }

func lastUserText(msgs []genai.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == genai.RoleUser {
			return msgs[i].Text()
		}
	}
	return ""
}

// citer turns Bedrock's answer text and citations into our events: the text with marks
// " [n]" at the end of each cited span, and the citations, numbered in order of first
// appearance (a source cited again keeps its number).
type citer struct {
	text       []byte // the answer as Bedrock sent it, without marks
	sent       int    // bytes of text given out
	marks      []mark // marks not yet given out, by position
	lastMarkAt int    // the position of the last mark given out, or -1
	numbers    map[string]int
	all        []genai.Citation
}

// mark is the mark of one citation event: the numbers of its sources, at byte at of the
// text, and those of its citations not cited before.
type mark struct {
	at        int
	numbers   []int
	citations []genai.Citation
}

func newCiter() *citer { return &citer{lastMarkAt: -1, numbers: map[string]int{}} }

func (c *citer) add(s string) { c.text = append(c.text, s...) }

// cite adds a citation of the part of the text that part says, from refs.
func (c *citer) cite(part *types.GeneratedResponsePart, refs []types.RetrievedReference) {
	var m mark
	for _, r := range refs {
		h := chunkHit(r.Content, r.Location, r.Metadata)
		n, ok := c.numbers[h.ID]
		if !ok {
			n = len(c.all) + 1
			c.numbers[h.ID] = n
			cit := genai.Citation{N: n, ChunkID: h.ID, DocumentID: h.DocumentID, Title: h.Title, URI: h.URI, Text: h.Text}
			c.all = append(c.all, cit)
			m.citations = append(m.citations, cit)
		}
		if !slices.Contains(m.numbers, n) {
			m.numbers = append(m.numbers, n)
		}
	}
	if len(m.numbers) == 0 {
		return
	}
	m.at = max(c.spanEnd(part), c.sent)
	i, _ := slices.BinarySearchFunc(c.marks, m.at, func(x mark, at int) int {
		if x.at <= at {
			return -1 // after the marks already there at the same place
		}
		return 1
	})
	c.marks = slices.Insert(c.marks, i, m)
}

// spanEnd returns the byte offset where the text part cites ends. Bedrock gives the
// cited text and its span in characters, the end that of the span's last character; the
// text is trusted over the offsets, whose unit a client cannot check.
func (c *citer) spanEnd(part *types.GeneratedResponsePart) int {
	if part == nil || part.TextResponsePart == nil {
		return len(c.text)
	}
	tp := part.TextResponsePart
	text, cited := string(c.text), aws.ToString(tp.Text)
	if cited != "" {
		if tp.Span != nil && tp.Span.Start != nil {
			if start, ok := byteOffset(text, int(*tp.Span.Start)); ok && strings.HasPrefix(text[start:], cited) {
				return start + len(cited)
			}
		}
		if i := strings.LastIndex(text, cited); i >= 0 {
			return i + len(cited)
		}
	}
	if tp.Span != nil && tp.Span.End != nil {
		if end, ok := byteOffset(text, int(*tp.Span.End)+1); ok {
			return end
		}
	}
	return len(c.text)
}

// byteOffset returns the byte offset of character n of s; n may be s's length.
func byteOffset(s string, n int) (int, bool) {
	if n < 0 {
		return 0, false
	}
	for i := range s {
		if n == 0 {
			return i, true
		}
		n--
	}
	return len(s), n == 0
}

// take gives out the text not yet given out, with its marks and their new citations: all
// of it when final, else all but trailing white space.
func (c *citer) take(final bool) genai.Event {
	upto := len(c.text)
	if !final {
		upto = max(len(bytes.TrimRightFunc(c.text, unicode.IsSpace)), c.sent)
	}
	var out strings.Builder
	var cites []genai.Citation
	for len(c.marks) > 0 && c.marks[0].at <= upto {
		m := c.marks[0]
		c.marks = c.marks[1:]
		out.Write(c.text[c.sent:m.at])
		c.sent = m.at
		if r, _ := utf8.DecodeLastRune(c.text[:c.sent]); c.sent > 0 && c.lastMarkAt != c.sent && !unicode.IsSpace(r) {
			out.WriteByte(' ')
		}
		for _, n := range m.numbers {
			fmt.Fprintf(&out, "[%d]", n)
		}
		c.lastMarkAt = c.sent
		cites = append(cites, m.citations...)
	}
	out.Write(c.text[c.sent:upto])
	c.sent = upto
	return genai.Event{Text: out.String(), Citations: cites}
}

// chunkHit maps a passage of Bedrock's (a retrieval result or a cited reference) to a
// hit, its score aside. The chunk id is Bedrock's when it sent one, else a hash of the
// source and the text, so that the same passage always has the same id.
func chunkHit(content *types.RetrievalResultContent, loc *types.RetrievalResultLocation, md map[string]document.Interface) genai.ChunkHit {
	text := contentText(content)
	uri := locationURI(loc)
	if uri == "" {
		uri = metadataString(md, SourceURIMetadataKey)
	}
	id := metadataString(md, ChunkIDMetadataKey)
	if id == "" {
		sum := sha256.Sum256([]byte(uri + "\x00" + text))
		id = "bedrock-" + hex.EncodeToString(sum[:12])
	}
	return genai.ChunkHit{
		Chunk: genai.Chunk{ID: id, DocumentID: uri, Text: text},
		Title: titleOf(uri),
		URI:   uri,
	}
}

// contentText returns a passage's text; a row of a structured data store is written as
// "column: value" lines.
func contentText(c *types.RetrievalResultContent) string {
	if c == nil {
		return ""
	}
	if c.Text != nil || len(c.Row) == 0 {
		return aws.ToString(c.Text)
	}
	lines := make([]string, 0, len(c.Row))
	for _, col := range c.Row {
		lines = append(lines, aws.ToString(col.ColumnName)+": "+aws.ToString(col.ColumnValue))
	}
	return strings.Join(lines, "\n")
}

// locationURI returns where a passage came from, whatever the kind of data source.
func locationURI(l *types.RetrievalResultLocation) string {
	switch {
	case l == nil:
		return ""
	case l.S3Location != nil:
		return aws.ToString(l.S3Location.Uri)
	case l.WebLocation != nil:
		return aws.ToString(l.WebLocation.Url)
	case l.ConfluenceLocation != nil:
		return aws.ToString(l.ConfluenceLocation.Url)
	case l.SharePointLocation != nil:
		return aws.ToString(l.SharePointLocation.Url)
	case l.SalesforceLocation != nil:
		return aws.ToString(l.SalesforceLocation.Url)
	case l.KendraDocumentLocation != nil:
		return aws.ToString(l.KendraDocumentLocation.Uri)
	case l.CustomDocumentLocation != nil:
		return aws.ToString(l.CustomDocumentLocation.Id)
	}
	return ""
}

func metadataString(md map[string]document.Interface, key string) string {
	v, ok := md[key]
	if !ok || v == nil {
		return ""
	}
	var s string
	if v.UnmarshalSmithyDocument(&s) != nil {
		return ""
	}
	return s
}

// titleOf returns the file name of a source URI ("report.pdf" of
// "s3://bucket/docs/report.pdf"), the host of a URL without a path, or the URI itself.
func titleOf(uri string) string {
	p, host := uri, ""
	if u, err := url.Parse(uri); err == nil && u.Scheme != "" {
		p, host = u.Path, u.Host
	} else if i := strings.Index(uri, "://"); i >= 0 {
		p = uri[i+3:]
	}
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 && i+1 < len(p) {
		return p[i+1:]
	}
	if host != "" {
		return host
	}
	return uri
}

// maxSessionOwners bounds the sessions whose owner is remembered; the oldest are
// forgotten first, after which their sessions are Bedrock's to judge alone.
const maxSessionOwners = 10_000

// sessionOwners remembers the owner of each session, the oldest forgotten first. The
// zero value is ready; it is safe for concurrent use.
type sessionOwners struct {
	mu    sync.Mutex
	owner map[string]string
	order []string
}

// may reports whether owner may continue session id: it started it, or it is not known.
func (o *sessionOwners) may(id, owner string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	got, ok := o.owner[id]
	return !ok || got == owner
}

func (o *sessionOwners) record(id, owner string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.owner == nil {
		o.owner = map[string]string{}
	}
	if _, ok := o.owner[id]; ok {
		return
	}
	o.owner[id] = owner
	o.order = append(o.order, id)
	if len(o.order) > maxSessionOwners {
		delete(o.owner, o.order[0])
		o.order = o.order[1:]
	}
}
