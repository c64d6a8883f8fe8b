package opensearchtest

import (
	"net/http"
	"net/url"
	"strconv"
)

// indexDoc serves PUT and POST /{index}/_doc/{id}: it writes one document, with
// op_type=create refusing an existing one and if_seq_no with if_primary_term refusing a
// document changed since it was read (409 version_conflict_engine_exception), the
// optimistic concurrency control of a real cluster.
func (s *Server) indexDoc(name, id string, q url.Values, body []byte) *response {
	if e := checkParams("/"+name+"/_doc/"+id, q, "refresh", "timeout", "routing", "op_type", "if_seq_no", "if_primary_term", "version", "version_type", "pipeline", "require_alias", "wait_for_active_shards"); e != nil {
		return fail(e)
	}
	if s.opts.Serverless {
		return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "Document ID is not supported in create/index operation request"))
	}
	refresh, e := s.refreshParam(q)
	if e != nil {
		return fail(e)
	}
	op := "index"
	switch v := q.Get("op_type"); v {
	case "", "index":
	case "create":
		op = "create"
	default:
		return fail(errorf(http.StatusBadRequest, "illegal_argument_exception", "opType must be 'create' or 'index', found: [%s]", v))
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
	item := s.indexLocked(ix, op, id, body)
	if refresh {
		ix.refresh()
	}
	if errBody, failed := item["error"].(map[string]any); failed {
		return &response{status: item["status"].(int), body: map[string]any{"error": errBody, "status": item["status"]}}
	}
	return &response{status: item["status"].(int), body: item}
}

// checkSeqNo answers 409 when if_seq_no and if_primary_term are given and the document
// is absent or at another sequence number.
func checkSeqNo(ix *index, id string, q url.Values) *osError {
	if !q.Has("if_seq_no") && !q.Has("if_primary_term") {
		return nil
	}
	seq, err1 := strconv.ParseInt(q.Get("if_seq_no"), 10, 64)
	term, err2 := strconv.ParseInt(q.Get("if_primary_term"), 10, 64)
	if err1 != nil || err2 != nil || !q.Has("if_seq_no") || !q.Has("if_primary_term") {
		return errorf(http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: ifSeqNo is set, but primary term is [0];")
	}
	d := ix.docs[id]
	switch {
	case d == nil:
		return errorf(http.StatusConflict, "version_conflict_engine_exception",
			"[%s]: version conflict, required seqNo [%d], primary term [%d]. but no document was found", id, seq, term)
	case d.seqNo != seq || term != 1:
		return errorf(http.StatusConflict, "version_conflict_engine_exception",
			"[%s]: version conflict, required seqNo [%d], primary term [%d]. current document has seqNo [%d] and primary term [1]", id, seq, term, d.seqNo)
	}
	return nil
}
