package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
)

// What a follow-up request needs lives in two more indexes beside the notes' one, so
// that with the notes in OpenSearch no server task keeps any of it on its own disk:
//
//   - <index>-sessions: the knowledge base's sessions (genai.SessionStore), one document
//     per session with its exchanges;
//   - <index>-responses: the Responses API's stored responses (genai.ResponseStore).
//
// On a cluster or a managed domain a document's _id is the session's or response's id:
// reads are GETs, which are realtime (no refresh to wait for), and every write names the
// sequence number it read (if_seq_no and if_primary_term, or op_type=create for a new
// one), so that two tasks appending to one session at once do not lose an exchange: the
// one that lost the race reads again and retries. AOSS vector collections assign _ids
// themselves and have no optimistic concurrency control: there documents are found by a
// term query on their id field, a write indexes the new version and then deletes the old
// one, a read sees a write only after about a second, and exchanges appended to one
// session at the same moment by two tasks can lose one of them.
//
// Expired documents are answered as absent at once and deleted by a search and a bulk
// delete at most once per pruneEvery per process.

// conversationIndexes remembers that the sessions and responses indexes exist.
type conversationIndexes struct {
	mu     sync.Mutex
	ready  bool
	pruned atomic.Int64     // Unix milliseconds of the last prune
	locks  [64]sync.Mutex   // per session, striped: appends of one process queue here
	now    func() time.Time // for tests
}

// pruneEvery is how often a write deletes expired sessions and responses.
const pruneEvery = time.Minute

// maxConflictRetries bounds the retries of a write that lost a race to another task.
const maxConflictRetries = 8

func (s *Store) sessionsIndex() string  { return s.index + "-sessions" }
func (s *Store) responsesIndex() string { return s.index + "-responses" }

// stored is a keyword kept only in _source: neither searched nor sorted on, so no
// length limit of an indexed term applies.
var stored = map[string]any{"type": "keyword", "index": false, "doc_values": false}

func conversationIndexBody(kind string, props map[string]any) map[string]any {
	return map[string]any{"mappings": map[string]any{
		"dynamic":    "strict",
		"_meta":      map[string]any{"genai": map[string]any{"schema": 1, "kind": kind}},
		"properties": props,
	}}
}

func (s *Store) ensureConversationIndexes(ctx context.Context) error {
	c := &s.conv
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready {
		return nil
	}
	if err := s.ensureOtherIndex(ctx, s.sessionsIndex(), conversationIndexBody("sessions", map[string]any{
		"id": map[string]any{"type": "keyword"}, "owner": map[string]any{"type": "keyword"},
		"used_at": map[string]any{"type": "long"}, "exchanges": stored,
	})); err != nil {
		return err
	}
	if err := s.ensureOtherIndex(ctx, s.responsesIndex(), conversationIndexBody("responses", map[string]any{
		"id": map[string]any{"type": "keyword"}, "owner": map[string]any{"type": "keyword"},
		"created_at": map[string]any{"type": "long"}, "depth": map[string]any{"type": "integer", "index": false},
		"conversation": stored, "body": stored,
	})); err != nil {
		return err
	}
	c.ready = true
	return nil
}

func (s *Store) clock() time.Time {
	if s.conv.now != nil {
		return s.conv.now()
	}
	return time.Now()
}

// convDoc is a document of the sessions or responses index as read, with what a write
// that replaces it names.
type convDoc struct {
	ids         []string // _ids: one on a cluster; on AOSS, every version found
	seqNo, term int
	source      json.RawMessage
}

// getConv returns the document of id in index, or nil.
func (s *Store) getConv(ctx context.Context, index, op, id string) (*convDoc, error) {
	if s.serverless {
		hits, err := s.searchIndex(ctx, index, op, map[string]any{"size": 10, "query": map[string]any{"term": map[string]any{"id": id}}})
		if err != nil || len(hits) == 0 {
			return nil, err
		}
		d := &convDoc{source: hits[0].Source}
		for _, h := range hits {
			d.ids = append(d.ids, h.ID)
		}
		return d, nil
	}
	resp, err := s.client.Document.Get(ctx, opensearchapi.DocumentGetReq{Index: index, DocumentID: id})
	if err != nil {
		r := resp.Inspect().Response
		if r != nil && r.StatusCode == http.StatusNotFound && errorType(r) == "not_found" {
			return nil, nil
		}
		return nil, s.fail(op+" ("+index+")", r, err)
	}
	if !resp.Found {
		return nil, nil
	}
	return &convDoc{ids: []string{id}, seqNo: resp.SeqNo, term: resp.PrimaryTerm, source: resp.Source}, nil
}

