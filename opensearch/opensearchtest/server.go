// Package opensearchtest is an in-process server that speaks the part of OpenSearch's
// REST API that package opensearch uses, so that its tests drive the official
// opensearch-go client, unmodified, over real HTTP.
//
// The server is strict where a lenient fake would hide bugs: it checks request shapes
// (unknown parameters, query clauses or mapping options answer 400 with an
// OpenSearch-style error body), validates documents against the index mapping (strict
// dynamic mapping, knn_vector dimension, dates), makes writes searchable only after a
// refresh, as a real cluster does, and, when asked to, checks SigV4 signing the way an
// Amazon OpenSearch Service (es) or Serverless (aoss) endpoint does, or HTTP basic auth.
//
// What it implements: GET / (cluster info); HEAD, PUT and GET /{index}, GET and PUT
// /{index}/_mapping (PUT adds fields, refusing to change a mapped one); POST /_bulk and /{index}/_bulk (index, create and delete actions);
// GET, PUT, POST and DELETE /{index}/_doc/{id} (with op_type, if_seq_no and if_primary_term); POST /{index}/_search with the match_all, term
// and terms (on keyword fields), range (on numeric fields), knn (exact, brute-force cosine), match and
// multi_match (BM25 over lowercased word tokens) queries, sort, search_after, size and _source filtering; POST /{index}/_refresh.
//
// It is written by hand because no embeddable OpenSearch exists for Go and the real one
// needs a JVM; it is a test double for the wire protocol, not a search engine.
package opensearchtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Auth modes of a Server.
const (
	AuthNone  = "none"  // any request is served
	AuthBasic = "basic" // HTTP basic auth with Options.Username and Options.Password
	AuthSigV4 = "sigv4" // AWS Signature Version 4 for Options.Service in Options.Region
)

// Options configure a Server. The zero value serves a self-managed cluster without
// authentication.
type Options struct {
	// Auth is AuthNone (or ""), AuthBasic or AuthSigV4.
	Auth string

	// Username and Password are the credentials AuthBasic accepts.
	Username, Password string

	// Service ("aoss" or "es") and Region are the scope a SigV4 signature must have.
	// For "aoss" the X-Amz-Content-Sha256 header is required and must be the SHA-256 of
	// the body received.
	Service, Region string

	// Credentials, when AccessKeyID is set, are the only ones AuthSigV4 accepts: the
	// server recomputes each signature and rejects a request whose signature differs.
	Credentials aws.Credentials

	// Serverless makes the server behave like an Amazon OpenSearch Serverless vector
	// search collection where the store depends on it: the refresh parameter and the
	// _refresh API are refused (AOSS has neither), index actions may not choose an _id
	// (the collection assigns it), shard settings are refused, and writes become
	// searchable at once (on AOSS, within about a second).
	Serverless bool
}

// Request is a request the server received, recorded for assertions.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	Status int // the status the server answered
}

// Server is a running fake OpenSearch endpoint. Its methods are safe for concurrent
// use.
type Server struct {
	// URL is the base URL of the server, such as http://127.0.0.1:12345.
	URL string

	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	indices  map[string]*index
	requests []Request
	failures map[string]ItemFailure
	seq      int64
}

// ItemFailure is an error the server answers for one item of a bulk request.
type ItemFailure struct {
	Status int
	Type   string
	Reason string
}

