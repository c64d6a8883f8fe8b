// Package agentruntimetest runs an in-process Amazon Bedrock Agent Runtime, the knowledge
// base half of it, that speaks the service's real wire protocol, so the official
// aws-sdk-go-v2 bedrockagentruntime client talks to it unmodified:
//
//   - POST /knowledgebases/{knowledgeBaseId}/retrieve answers Retrieve in REST JSON,
//     with the configured passages, filtered and cut to numberOfResults;
//   - POST /retrieveAndGenerate answers RetrieveAndGenerate in REST JSON: the whole
//     answer, its citations and the session id;
//   - POST /retrieveAndGenerateStream answers application/vnd.amazon.eventstream, the
//     AWS event-stream binary framing: one "output" event per piece of the answer, a
//     "citation" event as soon as the text it cites has been sent, a "guardrail" event
//     when configured, and exceptions as messages of type "exception"; the session id
//     is the x-amzn-bedrock-knowledge-base-session-id response header;
//   - POST /rerank answers Rerank in REST JSON, scoring each source by RerankScore, the
//     share of the query's words it holds, so tests know the order exactly; a
//     knowledge base's rerankingConfiguration reranks retrieved passages the same way;
//   - errors before a stream are a JSON body with the X-Amzn-ErrorType header.
//
// Point a client at it with aws.Config.BaseEndpoint, bedrockagentruntime.Options.BaseEndpoint
// or AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME, and sign with any static credentials. The
// server records what it received, decoded, and counts requests, so tests can check what
// was asked and that a cancelled call ended upstream too.
package agentruntimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"genai/internal/watch"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// DefaultNumberOfResults is how many passages Retrieve answers when a request sets no
// numberOfResults, as Bedrock does.
const DefaultNumberOfResults = 5

// Metadata keys Bedrock sets on every passage.
const (
	SourceURIKey = "x-amz-bedrock-kb-source-uri"
	ChunkIDKey   = "x-amz-bedrock-kb-chunk-id"
)

// Options configure a Server. The zero value serves any knowledge base with no passages
// and answers with DefaultAnswer.
type Options struct {
	// KnowledgeBaseID, when set, is the only knowledge base: requests for another get
	// 404 ResourceNotFoundException.
	KnowledgeBaseID string

	// Passages are the knowledge base's content. Retrieve answers those matching the
	// request's filter, highest score first, at most numberOfResults of them.
	Passages []Passage

	// Answer decides the answer of RetrieveAndGenerate and RetrieveAndGenerateStream. It
	// is called concurrently, once per request that was not throttled, with the passages
	// Retrieve would have answered. Nil means DefaultAnswer.
	Answer func(req *Request, retrieved []Passage) Answer

	// ThrottleFirst answers the first N requests (of any operation) with HTTP 429
	// ThrottlingException before reading them.
	ThrottleFirst int

	// StreamError, when set, answers every RetrieveAndGenerateStream with this error, as
	// an endpoint or a role without the streaming API does (404
	// UnknownOperationException, 403 AccessDeniedException).
	StreamError *APIError

	// FailStream, when set, breaks every stream part way.
	FailStream *StreamFailure

	// FirstEventDelay is the wait before the first output event; EventDelay the wait
	// between output events. RetrieveAndGenerate waits the sum before answering, Rerank
	// FirstEventDelay.
	FirstEventDelay time.Duration
	EventDelay      time.Duration
}

// Passage is a chunk of the knowledge base, as Retrieve and citations report it.
type Passage struct {
	Text     string
	Location Location
	Score    float64
	// Metadata is sent as is, with SourceURIKey added from Location when missing.
	Metadata map[string]any
}

// Location is where a passage came from. Type is "S3", "WEB", "CONFLUENCE",
// "SALESFORCE", "SHAREPOINT", "KENDRA" or "CUSTOM"; empty means "S3". URI is the
// s3Location.uri, webLocation.url, … for that type (customDocumentLocation.id for CUSTOM).
type Location struct {
	Type string
	URI  string
}