// errConflict is a write refused because another wrote the document since it was read.
var errConflict = genai.Errorf(genai.EINVALID, "opensearch: the document changed since it was read")

// putConv writes src as the document of id in index, replacing old (nil: none must
// exist). It returns errConflict when another task wrote the document meanwhile.
func (s *Store) putConv(ctx context.Context, index, op, id string, old *convDoc, src []byte) error {
	if s.serverless {
		var body bytes.Buffer
		body.WriteString(`{"index":{}}` + "\n")
		body.Write(src)
		body.WriteByte('\n')
		if old != nil {
			for _, oid := range old.ids {
				a, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": oid}})
				body.Write(a)
				body.WriteByte('\n')
			}
		}
		return s.bulk(ctx, index, op, &body)
	}
	params := opensearchapi.IndexParams{OpType: "create"}
	if old != nil {
		params = opensearchapi.IndexParams{IfSeqNo: &old.seqNo, IfPrimaryTerm: &old.term}
	}
	resp, err := s.client.Index(ctx, opensearchapi.IndexReq{Index: index, DocumentID: id, Body: bytes.NewReader(src), Params: params})
	if err != nil {
		r := resp.Inspect().Response
		if r != nil && r.StatusCode == http.StatusConflict {
			return errConflict
		}
		return s.fail(op+" ("+index+")", r, err)
	}
	return nil
}

// deleteConv deletes old from index; errConflict when another task wrote it meanwhile.
func (s *Store) deleteConv(ctx context.Context, index, op string, old *convDoc) error {
	if s.serverless {
		var body bytes.Buffer
		for _, oid := range old.ids {
			a, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": oid}})
			body.Write(a)
			body.WriteByte('\n')
		}
		return s.bulk(ctx, index, op, &body)
	}
	resp, err := s.client.Document.Delete(ctx, opensearchapi.DocumentDeleteReq{Index: index, DocumentID: old.ids[0],
		Params: opensearchapi.DocumentDeleteParams{IfSeqNo: &old.seqNo, IfPrimaryTerm: &old.term}})
	if err != nil {
		r := resp.Inspect().Response
		switch {
		case r != nil && r.StatusCode == http.StatusConflict:
			return errConflict
		case r != nil && r.StatusCode == http.StatusNotFound && errorType(r) == "not_found":
			return nil // deleted by another meanwhile
		}
		return s.fail(op+" ("+index+")", r, err)
	}
	return nil
}

// prune deletes the sessions idle past genai.SessionTTL and the responses past
// genai.ResponseRetention, at most once per pruneEvery; what was written is safe
// already, so a failure is left to the next write.
func (s *Store) prune(ctx context.Context) {
	now := s.clock().UnixMilli()
	last := s.conv.pruned.Load()
	if now-last < pruneEvery.Milliseconds() || !s.conv.pruned.CompareAndSwap(last, now) {
		return
	}
	for _, p := range []struct {
		index, field string
		before       int64
	}{
		{s.sessionsIndex(), "used_at", s.clock().Add(-genai.SessionTTL).UnixMilli()},
		{s.responsesIndex(), "created_at", s.clock().Add(-genai.ResponseRetention).UnixMilli()},
	} {
		hits, err := s.searchIndex(ctx, p.index, "prune", map[string]any{"size": maxScan, "_source": false,
			"query": map[string]any{"range": map[string]any{p.field: map[string]any{"lt": p.before}}}})
		if err != nil || len(hits) == 0 {
			continue
		}
		var body bytes.Buffer
		for _, h := range hits {
			a, _ := json.Marshal(map[string]any{"delete": map[string]string{"_id": h.ID}})
			body.Write(a)
			body.WriteByte('\n')
		}
		s.bulk(ctx, p.index, "prune", &body)
	}
}

// sessionDoc is a session as the sessions index stores it.
type sessionDoc struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	UsedAt    int64  `json:"used_at"` // Unix milliseconds of the last exchange
	Exchanges string `json:"exchanges"`
}

