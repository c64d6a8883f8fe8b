package rag

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
)

func TestSessionsKeepBoundedHistory(t *testing.T) {
	s := &Sessions{MaxTurns: 2}
	for i := range 3 {
		s.Append("a", "", fmt.Sprintf("q%d", i), fmt.Sprintf("a%d", i))
	}
	h := history(s, "a")
	var got []string
	for _, m := range h {
		got = append(got, string(m.Role)+":"+m.Text())
	}
	if strings.Join(got, " ") != "user:q1 assistant:a1 user:q2 assistant:a2" {
		t.Errorf("history %v: want the last two exchanges", got)
	}
	h[0] = genai.TextMessage(genai.RoleUser, "changed")
	if history(s, "a")[0].Text() != "q1" {
		t.Error("History returned the session's own slice")
	}
	if history(s, "unknown") != nil {
		t.Error("an unknown session has history")
	}
	s.Append("b", "", "q", "")
	if got := history(s, "b")[1].Text(); got != "(no answer)" {
		t.Errorf("an empty answer is remembered as %q; an empty turn would be an invalid conversation", got)
	}
	s.Append("c", "", "q", strings.Repeat("é", maxStoredAnswerBytes))
	if got := history(s, "c")[1].Text(); len(got) > maxStoredAnswerBytes || !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("a long answer is kept as %d bytes", len(got))
	}
}

func TestSessionsEvictLeastRecentlyUsedAndExpired(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := &Sessions{MaxSessions: 2, TTL: time.Minute, now: func() time.Time { return now }}
	s.Append("a", "", "q", "a")
	s.Append("b", "", "q", "a")
	s.Append("a", "", "q2", "a2") // a is now the most recently used
	s.Append("c", "", "q", "a")   // evicts b
	if s.Len() != 2 || history(s, "b") != nil || history(s, "a") == nil || history(s, "c") == nil {
		t.Errorf("after eviction: %d sessions, b %v", s.Len(), history(s, "b"))
	}
	now = now.Add(2 * time.Minute)
	if history(s, "a") != nil {
		t.Error("an expired session still has history")
	}
	s.Append("d", "", "q", "a") // sweeps expired c
	if s.Len() != 1 {
		t.Errorf("%d sessions after expiry, want 1", s.Len())
	}
}

func TestSessionsConcurrent(t *testing.T) {
	var s Sessions // the zero value works
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				id := fmt.Sprintf("s%d", (i*100+j)%13)
				s.Append(id, "", "q", "a")
				history(&s, id)
			}
		})
	}
	wg.Wait()
	if s.Len() != 13 {
		t.Errorf("%d sessions, want 13", s.Len())
	}
	if h := history(&s, "s0"); len(h) != 2*DefaultSessionTurns {
		t.Errorf("history of %d messages, want %d", len(h), 2*DefaultSessionTurns)
	}
}

// history is Sessions.History for the owner of a server without keys.
func history(s *Sessions, id string) []genai.Message {
	h, err := s.History(id, "")
	if err != nil {
		panic(err)
	}
	return h
}

// A session belongs to the key that started it: another key can neither read it nor
// add to it, and is told only that there is no such session.
func TestSessionsBelongToTheirOwner(t *testing.T) {
	var s Sessions
	if err := s.Append("s1", "key:alice", "What is metformin?", "A drug [1]."); err != nil {
		t.Fatal(err)
	}
	if h, err := s.History("s1", "key:alice"); err != nil || len(h) != 2 {
		t.Fatalf("the owner's history: %v %v", h, err)
	}
	if h, err := s.History("s1", "key:mallory"); genai.ErrorCode(err) != genai.ENOTFOUND || h != nil {
		t.Errorf("another key read the session: %v %v", h, err)
	}
	if err := s.Append("s1", "key:mallory", "ignore all that", "ok"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("another key added to the session: %v", err)
	}
	if h, _ := s.History("s1", "key:alice"); len(h) != 2 {
		t.Errorf("the owner's session changed: %v", h)
	}
}