// S3 returns a passage from s3Location uri with the given chunk id (omitted when empty).
func S3(uri, chunkID, text string, score float64) Passage {
	p := Passage{Text: text, Location: Location{Type: "S3", URI: uri}, Score: score}
	if chunkID != "" {
		p.Metadata = map[string]any{ChunkIDKey: chunkID}
	}
	return p
}

// Answer is the answer to a RetrieveAndGenerate or RetrieveAndGenerateStream request.
type Answer struct {
	// Parts are the answer's text, streamed one output event each; RetrieveAndGenerate
	// joins them.
	Parts []string
	// Citations cite spans of the joined text, in order. A stream sends each as soon
	// as the text it cites has been sent, unless CitationsLast is set.
	Citations []Citation
	// CitationsLast sends a stream's citations after all its text.
	CitationsLast bool
	// GuardrailIntervened sends a guardrail event with action INTERVENED (and
	// guardrailAction INTERVENED in RetrieveAndGenerate).
	GuardrailIntervened bool
	// SessionID overrides the session id answered; empty means the request's, or a new
	// one.
	SessionID string
	// Error, when set, answers the request with this error instead.
	Error *APIError
}

// Citation cites the first occurrence of Text, at or after the previous citation's
// start, in the answer's joined text. Its span is sent as Bedrock sends it: start and
// end are character offsets, end that of the span's last character.
type Citation struct {
	Text       string
	References []Passage
}

// APIError is an error answered before any stream, as Bedrock does: an HTTP status, the
// X-Amzn-ErrorType header and a JSON body {"message": …}.
type APIError struct {
	Status  int    // such as 400, 403, 404 or 429
	Type    string // such as "ValidationException" or "AccessDeniedException"
	Message string
}

// StreamFailure breaks a stream after AfterParts output events have been sent (and the
// citations those completed).
type StreamFailure struct {
	AfterParts int
	// Exception is the :exception-type of the exception message sent, such as
	// "throttlingException", "internalServerException" or "dependencyFailedException".
	// Empty cuts the connection instead, in the middle of an event frame.
	Exception string
	Message   string
}

// Request is a request as the server decoded it; its JSON fields mirror the operations'
// request bodies.
type Request struct {
	Operation     string `json:"-"` // "Retrieve", "RetrieveAndGenerate", "RetrieveAndGenerateStream" or "Rerank"
	Path          string `json:"-"` // the escaped URL path the client sent
	Authorization string `json:"-"` // the SigV4 Authorization header

	// Retrieve.
	RetrievalQuery         *TextInput              `json:"retrievalQuery"`
	RetrievalConfiguration *RetrievalConfiguration `json:"retrievalConfiguration"`

	// RetrieveAndGenerate[Stream].
	Input                            *TextInput                        `json:"input"`
	RetrieveAndGenerateConfiguration *RetrieveAndGenerateConfiguration `json:"retrieveAndGenerateConfiguration"`
	SessionID                        string                            `json:"sessionId"`

	// Rerank.
	Queries             []RerankQuery        `json:"queries"`
	Sources             []RerankSource       `json:"sources"`
	RerankConfiguration *RerankConfiguration `json:"rerankingConfiguration"`

	knowledgeBaseID string // from the path of a Retrieve
}

// TextInput is a query: retrievalQuery or input.
type TextInput struct {
	Text string `json:"text"`
}

// RetrievalConfiguration is the retrieval part of a request.
type RetrievalConfiguration struct {
	VectorSearchConfiguration *VectorSearchConfiguration `json:"vectorSearchConfiguration"`
}

// VectorSearchConfiguration sets the number of results, search type and filter.
type VectorSearchConfiguration struct {
	NumberOfResults    *int    `json:"numberOfResults"`
	OverrideSearchType string  `json:"overrideSearchType"`
	Filter             *Filter `json:"filter"`
	// RerankingConfiguration, when set, has the retrieved passages reranked (see
	// RerankScore) and cut to its numberOfRerankedResults.
	RerankingConfiguration *VectorSearchReranking `json:"rerankingConfiguration"`
}