// storedExchange is an exchange as a session document keeps it, with JSON names of its
// own so that renaming a Go field does not make stored sessions unreadable.
type storedExchange struct {
	Question string `json:"q"`
	Answer   string `json:"a"`
}

var _ genai.SessionStore = (*Store)(nil)

func sessionNotFound(id string) error {
	return genai.Errorf(genai.ENOTFOUND, "session_id: no session %q for this API key", id)
}

// readSession returns the session document of id and its exchanges if it is owner's
// and live; nil exchanges for none or an expired one.
func (s *Store) readSession(ctx context.Context, op, id, owner string) (*convDoc, []genai.Exchange, error) {
	if err := s.ensureConversationIndexes(ctx); err != nil {
		return nil, nil, err
	}
	d, err := s.getConv(ctx, s.sessionsIndex(), op, id)
	if err != nil || d == nil {
		return d, nil, err
	}
	var doc sessionDoc
	var stored []storedExchange
	if err := json.Unmarshal(d.source, &doc); err != nil || json.Unmarshal([]byte(doc.Exchanges), &stored) != nil {
		return nil, nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable session %q", s.sessionsIndex(), id)
	}
	if doc.UsedAt < s.clock().Add(-genai.SessionTTL).UnixMilli() {
		return d, nil, nil
	}
	if doc.Owner != owner {
		return d, nil, sessionNotFound(id)
	}
	out := make([]genai.Exchange, len(stored))
	for i, e := range stored {
		out[i] = genai.Exchange{Question: e.Question, Answer: e.Answer}
	}
	return d, out, nil
}

// SessionHistory returns the exchanges of session id of owner, oldest first; none for
// an unknown or expired session, ENOTFOUND for a session of another owner.
func (s *Store) SessionHistory(ctx context.Context, id, owner string) ([]genai.Exchange, error) {
	_, ex, err := s.readSession(ctx, "session history", id, owner)
	return ex, err
}

// AppendExchange adds e to session id of owner: it reads the session, adds e and
// writes it back naming the version it read, again if another task wrote meanwhile.
func (s *Store) AppendExchange(ctx context.Context, id, owner string, e genai.Exchange) error {
	const op = "append to session"
	if id == "" || len(id) > maxIDBytes {
		return genai.Errorf(genai.EINVALID, "session_id: %d bytes, must be from 1 to %d", len(id), maxIDBytes)
	}
	lock := &s.conv.locks[stripe(id)]
	lock.Lock()
	defer lock.Unlock()
	for range maxConflictRetries {
		old, history, err := s.readSession(ctx, op, id, owner)
		if err != nil {
			return err
		}
		history = genai.AddExchange(history, e)
		stored := make([]storedExchange, len(history))
		for i, x := range history {
			stored[i] = storedExchange{x.Question, x.Answer}
		}
		ex, _ := json.Marshal(stored)
		src, err := json.Marshal(sessionDoc{ID: id, Owner: owner, UsedAt: s.clock().UnixMilli(), Exchanges: string(ex)})
		if err != nil {
			return fmt.Errorf("opensearch: %s %s: %w", op, id, err)
		}
		switch err := s.putConv(ctx, s.sessionsIndex(), op, id, old, src); err {
		case errConflict:
			continue
		case nil:
			s.prune(ctx)
			return nil
		default:
			return err
		}
	}
	return genai.Errorf(genai.EUNAVAILABLE, "opensearch: %s %s: written by others %d times while this was written; try again", op, id, maxConflictRetries)
}

// stripe picks the lock of a session id.
func stripe(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % 64)
}

// responseDoc is a stored response as the responses index stores it.
type responseDoc struct {
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	CreatedAt    int64  `json:"created_at"` // Unix milliseconds
	Depth        int    `json:"depth"`
	Conversation string `json:"conversation"` // genai.MarshalConversation
	Body         string `json:"body"`
}

var _ genai.ResponseStore = (*Store)(nil)

func responseNotFound(id string) error {
	return genai.Errorf(genai.ENOTFOUND, "no response %q for this API key", id)
}

