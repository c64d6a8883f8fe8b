package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"genai"
)

// This file serves the knowledge base of API.md: document uploads, retrieval, answers
// with citations, and the workshop's /knowledge-base-retrieve(-and-generate) backends.

// Defaults of the upload limits: a file is read into memory whole to be parsed, so its
// limit bounds memory per request; the total only bounds how long one request runs.
const (
	DefaultMaxFileBytes   = 64 << 20
	DefaultMaxUploadBytes = 256 << 20
)

// uploadReadTimeout bounds reading an upload: longer than bodyReadTimeout, since files
// are large, but still finite so a trickling client cannot hold a connection for ever.
const uploadReadTimeout = 10 * time.Minute

// Messages of a server without a knowledge base, or with one managed elsewhere.
const (
	noKBMessage      = "the knowledge base is not configured on this server"
	managedKBMessage = "the documents of this knowledge base are managed in Amazon Bedrock: add files to its " +
		"data source (such as its S3 bucket) and sync the data source in the Bedrock console or with StartIngestionJob"
)

func (s *Server) kb(w http.ResponseWriter, r *http.Request) genai.KnowledgeBase {
	if s.opts.KB == nil {
		s.writeError(w, r, genai.Errorf(genai.EUNAVAILABLE, noKBMessage))
	}
	return s.opts.KB
}

// kbDocuments returns the document service, or answers why there is none.
func (s *Server) kbDocuments(w http.ResponseWriter, r *http.Request) genai.DocumentService {
	switch {
	case s.opts.Ingest != nil:
		return s.opts.Ingest
	case s.opts.KB != nil:
		s.writeError(w, r, genai.Errorf(genai.EINVALID, managedKBMessage))
	default:
		s.writeError(w, r, genai.Errorf(genai.EUNAVAILABLE, noKBMessage))
	}
	return nil
}

// documentsBody is the answer of an upload and of the document list. In managed mode
// the list is empty and ManagedBy and Message say where the documents are.
type documentsBody struct {
	Documents []genai.Document `json:"documents"`
	Errors    []fileError      `json:"errors,omitempty"`
	ManagedBy string           `json:"managed_by,omitempty"`
	Message   string           `json:"message,omitempty"`
}

// fileError is the failure of one file of an upload; the others go on.
type fileError struct {
	File  string      `json:"file"`
	Error errorDetail `json:"error"`
}

// uploadDocuments serves POST /api/kb/documents: multipart "file" parts, or one JSON
// text document.
func (s *Server) uploadDocuments(w http.ResponseWriter, r *http.Request) {
	docs := s.kbDocuments(w, r)
	if docs == nil {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		s.uploadFiles(w, r, docs)
		return
	}
	var in struct {
		Title string `json:"title"`
		Text  string `json:"text"`
		URI   string `json:"uri"`
	}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(in.Text) == "" {
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "text: required"))
		return
	}
	doc, err := docs.IngestText(r.Context(), in.Title, in.URI, in.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, uploadBody{Documents: []genai.Ingested{*doc}})
}

// uploadBody is the answer of an upload: each document stored, with whether it
// replaced an earlier one of its URI or was unchanged, and the files that failed.
type uploadBody struct {
	Documents []genai.Ingested `json:"documents"`
	Errors    []fileError      `json:"errors,omitempty"`
}

// uploadPart reads one file of a multipart upload for the ingester: it fails with
// ETOOLARGE past max bytes, and keeps any error reading the body itself, after which
// no further part can be read.
type uploadPart struct {
	r       io.Reader
	name    string
	max     int64
	n       int64
	bodyErr error
}