// Filter is a metadata filter. The server applies equals, notEquals, andAll and orAll,
// and rejects the other operators with a ValidationException.
type Filter struct {
	Equals    *FilterAttribute `json:"equals,omitempty"`
	NotEquals *FilterAttribute `json:"notEquals,omitempty"`
	AndAll    []Filter         `json:"andAll,omitempty"`
	OrAll     []Filter         `json:"orAll,omitempty"`
	// Other holds any other operator, by name.
	Other map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON keeps the operators the server does not apply in Other.
func (f *Filter) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	type plain Filter
	if err := json.Unmarshal(b, (*plain)(f)); err != nil {
		return err
	}
	for k, v := range all {
		switch k {
		case "equals", "notEquals", "andAll", "orAll":
		default:
			if f.Other == nil {
				f.Other = map[string]json.RawMessage{}
			}
			f.Other[k] = v
		}
	}
	return nil
}

// FilterAttribute is a metadata key and the value it is compared with.
type FilterAttribute struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// RetrieveAndGenerateConfiguration is the configuration of RetrieveAndGenerate[Stream].
type RetrieveAndGenerateConfiguration struct {
	Type                       string                      `json:"type"`
	KnowledgeBaseConfiguration *KnowledgeBaseConfiguration `json:"knowledgeBaseConfiguration"`
}

// KnowledgeBaseConfiguration names the knowledge base and the model that answers.
type KnowledgeBaseConfiguration struct {
	KnowledgeBaseID         string                  `json:"knowledgeBaseId"`
	ModelArn                string                  `json:"modelArn"`
	RetrievalConfiguration  *RetrievalConfiguration `json:"retrievalConfiguration"`
	GenerationConfiguration json.RawMessage         `json:"generationConfiguration"`
}

// KnowledgeBaseID returns the knowledge base the request is for.
func (r *Request) KnowledgeBaseID() string {
	if c := r.knowledgeBaseConfiguration(); c != nil {
		return c.KnowledgeBaseID
	}
	return r.knowledgeBaseID
}

// Query returns the text of retrievalQuery or input.
func (r *Request) Query() string {
	switch {
	case r.RetrievalQuery != nil:
		return r.RetrievalQuery.Text
	case r.Input != nil:
		return r.Input.Text
	}
	return ""
}

// VectorSearch returns the request's vectorSearchConfiguration, or nil.
func (r *Request) VectorSearch() *VectorSearchConfiguration {
	rc := r.RetrievalConfiguration
	if c := r.knowledgeBaseConfiguration(); c != nil {
		rc = c.RetrievalConfiguration
	}
	if rc == nil {
		return nil
	}
	return rc.VectorSearchConfiguration
}

// NumberOfResults returns the numberOfResults sent, or 0.
func (r *Request) NumberOfResults() int {
	if v := r.VectorSearch(); v != nil && v.NumberOfResults != nil {
		return *v.NumberOfResults
	}
	return 0
}

// ModelArn returns the modelArn of a RetrieveAndGenerate[Stream] request.
func (r *Request) ModelArn() string {
	if c := r.knowledgeBaseConfiguration(); c != nil {
		return c.ModelArn
	}
	return ""
}

func (r *Request) knowledgeBaseConfiguration() *KnowledgeBaseConfiguration {
	if r.RetrieveAndGenerateConfiguration == nil {
		return nil
	}
	return r.RetrieveAndGenerateConfiguration.KnowledgeBaseConfiguration
}

// DefaultAnswer answers with one sentence per retrieved passage, each quoting the
// passage's text and citing it; with no passages, it says so, citing nothing.
func DefaultAnswer(req *Request, retrieved []Passage) Answer {
	if len(retrieved) == 0 {
		return Answer{Parts: strings.SplitAfter("Sorry, I am unable to assist you with this request.", " ")}
	}
	var a Answer
	for i, p := range retrieved {
		sentence := fmt.Sprintf("Source %d says: %s.", i+1, strings.TrimRight(p.Text, ". \n"))
		if i > 0 {
			a.Parts = append(a.Parts, " ")
		}
		a.Parts = append(a.Parts, strings.SplitAfter(sentence, " ")...)
		a.Citations = append(a.Citations, Citation{Text: sentence, References: []Passage{p}})
	}
	return a
}

