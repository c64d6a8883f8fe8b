package rag

import (
	"context"
	"testing"
	"time"

	"genai"
	"genai/storetest"
)

func TestSessionsConformance(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T, clock *storetest.Clock) genai.SessionStore {
		return &Sessions{now: clock.Now}
	})
}

// Memory is bounded by MaxSessions: the least recently used session goes first.
func TestSessionsEvictLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s := &Sessions{MaxSessions: 2, now: func() time.Time { return now }}
	add := func(id string) {
		if err := s.AppendExchange(ctx, id, "", genai.Exchange{Question: "q", Answer: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	has := func(id string) bool {
		h, err := s.SessionHistory(ctx, id, "")
		return err == nil && len(h) > 0
	}
	add("a")
	add("b")
	add("a") // a is now the most recently used
	add("c") // evicts b
	if s.Len() != 2 || has("b") || !has("a") || !has("c") {
		t.Errorf("after eviction: %d sessions, b kept %v", s.Len(), has("b"))
	}
	now = now.Add(2 * genai.SessionTTL)
	add("d") // sweeps the expired a and c
	if s.Len() != 1 {
		t.Errorf("%d sessions after expiry, want 1", s.Len())
	}
}