func (p *uploadPart) Read(b []byte) (int, error) {
	if p.n > p.max {
		return 0, p.tooLarge()
	}
	if rest := p.max + 1 - p.n; int64(len(b)) > rest {
		b = b[:rest]
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if err != nil && err != io.EOF {
		p.bodyErr = err
	}
	if p.n > p.max && p.bodyErr == nil {
		return n, p.tooLarge()
	}
	return n, err
}

func (p *uploadPart) tooLarge() error {
	return genai.Errorf(genai.ETOOLARGE, "%s: over the limit of %d bytes per file", p.name, p.max)
}

// uploadFiles ingests the "file" parts of a multipart body one at a time as they
// arrive; the ingester reads each only when it has a slot for it, so a request waiting
// for its turn holds no file in memory. A file over the limit, or one the ingester
// refuses, is reported in "errors" and the rest go on.
func (s *Server) uploadFiles(w http.ResponseWriter, r *http.Request, docs genai.DocumentService) {
	if r.ContentLength > s.opts.MaxUploadBytes {
		s.writeError(w, r, genai.Errorf(genai.ETOOLARGE, "body: %d bytes, over the upload limit of %d", r.ContentLength, s.opts.MaxUploadBytes))
		return
	}
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUploadBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "body: not a multipart form: %v", err))
		return
	}
	out := uploadBody{Documents: []genai.Ingested{}}
	var firstErr error
	fail := func(file string, err error) {
		if firstErr == nil {
			firstErr = err
		}
		out.Errors = append(out.Errors, fileError{File: file, Error: s.errorDetailOf(r, err)})
	}
	// readErr describes a failure to read the body itself, after which no part follows.
	readErr := func(err error) error {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return genai.Errorf(genai.ETOOLARGE, "upload: over the limit of %d bytes for all files together", s.opts.MaxUploadBytes)
		}
		return genai.Errorf(genai.EINVALID, "body: malformed multipart form: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail("", readErr(err))
			break
		}
		if part.FormName() != "file" {
			continue // other fields are ignored; NextPart skips what is left of them
		}
		name := part.FileName()
		if name == "" {
			fail("", genai.Errorf(genai.EINVALID, "file: a part named \"file\" has no filename"))
			continue
		}
		file := &uploadPart{r: part, name: name, max: s.opts.MaxFileBytes}
		doc, err := docs.IngestFile(r.Context(), name, file)
		if file.bodyErr != nil {
			fail(name, readErr(file.bodyErr))
			break
		}
		if err != nil {
			if r.Context().Err() != nil {
				return // the client is gone; nobody would read an answer
			}
			fail(name, err)
			continue
		}
		out.Documents = append(out.Documents, *doc)
	}
	switch {
	case len(out.Documents) > 0:
		writeJSON(w, http.StatusCreated, out)
	case firstErr != nil:
		d := s.errorDetailOf(r, firstErr)
		writeJSON(w, errorStatus(w, firstErr, d.Code), struct {
			Error  errorDetail `json:"error"`
			Errors []fileError `json:"errors"`
		}{d, out.Errors})
	default:
		s.writeError(w, r, genai.Errorf(genai.EINVALID, "file: no file in the form; send each file as a part named \"file\""))
	}
}

func statusOfCode(code string) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

func (s *Server) listDocuments(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ingest == nil && s.opts.KB != nil {
		writeJSON(w, http.StatusOK, documentsBody{Documents: []genai.Document{}, ManagedBy: s.opts.KBName, Message: managedKBMessage})
		return
	}
	docs := s.kbDocuments(w, r)
	if docs == nil {
		return
	}
	list, err := docs.ListDocuments(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []genai.Document{}
	}
	writeJSON(w, http.StatusOK, documentsBody{Documents: list})
}

// documentBody is the answer of GET /api/kb/documents/{id}.
type documentBody struct {
	Document genai.Document `json:"document"`
	Chunks   []genai.Chunk  `json:"chunks"`
}