// Stats counts what the server has done so far.
type Stats struct {
	Requests  int // requests received, throttled ones included
	Throttled int // requests answered by ThrottleFirst
	Active    int // streams open, RetrieveAndGenerate calls waiting
	Completed int // requests answered in full
	Failed    int // streams broken on purpose by FailStream
	Canceled  int // requests whose client went away before the answer was complete
}

// Server is a running fake Bedrock Agent Runtime. Close it when done.
type Server struct {
	// URL is the endpoint to give the SDK, such as "http://127.0.0.1:40123".
	URL string

	opts    Options
	srv     *httptest.Server
	counter atomic.Int64

	mu       sync.Mutex
	stats    watch.Value[Stats]
	requests []*Request
	sessions map[string]bool
}

// NewServer starts a Server with the given options.
func NewServer(opts Options) *Server {
	if opts.Answer == nil {
		opts.Answer = DefaultAnswer
	}
	s := &Server{opts: opts, sessions: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /knowledgebases/{knowledgeBaseId}/retrieve", s.handleRetrieve)
	mux.HandleFunc("POST /retrieveAndGenerate", s.handleRetrieveAndGenerate)
	mux.HandleFunc("POST /retrieveAndGenerateStream", s.handleRetrieveAndGenerateStream)
	mux.HandleFunc("POST /rerank", s.handleRerank)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: fmt.Sprintf("agentruntimetest: no operation for %s %s", r.Method, r.URL.EscapedPath())})
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, cutting any open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Requests returns the requests received so far, in order of arrival (throttled ones,
// which are not read, excluded).
func (s *Server) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.requests...)
}

// Stats returns the current counts.
func (s *Server) Stats() Stats {
	return s.stats.Load()
}

// Wait blocks until cond holds for the server's Stats, or ctx is done, in which case it
// returns an error with the last Stats seen.
func (s *Server) Wait(ctx context.Context, cond func(Stats) bool) error {
	if st, err := s.stats.Wait(ctx, cond); err != nil {
		return fmt.Errorf("agentruntimetest: waiting for stats, last %+v: %w", st, err)
	}
	return nil
}

func (s *Server) update(fn func(*Stats)) {
	s.stats.Update(fn)
}

// begin does what every operation shares: count, throttle, check the signature, decode,
// validate and record the request. It returns false when it has answered.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, op string) (*Request, bool) {
	n := s.counter.Add(1)
	throttled := n <= int64(s.opts.ThrottleFirst)
	s.update(func(st *Stats) {
		st.Requests++
		if throttled {
			st.Throttled++
		}
	})
	w.Header().Set("X-Amzn-Requestid", "agentruntimetest-"+strconv.FormatInt(n, 10))
	if throttled {
		writeError(w, &APIError{Status: http.StatusTooManyRequests, Type: "ThrottlingException",
			Message: "Rate exceeded"})
		return nil, false
	}
	auth := r.Header.Get("Authorization")
	if err := checkSigV4(auth, r.Header.Get("X-Amz-Date")); err != nil {
		writeError(w, &APIError{Status: http.StatusForbidden, Type: "UnrecognizedClientException", Message: err.Error()})
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil && r.Context().Err() != nil {
		s.update(func(st *Stats) { st.Canceled++ })
		return nil, false
	}
	if err != nil {
		writeError(w, validation("reading body: "+err.Error()))
		return nil, false
	}
	req := &Request{Operation: op, Path: r.URL.EscapedPath(), Authorization: auth, knowledgeBaseID: r.PathValue("knowledgeBaseId")}
	if err := json.Unmarshal(body, req); err != nil {
		writeError(w, validation("Malformed input request: "+err.Error()))
		return nil, false
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	if e := s.validate(req); e != nil {
		writeError(w, e)
		return nil, false
	}
	return req, true
}

func validation(msg string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: "ValidationException", Message: msg}
}

