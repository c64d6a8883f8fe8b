package rag

import (
	"container/list"
	"context"
	"sync"
	"time"

	"genai"
)

// DefaultMaxSessions bounds the sessions a Sessions keeps when MaxSessions is zero.
const DefaultMaxSessions = 1000

// Sessions is a genai.SessionStore in the memory of one process, for tests and for
// programs that embed the knowledge base in one process: its sessions do not survive a
// restart and another process does not see them. The server keeps its sessions in its
// store instead (sqlite.Responses, opensearch.Store), so that several server tasks
// answer each other's follow-ups. Besides the bounds of every store (genai.SessionTurns,
// genai.SessionTTL), memory is bounded by MaxSessions, the least recently used session
// evicted first. The zero value is ready to use; it is safe for concurrent use.
type Sessions struct {
	MaxSessions int // sessions kept (default DefaultMaxSessions)

	mu   sync.Mutex
	byID map[string]*list.Element // of *session
	lru  list.List                // most recently used at the front
	now  func() time.Time         // for tests
}

var _ genai.SessionStore = (*Sessions)(nil)

type session struct {
	id        string
	owner     string // who started it; see genai.AnswerRequest.Owner
	exchanges []genai.Exchange
	used      time.Time
}

// errNotYours answers a session id that belongs to another owner as if it did not
// exist, so that a key learns nothing of another's sessions.
func errNotYours(id string) error {
	return genai.Errorf(genai.ENOTFOUND, "session_id: no session %q for this API key", id)
}

func (s *Sessions) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// SessionHistory returns a copy of the exchanges of session id, oldest first; none for
// an unknown or expired session. A session of another owner is ENOTFOUND.
func (s *Sessions) SessionHistory(_ context.Context, id, owner string) ([]genai.Exchange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := s.byID[id]
	if el == nil {
		return nil, nil
	}
	ss := el.Value.(*session)
	if s.clock().Sub(ss.used) > genai.SessionTTL {
		s.remove(el)
		return nil, nil
	}
	if ss.owner != owner {
		return nil, errNotYours(id)
	}
	return append([]genai.Exchange(nil), ss.exchanges...), nil
}

// AppendExchange adds e to session id of owner, creating the session if needed and
// evicting the least recently used sessions over MaxSessions. A session of another
// owner is left as it is: ENOTFOUND.
func (s *Sessions) AppendExchange(_ context.Context, id, owner string, e genai.Exchange) error {
	maxSessions := s.MaxSessions
	if maxSessions <= 0 {
		maxSessions = DefaultMaxSessions
	}
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]*list.Element{}
	}
	el := s.byID[id]
	if el != nil && now.Sub(el.Value.(*session).used) > genai.SessionTTL {
		s.remove(el)
		el = nil
	}
	if el == nil {
		el = s.lru.PushFront(&session{id: id, owner: owner})
		s.byID[id] = el
	} else if el.Value.(*session).owner != owner {
		return errNotYours(id)
	} else {
		s.lru.MoveToFront(el)
	}
	ss := el.Value.(*session)
	ss.used = now
	ss.exchanges = genai.AddExchange(ss.exchanges, e)
	// Evict from the back: the least recently used, which are also the first to expire.
	for back := s.lru.Back(); back != nil && (s.lru.Len() > maxSessions || now.Sub(back.Value.(*session).used) > genai.SessionTTL); back = s.lru.Back() {
		s.remove(back)
	}
	return nil
}

// Len returns the number of sessions remembered.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

func (s *Sessions) remove(el *list.Element) {
	delete(s.byID, el.Value.(*session).id)
	s.lru.Remove(el)
}
