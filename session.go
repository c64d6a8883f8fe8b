package genai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// A knowledge-base session remembers the recent exchanges of a conversation with the
// knowledge base, so that a follow-up question sent with only a session_id can be
// understood. Sessions live in a SessionStore, not in one server process, so that any
// of several server tasks on one store answers a session another started.

// Bounds of a knowledge-base session, the same in every store.
const (
	// SessionTurns is the number of exchanges a session keeps, the oldest dropped first.
	SessionTurns = 8
	// SessionTTL is how long an idle session is kept: one not appended to for longer is
	// gone (answered as unknown) and its space reclaimed.
	SessionTTL = time.Hour
	// MaxSessionAnswerBytes bounds a remembered answer; the start of an answer is what a
	// follow-up question refers to.
	MaxSessionAnswerBytes = 4000
	// MaxSessionQuestionBytes bounds a remembered question, as MaxQueryBytes bounds one
	// asked.
	MaxSessionQuestionBytes = MaxQueryBytes
)

// Exchange is one question of a session and the answer it got.
type Exchange struct {
	Question, Answer string
}

// SessionStore keeps knowledge-base sessions for SessionTTL after their last exchange.
// A session belongs to the owner that started it (see AnswerRequest.Owner); a session of
// another owner is answered as one that does not exist (ENOTFOUND), so that a key learns
// nothing of another's sessions. Implementations are safe for concurrent use, also by
// several processes on one store.
type SessionStore interface {
	// SessionHistory returns the exchanges of session id of owner, oldest first; none
	// for an unknown or expired session, ENOTFOUND for a session of another owner.
	SessionHistory(ctx context.Context, id, owner string) ([]Exchange, error)
	// AppendExchange adds e to session id of owner (see AddExchange), creating the
	// session if it is unknown or expired and restarting its idle time; a session of
	// another owner is left as it is (ENOTFOUND). When it returns nil, the exchange
	// survives a crash.
	AppendExchange(ctx context.Context, id, owner string, e Exchange) error
}

// NewSessionID returns a new random session id.
func NewSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	return "kbs_" + hex.EncodeToString(b[:])
}

// AddExchange returns history with e appended within the bounds of a session: the
// question and answer clipped (an empty answer remembered as "(no answer)", since an
// empty turn would make the history an invalid conversation) and at most SessionTurns
// exchanges, the oldest dropped. Every SessionStore stores what it returns.
func AddExchange(history []Exchange, e Exchange) []Exchange {
	e.Question = ClipUTF8(e.Question, MaxSessionQuestionBytes)
	if strings.TrimSpace(e.Answer) == "" {
		e.Answer = "(no answer)"
	}
	e.Answer = ClipUTF8(e.Answer, MaxSessionAnswerBytes)
	out := append(append(make([]Exchange, 0, len(history)+1), history...), e)
	if over := len(out) - SessionTurns; over > 0 {
		out = out[over:]
	}
	return out
}

// SessionMessages returns exchanges as the conversation they were: alternating user
// and assistant messages, oldest first.
func SessionMessages(exchanges []Exchange) []Message {
	if len(exchanges) == 0 {
		return nil
	}
	out := make([]Message, 0, 2*len(exchanges))
	for _, e := range exchanges {
		out = append(out, TextMessage(RoleUser, e.Question), TextMessage(RoleAssistant, e.Answer))
	}
	return out
}

// ClipUTF8 returns at most n bytes of s, cut at a character boundary.
func ClipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
