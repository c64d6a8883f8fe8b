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
		s.Append("a", fmt.Sprintf("q%d", i), fmt.Sprintf("a%d", i))
	}
	h := s.History("a")
	var got []string
	for _, m := range h {
		got = append(got, string(m.Role)+":"+m.Text())
	}
	if strings.Join(got, " ") != "user:q1 assistant:a1 user:q2 assistant:a2" {
		t.Errorf("history %v: want the last two exchanges", got)
	}
	h[0] = genai.TextMessage(genai.RoleUser, "changed")
	if s.History("a")[0].Text() != "q1" {
		t.Error("History returned the session's own slice")
	}
	if s.History("unknown") != nil {
		t.Error("an unknown session has history")
	}
	s.Append("b", "q", "")
	if got := s.History("b")[1].Text(); got != "(no answer)" {
		t.Errorf("an empty answer is remembered as %q; an empty turn would be an invalid conversation", got)
	}
	s.Append("c", "q", strings.Repeat("é", maxStoredAnswerBytes))
	if got := s.History("c")[1].Text(); len(got) > maxStoredAnswerBytes || !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("a long answer is kept as %d bytes", len(got))
	}
}

func TestSessionsEvictLeastRecentlyUsedAndExpired(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := &Sessions{MaxSessions: 2, TTL: time.Minute, now: func() time.Time { return now }}
	s.Append("a", "q", "a")
	s.Append("b", "q", "a")
	s.Append("a", "q2", "a2") // a is now the most recently used
	s.Append("c", "q", "a")   // evicts b
	if s.Len() != 2 || s.History("b") != nil || s.History("a") == nil || s.History("c") == nil {
		t.Errorf("after eviction: %d sessions, b %v", s.Len(), s.History("b"))
	}
	now = now.Add(2 * time.Minute)
	if s.History("a") != nil {
		t.Error("an expired session still has history")
	}
	s.Append("d", "q", "a") // sweeps expired c
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
				s.Append(id, "q", "a")
				s.History(id)
			}
		})
	}
	wg.Wait()
	if s.Len() != 13 {
		t.Errorf("%d sessions, want 13", s.Len())
	}
	if h := s.History("s0"); len(h) != 2*DefaultSessionTurns {
		t.Errorf("history of %d messages, want %d", len(h), 2*DefaultSessionTurns)
	}
}