// getDocument serves GET /api/kb/documents/{id}: the document and its chunks in order,
// as extracted, so a user can see what the model will read.
func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) {
	docs := s.kbDocuments(w, r)
	if docs == nil {
		return
	}
	id := r.PathValue("id")
	doc, err := docs.GetDocument(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	chunks, err := docs.DocumentChunks(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if chunks == nil {
		chunks = []genai.Chunk{}
	}
	writeJSON(w, http.StatusOK, documentBody{Document: *doc, Chunks: chunks})
}

func (s *Server) deleteDocument(w http.ResponseWriter, r *http.Request) {
	docs := s.kbDocuments(w, r)
	if docs == nil {
		return
	}
	if err := docs.DeleteDocument(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// kbFilter narrows retrieval; only document_id for now.
type kbFilter struct {
	DocumentID string `json:"document_id"`
}

// retrieveInput is the body of POST /api/kb/retrieve; K is a pointer so that an
// explicit 0 is refused rather than taken for "the default".
type retrieveInput struct {
	Query  string              `json:"query"`
	K      *int                `json:"k"`
	Mode   genai.RetrievalMode `json:"mode"`
	Filter *kbFilter           `json:"filter"`
}

// explicitK returns *k, refusing an explicit 0, or 0 (the default) when k is absent.
func explicitK(k *int) (int, error) {
	if k == nil {
		return 0, nil
	}
	if *k == 0 {
		return 0, genai.Errorf(genai.EINVALID, "k: must be from 1 to %d, got 0", genai.MaxRetrieveK)
	}
	return *k, nil
}

func (f *kbFilter) documentID() string {
	if f == nil {
		return ""
	}
	return f.DocumentID
}

func (s *Server) kbRetrieve(w http.ResponseWriter, r *http.Request) {
	kb := s.kb(w, r)
	if kb == nil {
		return
	}
	q, err := s.parseRetrieve(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hits, err := kb.Retrieve(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hits == nil {
		hits = []genai.ChunkHit{}
	}
	writeJSON(w, http.StatusOK, map[string][]genai.ChunkHit{"results": hits})
}

// parseRetrieve reads a retrieval request and validates it, once, here where it enters.
func (s *Server) parseRetrieve(w http.ResponseWriter, r *http.Request) (genai.RetrieveQuery, error) {
	var in retrieveInput
	if err := s.decode(w, r, &in); err != nil {
		return genai.RetrieveQuery{}, err
	}
	k, err := explicitK(in.K)
	if err != nil {
		return genai.RetrieveQuery{}, err
	}
	q := genai.RetrieveQuery{Query: in.Query, K: k, Mode: in.Mode, DocumentID: in.Filter.documentID()}
	return q, q.Validate()
}

// answerInput is the body of POST /api/kb/answer.
type answerInput struct {
	Query     *string         `json:"query"`
	Messages  json.RawMessage `json:"messages"`
	K         *int            `json:"k"`
	SessionID string          `json:"session_id"`
	Stream    *bool           `json:"stream"`
	Filter    *kbFilter       `json:"filter"`
}

// parseAnswer reads an answer request and validates it, once, here where it enters;
// it returns it and whether the client asked for a stream (the default).
func (s *Server) parseAnswer(w http.ResponseWriter, r *http.Request) (*genai.AnswerRequest, bool, error) {
	var in answerInput
	if err := s.decode(w, r, &in); err != nil {
		return nil, false, err
	}
	k, err := explicitK(in.K)
	if err != nil {
		return nil, false, err
	}
	req := &genai.AnswerRequest{K: k, SessionID: in.SessionID, DocumentID: in.Filter.documentID(), Owner: Caller(r.Context())}
	hasMessages := len(in.Messages) > 0 && string(in.Messages) != "null"
	switch {
	case in.Query != nil && hasMessages:
		return nil, false, genai.Errorf(genai.EINVALID, "query, messages: send one of them, not both")
	case in.Query != nil:
		req.Query = *in.Query
	case hasMessages:
		if req.Messages, err = parseMessages(in.Messages); err != nil {
			return nil, false, err
		}
	}
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	return req, in.Stream == nil || *in.Stream, nil
}

// parseMessages decodes and checks a conversation in the Anthropic format of /api/chat,
// by genai's own parser.
func parseMessages(raw json.RawMessage) ([]genai.Message, error) {
	body, _ := json.Marshal(struct {
		Messages json.RawMessage `json:"messages"`
	}{raw})
	req, _, err := genai.ParseChatRequest(body)
	if err != nil {
		return nil, err
	}
	return req.Messages, nil
}

// citationsEvent is the first event of an answer, and any later one that brings sources
// found while answering.
type citationsEvent struct {
	Citations  []genai.Citation `json:"citations"`
	SessionID  string           `json:"session_id,omitempty"`
	Extractive bool             `json:"extractive,omitempty"`
}

type kbDoneEvent struct {
	SessionID  string      `json:"session_id"`
	StopReason string      `json:"stop_reason"`
	Usage      genai.Usage `json:"usage"`
	Extractive bool        `json:"extractive"`
}

// answerBody is the answer of POST /api/kb/answer with "stream": false.
type answerBody struct {
	Answer     string           `json:"answer"`
	Citations  []genai.Citation `json:"citations"`
	SessionID  string           `json:"session_id"`
	Extractive bool             `json:"extractive"`
	StopReason string           `json:"stop_reason"`
	Usage      genai.Usage      `json:"usage"`
}

// kbAnswer serves POST /api/kb/answer: the citations, then the answer's text as it is
// written (SSE), or the whole answer at once.
func (s *Server) kbAnswer(w http.ResponseWriter, r *http.Request) {
	kb := s.kb(w, r)
	if kb == nil {
		return
	}
	req, stream, err := s.parseAnswer(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ans, err := kb.Answer(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !stream {
		body, err := wholeAnswer(ans)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, body)
		return
	}

	var sse *sseWriter
	for ev, evErr := range ans.Events {
		if evErr != nil {
			err = evErr
			break
		}
		if sse == nil {
			// Headers wait for the first event, so that an error before it (a throttled
			// model, say) is an ordinary HTTP error with its status.
			sse = s.newSSEWriter(w, r)
			defer sse.close()
			cs := ans.Citations
			if cs == nil {
				cs = []genai.Citation{}
			}
			if err = sse.event("citations", citationsEvent{cs, ans.SessionID, ans.Extractive}); err != nil {
				return
			}
		}
		if len(ev.Citations) > 0 {
			if err = sse.event("citations", citationsEvent{Citations: ev.Citations}); err != nil {
				return
			}
		}
		if ev.Done {
			sse.ending()
			sse.event("done", kbDoneEvent{ans.SessionID, ev.StopReason, ev.Usage, ans.Extractive})
			return
		}
		if ev.Text == "" {
			continue
		}
		if err = sse.event("delta", deltaEvent{Text: ev.Text}); err != nil {
			return // the client went away; leaving the loop cancels the model's call
		}
	}
	if err == nil {
		err = genai.Errorf(genai.EUPSTREAM, "the answer's stream ended without a stop event")
	}
	if sse == nil {
		s.writeError(w, r, err)
		return
	}
	sse.ending()
	sse.event("error", errorBody{Error: s.errorDetailOf(r, err)})
}

// wholeAnswer runs an answer's stream to its end.
func wholeAnswer(ans *genai.Answer) (*answerBody, error) {
	body := &answerBody{Citations: append([]genai.Citation{}, ans.Citations...), SessionID: ans.SessionID, Extractive: ans.Extractive}
	var text strings.Builder
	for ev, err := range ans.Events {
		if err != nil {
			return nil, err
		}
		body.Citations = append(body.Citations, ev.Citations...)
		if ev.Done {
			body.Answer, body.StopReason, body.Usage = text.String(), ev.StopReason, ev.Usage
			return body, nil
		}
		text.WriteString(ev.Text)
	}
	return nil, genai.Errorf(genai.EUPSTREAM, "the answer's stream ended without a stop event")
}

// The workshop's backends answer in the shapes of Amazon Bedrock's Retrieve and
// RetrieveAndGenerate responses, which its pages read.
type (
	bedrockText struct {
		Text string `json:"text"`
	}
	bedrockResult struct {
		Content  bedrockText       `json:"content"`
		Location map[string]any    `json:"location"`
		Metadata map[string]string `json:"metadata"`
		Score    float64           `json:"score"`
	}
	bedrockReference struct {
		Content  bedrockText       `json:"content"`
		Location map[string]any    `json:"location"`
		Metadata map[string]string `json:"metadata"`
	}
	bedrockSpan struct {
		Start int `json:"start"`
		End   int `json:"end"` // the offset of the part's last character
	}
	bedrockCitation struct {
		GeneratedResponsePart struct {
			TextResponsePart struct {
				Text string      `json:"text"`
				Span bedrockSpan `json:"span"`
			} `json:"textResponsePart"`
		} `json:"generatedResponsePart"`
		RetrievedReferences []bedrockReference `json:"retrievedReferences"`
	}
)

// bedrockLocation is where a chunk came from, as Bedrock's RetrievalResultLocation.
func bedrockLocation(uri, documentID string) map[string]any {
	switch {
	case strings.HasPrefix(uri, "s3://"):
		return map[string]any{"type": "S3", "s3Location": map[string]string{"uri": uri}}
	case strings.HasPrefix(uri, "https://"), strings.HasPrefix(uri, "http://"):
		return map[string]any{"type": "WEB", "webLocation": map[string]string{"url": uri}}
	}
	if uri == "" {
		uri = documentID
	}
	return map[string]any{"type": "CUSTOM", "customDocumentLocation": map[string]string{"id": uri}}
}

// bedrockMetadata is a passage's metadata under Bedrock's keys; the page, when known,
// under the key Bedrock gives the pages of PDF passages.
func bedrockMetadata(c genai.Citation) map[string]string {
	m := map[string]string{"x-amz-bedrock-kb-chunk-id": c.ChunkID, "x-amz-bedrock-kb-source-uri": c.URI, "document_id": c.DocumentID}
	if c.Title != "" {
		m["x-amz-bedrock-kb-title"] = c.Title
	}
	if c.Page > 0 {
		m["x-amz-bedrock-kb-document-page-number"] = strconv.Itoa(c.Page)
	}
	return m
}

// workshopConversation reads the workshop's {"messages": […]} body.
func (s *Server) workshopConversation(w http.ResponseWriter, r *http.Request) ([]genai.Message, error) {
	data, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	req, _, err := genai.ParseChatRequest(data)
	if err != nil {
		return nil, err
	}
	// A conversation whose last turn is the assistant's asks nothing new: drop it.
	if n := len(req.Messages); req.Messages[n-1].Role != genai.RoleUser {
		req.Messages = req.Messages[:n-1]
	}
	if len(req.Messages) == 0 {
		return nil, genai.Errorf(genai.EINVALID, "messages: no user question")
	}
	return req.Messages, nil
}

// workshopRetrieve serves /knowledge-base-retrieve: the passages for the last user text.
func (s *Server) workshopRetrieve(w http.ResponseWriter, r *http.Request) {
	kb := s.kb(w, r)
	if kb == nil {
		return
	}
	msgs, err := s.workshopConversation(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := genai.RetrieveQuery{Query: msgs[len(msgs)-1].Text()}
	if err := q.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	hits, err := kb.Retrieve(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	results := make([]bedrockResult, len(hits))
	for i, h := range hits {
		results[i] = bedrockResult{
			Content:  bedrockText{h.Text},
			Location: bedrockLocation(h.URI, h.DocumentID),
			Metadata: bedrockMetadata(h.Citation(i + 1)),
			Score:    h.Score,
		}
	}
	writeJSON(w, http.StatusOK, map[string][]bedrockResult{"retrievalResults": results})
}

// workshopRetrieveAndGenerate serves /knowledge-base-retrieve-and-generate: a whole
// answer, its [n] marks turned into Bedrock's citations of text spans.
func (s *Server) workshopRetrieveAndGenerate(w http.ResponseWriter, r *http.Request) {
	kb := s.kb(w, r)
	if kb == nil {
		return
	}
	msgs, err := s.workshopConversation(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req := &genai.AnswerRequest{Messages: msgs, Owner: Caller(r.Context())}
	if err := req.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ans, err := kb.Answer(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := wholeAnswer(ans)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	text, citations := bedrockCitations(body.Answer, body.Citations)
	writeJSON(w, http.StatusOK, struct {
		Output    bedrockText       `json:"output"`
		Citations []bedrockCitation `json:"citations"`
		SessionID string            `json:"sessionId,omitempty"`
	}{bedrockText{text}, citations, body.SessionID})
}

// citationMark is a run of [n] marks, such as "[1]", "[2, 3]" or "[1][2]".
var (
	citationMark   = regexp.MustCompile(`(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+`)
	citationNumber = regexp.MustCompile(`\d+`)
)

// bedrockCitations returns text without its citation marks, and a citation for each
// part of it that ended in marks: the part's text and span (UTF-16 offsets, as Bedrock's
// Java-based service counts, the end being the part's last character) and the cited
// sources. Marks of unknown sources are dropped. Text without marks whose answer has
// sources is cited as one part with them all.
func bedrockCitations(text string, cs []genai.Citation) (string, []bedrockCitation) {
	byN := map[int]genai.Citation{}
	for _, c := range cs {
		byN[c.N] = c
	}
	var out strings.Builder
	var citations []bedrockCitation
	partStart := 0 // in out, bytes
	cite := func(part string, ns []int) {
		var refs []bedrockReference
		for _, n := range ns {
			if c, ok := byN[n]; ok {
				refs = append(refs, bedrockReference{bedrockText{c.Text}, bedrockLocation(c.URI, c.DocumentID), bedrockMetadata(c)})
			}
		}
		if len(refs) == 0 || strings.TrimSpace(part) == "" {
			return
		}
		trimmed := strings.TrimLeftFunc(part, unicode.IsSpace)
		start := utf16Len(out.String()[:partStart+len(part)-len(trimmed)])
		part = trimmed
		var bc bedrockCitation
		bc.GeneratedResponsePart.TextResponsePart.Text = part
		bc.GeneratedResponsePart.TextResponsePart.Span = bedrockSpan{start, start + utf16Len(part) - 1}
		bc.RetrievedReferences = refs
		citations = append(citations, bc)
	}
	last := 0
	for _, m := range citationMark.FindAllStringIndex(text, -1) {
		// A mark before the sentence's closing punctuation cites the sentence with it.
		punct := len(text[m[1]:]) - len(strings.TrimLeft(text[m[1]:], ".,;:!?)"))
		out.WriteString(text[last:m[0]])
		out.WriteString(text[m[1] : m[1]+punct])
		var ns []int
		for _, d := range citationNumber.FindAllString(text[m[0]:m[1]], -1) {
			n, _ := strconv.Atoi(d)
			ns = append(ns, n)
		}
		cite(out.String()[partStart:], ns)
		partStart = out.Len()
		last = m[1] + punct
	}
	out.WriteString(text[last:])
	if citations == nil {
		citations = []bedrockCitation{}
		if last == 0 && len(cs) > 0 {
			ns := make([]int, len(cs))
			for i, c := range cs {
				ns[i] = c.N
			}
			cite(out.String(), ns)
		}
	}
	return out.String(), citations
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