// checkSigV4 checks that a request carries a SigV4 signature for the bedrock service;
// it does not verify the signature itself, which would need the secret key.
func checkSigV4(auth, date string) error {
	switch {
	case auth == "":
		return errors.New("missing Authorization header")
	case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="):
		return fmt.Errorf("authorization is not AWS4-HMAC-SHA256: %q", auth)
	case !strings.Contains(auth, "/bedrock/aws4_request"):
		return fmt.Errorf("credential scope is not for service bedrock: %q", auth)
	case !strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "Signature="):
		return fmt.Errorf("authorization lacks SignedHeaders or Signature: %q", auth)
	case date == "":
		return errors.New("missing X-Amz-Date header")
	}
	return nil
}

// validate applies a few of Bedrock's own checks, so a client bug shows as the error the
// real service would send.
func (s *Server) validate(req *Request) *APIError {
	if req.Operation == "Rerank" {
		return validateRerank(req)
	}
	if req.Operation != "Retrieve" {
		c := req.RetrieveAndGenerateConfiguration
		switch {
		case req.Input == nil || strings.TrimSpace(req.Input.Text) == "":
			return validation("input.text: must not be empty")
		case c == nil || c.Type != "KNOWLEDGE_BASE" || c.KnowledgeBaseConfiguration == nil:
			return validation("retrieveAndGenerateConfiguration: type KNOWLEDGE_BASE with a knowledgeBaseConfiguration is required")
		case c.KnowledgeBaseConfiguration.ModelArn == "":
			return validation("retrieveAndGenerateConfiguration.knowledgeBaseConfiguration.modelArn: must not be empty")
		}
		if req.SessionID != "" {
			s.mu.Lock()
			known := s.sessions[req.SessionID]
			s.mu.Unlock()
			if !known {
				return validation(fmt.Sprintf("Session with Id %s is not valid. Please check and try again.", req.SessionID))
			}
		}
	} else if req.RetrievalQuery == nil || strings.TrimSpace(req.RetrievalQuery.Text) == "" {
		return validation("retrievalQuery.text: must not be empty")
	}
	kb := req.KnowledgeBaseID()
	if kb == "" {
		return validation("knowledgeBaseId: must not be empty")
	}
	if s.opts.KnowledgeBaseID != "" && kb != s.opts.KnowledgeBaseID {
		return &APIError{Status: http.StatusNotFound, Type: "ResourceNotFoundException",
			Message: fmt.Sprintf("Knowledge Base with id %s does not exist", kb)}
	}
	if v := req.VectorSearch(); v != nil {
		if v.NumberOfResults != nil && (*v.NumberOfResults < 1 || *v.NumberOfResults > 100) {
			return validation(fmt.Sprintf("numberOfResults: %d is not from 1 to 100", *v.NumberOfResults))
		}
		switch v.OverrideSearchType {
		case "", "HYBRID", "SEMANTIC":
		default:
			return validation(fmt.Sprintf("overrideSearchType: %q is not HYBRID or SEMANTIC", v.OverrideSearchType))
		}
		if v.Filter != nil {
			if msg := checkFilter(v.Filter); msg != "" {
				return validation(msg)
			}
		}
		if v.RerankingConfiguration != nil {
			if msg := v.RerankingConfiguration.check(); msg != "" {
				return validation(msg)
			}
		}
	}
	return nil
}

func checkFilter(f *Filter) string {
	for k := range f.Other {
		return fmt.Sprintf("agentruntimetest: filter operator %q is not supported here", k)
	}
	n := 0
	for _, set := range []bool{f.Equals != nil, f.NotEquals != nil, f.AndAll != nil, f.OrAll != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "filter: exactly one operator must be set"
	}
	for _, sub := range append(f.AndAll, f.OrAll...) {
		if msg := checkFilter(&sub); msg != "" {
			return msg
		}
	}
	return ""
}

// retrieve returns the passages a request asks for: those matching its filter, highest
// score first, at most numberOfResults.
func (s *Server) retrieve(req *Request) []Passage {
	k := DefaultNumberOfResults
	var filter *Filter
	if v := req.VectorSearch(); v != nil {
		if v.NumberOfResults != nil {
			k = *v.NumberOfResults
		}
		filter = v.Filter
	}
	var out []Passage
	for _, p := range s.opts.Passages {
		p = withSourceURI(p)
		if filter == nil || filter.match(p.Metadata) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Passage) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	out = out[:min(k, len(out))]
	if v := req.VectorSearch(); v != nil && v.RerankingConfiguration != nil {
		out = rerankPassages(req.Query(), out, v.RerankingConfiguration)
	}
	return out
}

