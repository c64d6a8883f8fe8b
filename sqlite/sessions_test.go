package sqlite

import (
	"path/filepath"
	"testing"

	"genai"
	"genai/storetest"
)

func openConversations(t *testing.T, clock *storetest.Clock) *Responses {
	r := openResponses(t, filepath.Join(t.TempDir(), "responses.db"))
	r.now = clock.Now
	return r
}

func TestSessionStoreConformance(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T, clock *storetest.Clock) genai.SessionStore {
		return openConversations(t, clock)
	})
}

func TestResponseStoreConformance(t *testing.T) {
	storetest.TestResponseStore(t, func(t *testing.T, clock *storetest.Clock) genai.ResponseStore {
		return openConversations(t, clock)
	})
}

// Two stores on one file, as two server processes on one GENAI_DATA_DIR have, share
// their sessions: an exchange appended through one is in the other's history.
func TestSessionsSharedByTwoOpenings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "responses.db")
	a, b := openResponses(t, path), openResponses(t, path)
	ctx := t.Context()
	if err := a.AppendExchange(ctx, "kbs_1", "k", genai.Exchange{Question: "q", Answer: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendExchange(ctx, "kbs_1", "k", genai.Exchange{Question: "q2", Answer: "a2"}); err != nil {
		t.Fatal(err)
	}
	if h, err := a.SessionHistory(ctx, "kbs_1", "k"); err != nil || len(h) != 2 || h[1].Question != "q2" {
		t.Errorf("history through the first store: %v %v", h, err)
	}
}

// A session idle past genai.SessionTTL is deleted by a later write, not only hidden.
func TestExpiredSessionsAreDeleted(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock()
	r := openConversations(t, clock)
	if err := r.AppendExchange(ctx, "kbs_old", "k", genai.Exchange{Question: "q", Answer: "a"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(genai.SessionTTL + pruneEvery)
	if err := r.AppendExchange(ctx, "kbs_new", "k", genai.Exchange{Question: "q", Answer: "a"}); err != nil {
		t.Fatal(err)
	}
	var ids string
	if err := r.db.QueryRow(`SELECT group_concat(id) FROM sessions`).Scan(&ids); err != nil || ids != "kbs_new" {
		t.Errorf("sessions after the prune: %q %v, want kbs_new", ids, err)
	}
}