// NewServer starts a Server. Close it when done.
func NewServer(opts Options) *Server {
	if opts.Auth == "" {
		opts.Auth = AuthNone
	}
	switch opts.Auth {
	case AuthNone, AuthBasic, AuthSigV4:
	default:
		panic(fmt.Sprintf("opensearchtest: unknown auth mode %q", opts.Auth))
	}
	s := &Server{opts: opts, indices: map[string]*index{}, failures: map[string]ItemFailure{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// FailBulkItem makes the next bulk index or create action for document id (its _id,
// or on a Serverless server the "id" field of its source) fail with
// f, as a real cluster does for a single rejected document (a mapping conflict, a full
// queue), while the other items of the request succeed.
func (s *Server) FailBulkItem(id string, f ItemFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[id] = f
}

// Mapping returns the mappings index was created with, as JSON, or nil if there is no
// such index.
func (s *Server) Mapping(name string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return nil
	}
	b, _ := json.Marshal(ix.mappings)
	return b
}

// Settings returns the settings index was created with, as JSON, or nil.
func (s *Server) Settings(name string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return nil
	}
	b, _ := json.Marshal(ix.settings)
	return b
}

// CreateIndex creates an index directly, bypassing the API, with the given mappings
// and settings bodies (as PUT /{index} takes them). It is for tests that need an index
// made by someone else.
func (s *Server) CreateIndex(name string, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, e := s.createIndex(name, []byte(body))
	if e != nil {
		return fmt.Errorf("%s: %s", e.Type, e.Reason)
	}
	return nil
}

// osError is an OpenSearch error: its type, reason and HTTP status.
type osError struct {
	Status int
	Type   string
	Reason string
	Index  string
}

func errorf(status int, typ, format string, args ...any) *osError {
	return &osError{Status: status, Type: typ, Reason: fmt.Sprintf(format, args...)}
}

func (e *osError) body() map[string]any {
	cause := map[string]any{"type": e.Type, "reason": e.Reason}
	if e.Index != "" {
		cause["index"] = e.Index
		cause["index_uuid"] = "_na_"
	}
	errObj := maps.Clone(cause)
	errObj["root_cause"] = []any{cause}
	return map[string]any{"error": errObj, "status": e.Status}
}

// response is what a handler answers.
type response struct {
	status int
	body   any // marshalled as JSON; nil for no body
	header http.Header
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := s.authenticate(r, body)
	if resp == nil {
		resp = s.route(r, body)
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(),
		Body: body, Status: resp.status,
	})
	s.mu.Unlock()

	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if resp.body == nil || r.Method == http.MethodHead {
		w.WriteHeader(resp.status)
		return
	}
	var out []byte
	switch b := resp.body.(type) {
	case string:
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		out = []byte(b)
	default:
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		out, _ = json.Marshal(b)
	}
	w.WriteHeader(resp.status)
	w.Write(out)
}

func fail(e *osError) *response { return &response{status: e.Status, body: e.body()} }

func ok(body any) *response { return &response{status: http.StatusOK, body: body} }

// route dispatches an authenticated request.
func (s *Server) route(r *http.Request, body []byte) *response {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if parts[0] == "" {
		parts = nil
	}
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			parts[i] = u
		}
	}
	q := r.URL.Query()
	m := r.Method
	noHandler := func() *response {
		return &response{status: http.StatusBadRequest, body: map[string]any{
			"error":  fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), m),
			"status": http.StatusBadRequest,
		}}
	}
	if len(body) > 0 && m != http.MethodGet && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") &&
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-ndjson") {
		return &response{status: http.StatusNotAcceptable, body: map[string]any{
			"error":  fmt.Sprintf("Content-Type header [%s] is not supported", r.Header.Get("Content-Type")),
			"status": http.StatusNotAcceptable,
		}}
	}
	switch {
	case len(parts) == 0 && m == http.MethodGet:
		return s.info()
	case len(parts) == 1 && parts[0] == "_bulk" && (m == http.MethodPost || m == http.MethodPut):
		return s.bulk("", q, body)
	case len(parts) == 1 && !strings.HasPrefix(parts[0], "_"):
		switch m {
		case http.MethodHead:
			return s.headIndex(parts[0])
		case http.MethodPut:
			return s.putIndex(parts[0], q, body)
		case http.MethodGet:
			return s.getIndex(parts[0], q)
		}
	case len(parts) == 2 && !strings.HasPrefix(parts[0], "_"):
		switch {
		case parts[1] == "_bulk" && (m == http.MethodPost || m == http.MethodPut):
			return s.bulk(parts[0], q, body)
		case parts[1] == "_mapping" && m == http.MethodGet:
			return s.getMapping(parts[0], q)
		case parts[1] == "_mapping" && (m == http.MethodPut || m == http.MethodPost):
			return s.putMapping(parts[0], q, body)
		case parts[1] == "_search" && (m == http.MethodPost || m == http.MethodGet):
			return s.search(parts[0], q, body)
		case parts[1] == "_refresh" && (m == http.MethodPost || m == http.MethodGet):
			return s.refreshIndex(parts[0], q)
		}
	case len(parts) == 3 && !strings.HasPrefix(parts[0], "_") && parts[1] == "_doc":
		switch m {
		case http.MethodGet:
			return s.getDoc(parts[0], parts[2], q)
		case http.MethodDelete:
			return s.deleteDoc(parts[0], parts[2], q)
		case http.MethodPut, http.MethodPost:
			return s.indexDoc(parts[0], parts[2], q, body)
		}
	}
	return noHandler()
}