func withSourceURI(p Passage) Passage {
	if _, ok := p.Metadata[SourceURIKey]; ok || p.Location.URI == "" {
		return p
	}
	md := make(map[string]any, len(p.Metadata)+1)
	for k, v := range p.Metadata {
		md[k] = v
	}
	md[SourceURIKey] = p.Location.URI
	p.Metadata = md
	return p
}

func (f *Filter) match(md map[string]any) bool {
	equal := func(a *FilterAttribute) bool { return fmt.Sprint(md[a.Key]) == fmt.Sprint(a.Value) }
	switch {
	case f.Equals != nil:
		return equal(f.Equals)
	case f.NotEquals != nil:
		return !equal(f.NotEquals)
	case f.AndAll != nil:
		for _, sub := range f.AndAll {
			if !sub.match(md) {
				return false
			}
		}
		return true
	case f.OrAll != nil:
		for _, sub := range f.OrAll {
			if sub.match(md) {
				return true
			}
		}
	}
	return false
}

// answer decides the reply of a RetrieveAndGenerate[Stream] and its session id.
func (s *Server) answer(req *Request) (Answer, string) {
	a := s.opts.Answer(req, s.retrieve(req))
	session := a.SessionID
	if session == "" {
		session = req.SessionID
	}
	if session == "" {
		session = fmt.Sprintf("session-%d", s.counter.Load())
	}
	s.mu.Lock()
	s.sessions[session] = true
	s.mu.Unlock()
	return a, session
}

func writeError(w http.ResponseWriter, e *APIError) {
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.Type)
	w.WriteHeader(e.Status)
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(body)
	return err
}

// The wire shapes of the answers.
type (
	wireContent struct {
		Text string `json:"text"`
		Type string `json:"type"`
	}
	wireURI struct {
		URI string `json:"uri"`
	}
	wireURL struct {
		URL string `json:"url"`
	}
	wireID struct {
		ID string `json:"id"`
	}
	wireLocation struct {
		Type                   string   `json:"type"`
		S3Location             *wireURI `json:"s3Location,omitempty"`
		WebLocation            *wireURL `json:"webLocation,omitempty"`
		ConfluenceLocation     *wireURL `json:"confluenceLocation,omitempty"`
		SalesforceLocation     *wireURL `json:"salesforceLocation,omitempty"`
		SharePointLocation     *wireURL `json:"sharePointLocation,omitempty"`
		KendraDocumentLocation *wireURI `json:"kendraDocumentLocation,omitempty"`
		CustomDocumentLocation *wireID  `json:"customDocumentLocation,omitempty"`
	}
	wireResult struct {
		Content  wireContent    `json:"content"`
		Location wireLocation   `json:"location"`
		Metadata map[string]any `json:"metadata,omitempty"`
		Score    *float64       `json:"score,omitempty"`
	}
	wireSpan struct {
		Start int `json:"start"`
		End   int `json:"end"`
	}
	wireGeneratedPart struct {
		TextResponsePart struct {
			Text string   `json:"text"`
			Span wireSpan `json:"span"`
		} `json:"textResponsePart"`
	}
	wireCitation struct {
		GeneratedResponsePart wireGeneratedPart `json:"generatedResponsePart"`
		RetrievedReferences   []wireResult      `json:"retrievedReferences"`
	}
	// wireCitationEvent is a citation event as Bedrock sends it: the citation both in
	// the deprecated "citation" member and in the members that replaced it.
	wireCitationEvent struct {
		Citation              wireCitation      `json:"citation"`
		GeneratedResponsePart wireGeneratedPart `json:"generatedResponsePart"`
		RetrievedReferences   []wireResult      `json:"retrievedReferences"`
	}
)

