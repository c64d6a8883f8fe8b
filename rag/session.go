package rag

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"genai"
)

// Defaults of Sessions.
const (
	DefaultSessionTurns = 8
	DefaultMaxSessions  = 1000
	DefaultSessionTTL   = time.Hour
	// maxStoredAnswerBytes bounds the memory one remembered answer takes; the start of
	// an answer is what a follow-up question refers to.
	maxStoredAnswerBytes = 4000
)

// Sessions remembers the recent exchanges of conversations with the knowledge base, so
// that a follow-up question sent with only a session_id can be understood.
//
// Sessions live in the memory of one server process: they do not survive a restart, and
// when several server tasks run behind a load balancer each task knows only the sessions
// it served. A client that must not lose context sends the whole conversation as
// messages instead. Memory is bounded: at most MaxTurns exchanges per session and
// MaxSessions sessions, the least recently used evicted first, and sessions idle longer
// than TTL forgotten. The zero value is ready to use with the defaults above; it is safe
// for concurrent use.
type Sessions struct {
	MaxTurns    int           // exchanges kept per session (default DefaultSessionTurns)
	MaxSessions int           // sessions kept (default DefaultMaxSessions)
	TTL         time.Duration // idle time after which a session is forgotten (default DefaultSessionTTL)

	mu   sync.Mutex
	byID map[string]*list.Element // of *session
	lru  list.List                // most recently used at the front
	now  func() time.Time         // for tests
}

type session struct {
	id    string
	owner string          // who started it; see genai.AnswerRequest.Owner
	turns []genai.Message // user, assistant, user, assistant…
	used  time.Time
}

// errNotYours answers a session id that belongs to another owner as if it did not
// exist, so that a key learns nothing of another's sessions.
func errNotYours(id string) error {
	return genai.Errorf(genai.ENOTFOUND, "session_id: no session %q for this API key", id)
}

// NewSessionID returns a new random session id.
func NewSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	return "kbs_" + hex.EncodeToString(b[:])
}

func (s *Sessions) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *Sessions) limits() (turns, sessions int, ttl time.Duration) {
	turns, sessions, ttl = s.MaxTurns, s.MaxSessions, s.TTL
	if turns <= 0 {
		turns = DefaultSessionTurns
	}
	if sessions <= 0 {
		sessions = DefaultMaxSessions
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return turns, sessions, ttl
}

// History returns a copy of the remembered exchanges of session id, oldest first, as
// alternating user and assistant messages; none for an unknown or expired session. A
// session of another owner is ENOTFOUND.
func (s *Sessions) History(id, owner string) ([]genai.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := s.byID[id]
	if el == nil {
		return nil, nil
	}
	ss := el.Value.(*session)
	if _, _, ttl := s.limits(); s.clock().Sub(ss.used) > ttl {
		s.remove(el)
		return nil, nil
	}
	if ss.owner != owner {
		return nil, errNotYours(id)
	}
	return append([]genai.Message(nil), ss.turns...), nil
}

// Append remembers one exchange of session id for owner, creating the session if
// needed and dropping its oldest exchanges and the least recently used sessions over
// the limits. A session of another owner is left as it is: ENOTFOUND.
func (s *Sessions) Append(id, owner, question, answer string) error {
	if id == "" {
		return nil
	}
	maxTurns, maxSessions, ttl := s.limits()
	now := s.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]*list.Element{}
	}
	el := s.byID[id]
	if el != nil && now.Sub(el.Value.(*session).used) > ttl {
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
	if strings.TrimSpace(answer) == "" {
		answer = "(no answer)" // an empty turn would make the history an invalid conversation
	}
	ss := el.Value.(*session)
	ss.used = now
	ss.turns = append(ss.turns,
		genai.TextMessage(genai.RoleUser, question),
		genai.TextMessage(genai.RoleAssistant, clipUTF8(answer, maxStoredAnswerBytes)))
	if over := len(ss.turns) - 2*maxTurns; over > 0 {
		ss.turns = append([]genai.Message(nil), ss.turns[over:]...)
	}
	// Evict from the back: the least recently used, which are also the first to expire.
	for back := s.lru.Back(); back != nil && (s.lru.Len() > maxSessions || now.Sub(back.Value.(*session).used) > ttl); back = s.lru.Back() {
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

// clipUTF8 returns at most n bytes of s, cut at a character boundary.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