// checkParams answers 400 for a query parameter the endpoint does not take, as
// OpenSearch does ("request [...] contains unrecognized parameter").
func checkParams(path string, q url.Values, allowed ...string) *osError {
	allowed = append(allowed, "pretty", "error_trace", "human", "filter_path")
	for k := range q {
		if !slices.Contains(allowed, k) {
			return errorf(http.StatusBadRequest, "illegal_argument_exception",
				"request [%s] contains unrecognized parameter: [%s]", path, k)
		}
	}
	return nil
}

func (s *Server) info() *response {
	return ok(map[string]any{
		"name":         "opensearchtest",
		"cluster_name": "opensearchtest",
		"cluster_uuid": "opensearchtest-uuid",
		"version": map[string]any{
			"distribution":                        "opensearch",
			"number":                              "2.19.0",
			"build_type":                          "tar",
			"lucene_version":                      "9.12.1",
			"minimum_wire_compatibility_version":  "7.10.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "The OpenSearch Project: https://opensearch.org/",
	})
}

func (s *Server) headIndex(name string) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indices[name] == nil {
		return &response{status: http.StatusNotFound}
	}
	return &response{status: http.StatusOK}
}

func (s *Server) putIndex(name string, q url.Values, body []byte) *response {
	if e := checkParams("/"+name, q, "timeout", "cluster_manager_timeout", "master_timeout", "wait_for_active_shards"); e != nil {
		return fail(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, e := s.createIndex(name, body); e != nil {
		return fail(e)
	}
	return ok(map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
}

func (s *Server) getIndex(name string, q url.Values) *response {
	if e := checkParams("/"+name, q); e != nil {
		return fail(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	return ok(map[string]any{name: map[string]any{"aliases": map[string]any{}, "mappings": ix.mappings, "settings": map[string]any{"index": ix.settings}}})
}

func (s *Server) getMapping(name string, q url.Values) *response {
	if e := checkParams("/"+name+"/_mapping", q); e != nil {
		return fail(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	return ok(map[string]any{name: map[string]any{"mappings": ix.mappings}})
}

// putMapping adds the fields of a PUT /{index}/_mapping body to the index, as
// OpenSearch does: a field mapped already may be sent again unchanged, but its type
// cannot change.
func (s *Server) putMapping(name string, q url.Values, body []byte) *response {
	if e := checkParams("/"+name+"/_mapping", q, "timeout", "cluster_manager_timeout", "master_timeout"); e != nil {
		return fail(e)
	}
	var req struct {
		Properties map[string]any `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fail(mapperError("Failed to parse mapping: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	knn, _ := ix.settings["knn"].(bool)
	added := &index{fields: map[string]*field{}}
	if e := added.parseProperties("", req.Properties, knn); e != nil {
		return fail(e)
	}
	for k, f := range added.fields {
		if old := ix.fields[k]; old != nil && (old.typ != f.typ || old.indexed != f.indexed) {
			return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "mapper [%s] cannot be changed from type [%s] to [%s]", k, old.typ, f.typ))
		}
	}
	props, _ := ix.mappings["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		ix.mappings["properties"] = props
	}
	maps.Copy(props, req.Properties)
	maps.Copy(ix.fields, added.fields)
	return ok(map[string]any{"acknowledged": true})
}

func (s *Server) refreshIndex(name string, q url.Values) *response {
	if s.opts.Serverless {
		return fail(errorf(http.StatusBadRequest, "illegal_argument_exception",
			"the _refresh API is not supported by Amazon OpenSearch Serverless"))
	}
	if e := checkParams("/"+name+"/_refresh", q); e != nil {
		return fail(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	ix.refresh()
	return ok(map[string]any{"_shards": map[string]int{"total": 1, "successful": 1, "failed": 0}})
}

func indexNotFound(name string) *osError {
	e := errorf(http.StatusNotFound, "index_not_found_exception", "no such index [%s]", name)
	e.Index = name
	return e
}

// refreshParam checks the refresh parameter of a write and reports whether the write
// must be made searchable before answering.
func (s *Server) refreshParam(q url.Values) (bool, *osError) {
	if !q.Has("refresh") {
		return s.opts.Serverless, nil
	}
	if s.opts.Serverless {
		return false, errorf(http.StatusBadRequest, "illegal_argument_exception",
			"the refresh parameter is not supported by Amazon OpenSearch Serverless")
	}
	switch v := q.Get("refresh"); v {
	case "", "true", "wait_for":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, errorf(http.StatusBadRequest, "illegal_argument_exception",
			"Unknown value for refresh: [%s].", v)
	}
}

func (s *Server) getDoc(name, id string, q url.Values) *response {
	if e := checkParams("/"+name+"/_doc/"+id, q, "_source", "_source_excludes", "_source_includes", "realtime", "refresh", "routing", "preference"); e != nil {
		return fail(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	d := ix.docs[id] // GET is realtime: it sees writes not yet refreshed
	if d == nil {
		return &response{status: http.StatusNotFound, body: map[string]any{"_index": name, "_id": id, "found": false}}
	}
	src, e := filterSource(d.source, sourceFilterFromParams(q))
	if e != nil {
		return fail(e)
	}
	out := map[string]any{"_index": name, "_id": id, "_version": d.version, "_seq_no": d.seqNo, "_primary_term": 1, "found": true}
	if src != nil {
		out["_source"] = src
	}
	return ok(out)
}

func (s *Server) deleteDoc(name, id string, q url.Values) *response {
	if e := checkParams("/"+name+"/_doc/"+id, q, "refresh", "timeout", "routing", "version", "version_type", "if_seq_no", "if_primary_term", "wait_for_active_shards"); e != nil {
		return fail(e)
	}
	refresh, e := s.refreshParam(q)
	if e != nil {
		return fail(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indices[name]
	if ix == nil {
		return fail(indexNotFound(name))
	}
	if e := checkSeqNo(ix, id, q); e != nil {
		return fail(e)
	}
	item := s.deleteLocked(ix, id)
	if refresh {
		ix.refresh()
	}
	return &response{status: item["status"].(int), body: item}
}

func (s *Server) deleteLocked(ix *index, id string) map[string]any {
	s.seq++
	item := map[string]any{"_index": ix.name, "_id": id, "_shards": shards(), "_seq_no": s.seq, "_primary_term": 1}
	d := ix.docs[id]
	if d == nil {
		item["result"], item["status"], item["_version"] = "not_found", http.StatusNotFound, 1
		return item
	}
	delete(ix.docs, id)
	item["result"], item["status"], item["_version"] = "deleted", http.StatusOK, d.version+1
	return item
}

func shards() map[string]int { return map[string]int{"total": 2, "successful": 1, "failed": 0} }

// bulk serves POST /_bulk and /{index}/_bulk.
func (s *Server) bulk(pathIndex string, q url.Values, body []byte) *response {
	start := time.Now()
	path := "/_bulk"
	if pathIndex != "" {
		path = "/" + pathIndex + "/_bulk"
	}
	if e := checkParams(path, q, "refresh", "timeout", "routing", "pipeline", "require_alias", "wait_for_active_shards", "_source", "_source_excludes", "_source_includes"); e != nil {
		return fail(e)
	}
	refresh, e := s.refreshParam(q)
	if e != nil {
		return fail(e)
	}
	if len(body) == 0 {
		return fail(errorf(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: no requests added;"))
	}
	if body[len(body)-1] != '\n' {
		return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]"))
	}
	type action struct {
		op, index, id string
		source        []byte
	}
	var actions []action
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	for i := 0; i < len(lines); i++ {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 {
			continue
		}
		var meta map[string]map[string]json.RawMessage
		if err := json.Unmarshal(line, &meta); err != nil || len(meta) != 1 {
			return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Malformed action/metadata line [%d], expected a simple object with one action, got [%s]", i+1, line))
		}
		var a action
		var fields map[string]json.RawMessage
		for a.op, fields = range meta {
		}
		switch a.op {
		case "index", "create", "delete":
		default:
			return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Malformed action/metadata line [%d], expected one of [create, delete, index, update] but found [%s]", i+1, a.op))
		}
		for k, v := range fields {
			var str string
			if err := json.Unmarshal(v, &str); err != nil {
				return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Malformed action/metadata line [%d], expected a string for [%s]", i+1, k))
			}
			switch k {
			case "_index":
				a.index = str
			case "_id":
				a.id = str
			default:
				return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Action/metadata line [%d] contains an unknown parameter [%s]", i+1, k))
			}
		}
		if a.index == "" {
			a.index = pathIndex
		}
		if a.index == "" {
			return fail(errorf(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index is missing;"))
		}
		if a.op != "delete" {
			i++
			if i >= len(lines) || len(bytes.TrimSpace(lines[i])) == 0 {
				return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "The bulk request's %s action on line [%d] has no source", a.op, i))
			}
			a.source = lines[i]
		} else if a.id == "" {
			return fail(errorf(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: id is missing;"))
		}
		actions = append(actions, a)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	items := make([]map[string]any, 0, len(actions))
	errors := false
	touched := map[*index]bool{}
	for _, a := range actions {
		var item map[string]any
		ix := s.indices[a.index]
		switch {
		case ix == nil:
			item = itemError(a.index, a.id, indexNotFound(a.index))
		case a.op == "delete":
			item = s.deleteLocked(ix, a.id)
		default:
			item = s.indexLocked(ix, a.op, a.id, a.source)
		}
		if ix != nil {
			touched[ix] = true
		}
		if _, failed := item["error"]; failed {
			errors = true
		}
		items = append(items, map[string]any{a.op: item})
	}
	if refresh {
		for ix := range touched {
			ix.refresh()
		}
	}
	return ok(map[string]any{"took": time.Since(start).Milliseconds(), "errors": errors, "items": items})
}

func itemError(index, id string, e *osError) map[string]any {
	item := map[string]any{"_index": index, "_id": id, "status": e.Status, "error": map[string]any{"type": e.Type, "reason": e.Reason, "index": index}}
	if e.Index != "" {
		item["error"].(map[string]any)["index_uuid"] = "_na_"
	}
	return item
}

func (s *Server) indexLocked(ix *index, op, id string, source []byte) map[string]any {
	if s.opts.Serverless && id != "" {
		return itemError(ix.name, id, errorf(http.StatusBadRequest, "illegal_argument_exception",
			"Document ID is not supported in create/index operation request"))
	}
	failID := id
	if s.opts.Serverless {
		var src struct {
			ID string `json:"id"`
		}
		json.Unmarshal(source, &src)
		failID = src.ID
	}
	if f, ok := s.failures[failID]; ok {
		delete(s.failures, failID)
		return itemError(ix.name, id, &osError{Status: f.Status, Type: f.Type, Reason: f.Reason})
	}
	if id == "" {
		s.seq++
		id = fmt.Sprintf("auto-%d", s.seq)
	}
	doc, e := ix.parseDoc(source)
	if e != nil {
		return itemError(ix.name, id, e)
	}
	old := ix.docs[id]
	if old != nil && op == "create" {
		return itemError(ix.name, id, errorf(http.StatusConflict, "version_conflict_engine_exception",
			"[%s]: version conflict, document already exists (current version [%d])", id, old.version))
	}
	s.seq++
	doc.id, doc.seqNo, doc.version = id, s.seq, 1
	result, status := "created", http.StatusCreated
	if old != nil {
		doc.version = old.version + 1
		result, status = "updated", http.StatusOK
	}
	ix.docs[id] = doc
	return map[string]any{"_index": ix.name, "_id": id, "_version": doc.version, "result": result,
		"_shards": shards(), "_seq_no": doc.seqNo, "_primary_term": 1, "status": status}
}