// readResponse returns the document of response id and the response if it is owner's
// and within its retention, else ENOTFOUND (with the document, if there is one).
func (s *Store) readResponse(ctx context.Context, op, id, owner string) (*convDoc, *genai.StoredResponse, error) {
	if err := s.ensureConversationIndexes(ctx); err != nil {
		return nil, nil, err
	}
	d, err := s.getConv(ctx, s.responsesIndex(), op, id)
	if err != nil {
		return nil, nil, err
	}
	if d == nil {
		return nil, nil, responseNotFound(id)
	}
	var doc responseDoc
	if err := json.Unmarshal(d.source, &doc); err != nil {
		return nil, nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: unreadable response %q: %v", s.responsesIndex(), id, err)
	}
	if doc.Owner != owner || doc.CreatedAt < s.clock().Add(-genai.ResponseRetention).UnixMilli() {
		return d, nil, responseNotFound(id)
	}
	r := &genai.StoredResponse{ID: id, Owner: owner, CreatedAt: time.UnixMilli(doc.CreatedAt).UTC(), Depth: doc.Depth, Body: json.RawMessage(doc.Body)}
	if r.System, r.Messages, err = genai.UnmarshalConversation([]byte(doc.Conversation)); err != nil {
		return nil, nil, genai.Errorf(genai.EUPSTREAM, "opensearch: index %q: response %q: %v", s.responsesIndex(), id, err)
	}
	return d, r, nil
}

// PutResponse stores resp, replacing a response of the same id of the same owner; a
// response of another owner with that id is left as it is (ENOTFOUND, which random ids
// make happen only by a bug).
func (s *Store) PutResponse(ctx context.Context, resp *genai.StoredResponse) error {
	const op = "put response"
	if err := resp.Validate(); err != nil {
		return err
	}
	if len(resp.ID) > maxIDBytes {
		return genai.Errorf(genai.EINVALID, "stored response: id of %d bytes, over the limit of %d", len(resp.ID), maxIDBytes)
	}
	conv, err := genai.MarshalConversation(resp.System, resp.Messages)
	if err != nil {
		return fmt.Errorf("opensearch: %s %s: %w", op, resp.ID, err)
	}
	src, err := json.Marshal(responseDoc{ID: resp.ID, Owner: resp.Owner, CreatedAt: resp.CreatedAt.UnixMilli(), Depth: resp.Depth,
		Conversation: string(conv), Body: string(resp.Body)})
	if err != nil {
		return fmt.Errorf("opensearch: %s %s: %w", op, resp.ID, err)
	}
	for range maxConflictRetries {
		old, _, err := s.readResponse(ctx, op, resp.ID, resp.Owner)
		switch {
		case genai.ErrorCode(err) == genai.ENOTFOUND && old != nil && s.ownerOf(old) != resp.Owner:
			return err // another owner's
		case err != nil && genai.ErrorCode(err) != genai.ENOTFOUND:
			return err
		}
		switch err := s.putConv(ctx, s.responsesIndex(), op, resp.ID, old, src); err {
		case errConflict:
			continue
		case nil:
			s.prune(ctx)
			return nil
		default:
			return err
		}
	}
	return genai.Errorf(genai.EUNAVAILABLE, "opensearch: %s %s: written by others %d times while this was written; try again", op, resp.ID, maxConflictRetries)
}

// ownerOf returns the owner recorded in a response document.
func (s *Store) ownerOf(d *convDoc) string {
	var doc struct {
		Owner string `json:"owner"`
	}
	json.Unmarshal(d.source, &doc)
	return doc.Owner
}

// GetResponse returns the response id of owner, or ENOTFOUND (also for one past its
// retention).
func (s *Store) GetResponse(ctx context.Context, id, owner string) (*genai.StoredResponse, error) {
	_, r, err := s.readResponse(ctx, "get response", id, owner)
	return r, err
}

// DeleteResponse deletes the response id of owner, or returns ENOTFOUND.
func (s *Store) DeleteResponse(ctx context.Context, id, owner string) error {
	const op = "delete response"
	for range maxConflictRetries {
		old, _, err := s.readResponse(ctx, op, id, owner)
		if err != nil {
			return err
		}
		switch err := s.deleteConv(ctx, s.responsesIndex(), op, old); err {
		case errConflict:
			continue
		default:
			return err
		}
	}
	return genai.Errorf(genai.EUNAVAILABLE, "opensearch: %s %s: written by others %d times while this was deleted; try again", op, id, maxConflictRetries)
}