func wireLocationOf(l Location) wireLocation {
	w := wireLocation{Type: l.Type}
	switch l.Type {
	case "", "S3":
		w.Type, w.S3Location = "S3", &wireURI{l.URI}
	case "WEB":
		w.WebLocation = &wireURL{l.URI}
	case "CONFLUENCE":
		w.ConfluenceLocation = &wireURL{l.URI}
	case "SALESFORCE":
		w.SalesforceLocation = &wireURL{l.URI}
	case "SHAREPOINT":
		w.SharePointLocation = &wireURL{l.URI}
	case "KENDRA":
		w.KendraDocumentLocation = &wireURI{l.URI}
	case "CUSTOM":
		w.CustomDocumentLocation = &wireID{l.URI}
	}
	return w
}

func wireResultOf(p Passage, withScore bool) wireResult {
	p = withSourceURI(p)
	r := wireResult{Content: wireContent{Text: p.Text, Type: "TEXT"}, Location: wireLocationOf(p.Location), Metadata: p.Metadata}
	if withScore {
		r.Score = &p.Score
	}
	return r
}

// wireCitations places each citation in text and gives the byte offset where its span
// ends, so a stream can send it as soon as that much text has gone out.
func wireCitations(text string, cs []Citation) ([]wireCitation, []int, error) {
	out := make([]wireCitation, len(cs))
	ends := make([]int, len(cs))
	from := 0
	for i, c := range cs {
		at := strings.Index(text[from:], c.Text)
		if at < 0 || c.Text == "" {
			return nil, nil, fmt.Errorf("agentruntimetest: citation %d: %q is not in the answer after byte %d", i, c.Text, from)
		}
		start := from + at
		end := start + len(c.Text)
		from = start
		var wc wireCitation
		tp := &wc.GeneratedResponsePart.TextResponsePart
		tp.Text = c.Text
		tp.Span.Start = utf8.RuneCountInString(text[:start])
		tp.Span.End = utf8.RuneCountInString(text[:end]) - 1 // the last character's
		for _, p := range c.References {
			wc.RetrievedReferences = append(wc.RetrievedReferences, wireResultOf(p, false))
		}
		out[i], ends[i] = wc, end
	}
	return out, ends, nil
}

func (s *Server) handleRetrieve(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r, "Retrieve")
	if !ok {
		return
	}
	var resp struct {
		RetrievalResults []wireResult `json:"retrievalResults"`
	}
	resp.RetrievalResults = []wireResult{}
	for _, p := range s.retrieve(req) {
		resp.RetrievalResults = append(resp.RetrievalResults, wireResultOf(p, true))
	}
	if writeJSON(w, resp) != nil {
		s.update(func(st *Stats) { st.Canceled++ })
		return
	}
	s.update(func(st *Stats) { st.Completed++ })
}

func (s *Server) handleRetrieveAndGenerate(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r, "RetrieveAndGenerate")
	if !ok {
		return
	}
	a, session := s.answer(req)
	if a.Error != nil {
		writeError(w, a.Error)
		return
	}
	text := strings.Join(a.Parts, "")
	citations, _, err := wireCitations(text, a.Citations)
	if err != nil {
		writeError(w, &APIError{Status: http.StatusInternalServerError, Type: "InternalServerException", Message: err.Error()})
		return
	}
	wait := s.opts.FirstEventDelay
	if n := len(a.Parts); n > 1 {
		wait += time.Duration(n-1) * s.opts.EventDelay
	}
	s.update(func(st *Stats) { st.Active++ })
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			s.update(func(st *Stats) { st.Active--; st.Canceled++ })
			return
		}
	}
	var resp struct {
		SessionID string `json:"sessionId"`
		Output    struct {
			Text string `json:"text"`
		} `json:"output"`
		Citations       []wireCitation `json:"citations"`
		GuardrailAction string         `json:"guardrailAction,omitempty"`
	}
	resp.SessionID, resp.Output.Text, resp.Citations = session, text, citations
	if a.GuardrailIntervened {
		resp.GuardrailAction = "INTERVENED"
	}
	if writeJSON(w, resp) != nil {
		s.update(func(st *Stats) { st.Active--; st.Canceled++ })
		return
	}
	s.update(func(st *Stats) { st.Active--; st.Completed++ })
}

// eventWriter writes event-stream messages to a response, flushing after each.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
}

func (e *eventWriter) write(msg eventstream.Message) error {
	if err := e.enc.Encode(e.w, msg); err != nil {
		return err
	}
	return e.rc.Flush()
}

// event sends an event whose JSON payload is v.
func (e *eventWriter) event(eventType string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return e.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(eventType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		},
		Payload: payload,
	})
}

// exception sends an exception message, which ends the stream.
func (e *eventWriter) exception(exceptionType, message string) error {
	payload, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{message})
	return e.write(eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":exception-type", Value: eventstream.StringValue(exceptionType)},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
			{Name: ":message-type", Value: eventstream.StringValue("exception")},
		},
		Payload: payload,
	})
}

func (s *Server) handleRetrieveAndGenerateStream(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r, "RetrieveAndGenerateStream")
	if !ok {
		return
	}
	if s.opts.StreamError != nil {
		writeError(w, s.opts.StreamError)
		return
	}
	a, session := s.answer(req)
	if a.Error != nil {
		writeError(w, a.Error)
		return
	}
	text := strings.Join(a.Parts, "")
	citations, ends, err := wireCitations(text, a.Citations)
	if err != nil {
		writeError(w, &APIError{Status: http.StatusInternalServerError, Type: "InternalServerException", Message: err.Error()})
		return
	}
	ctx := r.Context()
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder()}
	s.update(func(st *Stats) { st.Active++ })
	outcome := func(st *Stats) { st.Canceled++ }
	defer func() {
		s.update(func(st *Stats) {
			st.Active--
			outcome(st)
		})
	}()

	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-Bedrock-Knowledge-Base-Session-Id", session)
	w.WriteHeader(http.StatusOK)
	ew.rc.Flush()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		if d <= 0 {
			return ctx.Err() == nil
		}
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := s.opts.FailStream
	sent, next := 0, 0 // bytes of text sent; the next citation to send
	sendCitations := func() bool {
		for ; next < len(citations) && ends[next] <= sent; next++ {
			c := citations[next]
			if ew.event("citation", wireCitationEvent{Citation: c, GeneratedResponsePart: c.GeneratedResponsePart,
				RetrievedReferences: c.RetrievedReferences}) != nil {
				return false
			}
		}
		return true
	}
	for i, part := range a.Parts {
		d := s.opts.EventDelay
		if i == 0 {
			d = s.opts.FirstEventDelay
		}
		if !sleep(d) {
			return
		}
		if fail != nil && i == fail.AfterParts {
			outcome = func(st *Stats) { st.Failed++ }
			failStream(w, ew, fail)
			return
		}
		if ew.event("output", TextInput{Text: part}) != nil {
			return
		}
		sent += len(part)
		if !a.CitationsLast && !sendCitations() {
			return
		}
	}
	if fail != nil && fail.AfterParts >= len(a.Parts) {
		outcome = func(st *Stats) { st.Failed++ }
		failStream(w, ew, fail)
		return
	}
	if !sendCitations() {
		return
	}
	if a.GuardrailIntervened && ew.event("guardrail", struct {
		Action string `json:"action"`
	}{"INTERVENED"}) != nil {
		return
	}
	outcome = func(st *Stats) { st.Completed++ }
}

// failStream breaks the stream as f says: an exception message, or a connection cut in
// the middle of an event frame (by a panic the http server recovers from).
func failStream(w http.ResponseWriter, ew *eventWriter, f *StreamFailure) {
	if f.Exception != "" {
		ew.exception(f.Exception, f.Message)
		return
	}
	var frame bytes.Buffer
	ew.enc.Encode(&frame, eventstream.Message{
		Headers: eventstream.Headers{{Name: ":message-type", Value: eventstream.StringValue("event")}},
		Payload: []byte(`{"text":"lost"}`),
	})
	w.Write(frame.Bytes()[:frame.Len()/2])
	ew.rc.Flush()
	panic(http.ErrAbortHandler)
}
