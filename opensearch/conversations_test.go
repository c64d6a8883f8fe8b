package opensearch

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"genai"
	"genai/storetest"
)

func TestSessionStoreConformance(t *testing.T) {
	for _, auth := range []string{AuthSigV4AOSS, AuthSigV4ES, AuthBasic} {
		t.Run(auth, func(t *testing.T) {
			_, opts := fakeFor(t, auth)
			open := opener(opts, "sessions")
			storetest.TestSessionStore(t, func(t *testing.T, clock *storetest.Clock) genai.SessionStore {
				s := open(t, storetest.Space)
				s.conv.now = clock.Now
				return s
			})
		})
	}
}

func TestResponseStoreConformance(t *testing.T) {
	for _, auth := range []string{AuthSigV4AOSS, AuthSigV4ES, AuthBasic} {
		t.Run(auth, func(t *testing.T) {
			_, opts := fakeFor(t, auth)
			open := opener(opts, "responses")
			storetest.TestResponseStore(t, func(t *testing.T, clock *storetest.Clock) genai.ResponseStore {
				s := open(t, storetest.Space)
				s.conv.now = clock.Now
				return s
			})
		})
	}
}

// TestConversationConformanceRealCluster runs the session and response suites against
// a real cluster or domain when GENAI_TEST_OPENSEARCH_URL is set (see
// TestConformanceRealCluster). Not on AOSS: the suites read their writes at once and
// append to one session concurrently, which AOSS, without refresh or optimistic
// concurrency control, does not promise.
func TestConversationConformanceRealCluster(t *testing.T) {
	open := realCluster(t)
	cluster := func(t *testing.T, clock *storetest.Clock) *Store {
		s, ok := open(t, storetest.Space).(*Store)
		if !ok {
			t.Skip("AOSS: see the comment of TestConversationConformanceRealCluster")
		}
		s.conv.now = clock.Now
		return s
	}
	storetest.TestSessionStore(t, func(t *testing.T, clock *storetest.Clock) genai.SessionStore { return cluster(t, clock) })
	storetest.TestResponseStore(t, func(t *testing.T, clock *storetest.Clock) genai.ResponseStore { return cluster(t, clock) })
}

// Two stores on one cluster, as two server tasks have, append to one session at once:
// every exchange is kept, since a write that lost the race to the other task's reads
// again and retries (if_seq_no), and the session is one document, not two.
func TestSessionAppendsOfTwoTasksAreAllKept(t *testing.T) {
	srv, opts := fakeFor(t, AuthBasic)
	opts.Index = newIndexName("tasks")
	a, b := open(t, opts), open(t, opts)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for j := range 3 {
				if err := s.AppendExchange(ctx, "kbs_both", "k", genai.Exchange{Question: string(rune('a'+i)) + string(rune('0'+j)), Answer: "x"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	h, err := b.SessionHistory(ctx, "kbs_both", "k")
	if err != nil || len(h) != 6 {
		t.Errorf("history after 6 appends by two tasks: %d exchanges, %v", len(h), err)
	}
	writes := 0
	for _, r := range srv.Requests() {
		if r.Method == "PUT" && strings.HasSuffix(r.Path, "/_doc/kbs_both") {
			writes++
			if r.Query.Get("op_type") != "create" && r.Query.Get("if_seq_no") == "" {
				t.Errorf("a session write names no version it replaces: %s %s?%s", r.Method, r.Path, r.Query.Encode())
			}
		}
	}
	if writes < 6 {
		t.Errorf("%d session writes, want at least 6", writes)
	}
}

// Expired sessions and responses are not only answered as absent but deleted, by a
// later write once pruneEvery has passed.
func TestExpiredConversationsAreDeleted(t *testing.T) {
	_, opts := fakeFor(t, AuthBasic)
	opts.Index = newIndexName("prune")
	s := open(t, opts)
	clock := storetest.NewClock()
	s.conv.now = clock.Now
	ctx := context.Background()
	if err := s.AppendExchange(ctx, "kbs_old", "k", genai.Exchange{Question: "q", Answer: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutResponse(ctx, storetest.StoredExample("resp_old", "k", clock.Now())); err != nil {
		t.Fatal(err)
	}
	refresh := func() { // as a cluster does every second by itself
		for _, index := range []string{s.sessionsIndex(), s.responsesIndex()} {
			if _, err := s.client.Indices.Refresh(ctx, &opensearchapi.IndicesRefreshReq{Index: []string{index}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	refresh()
	clock.Advance(genai.ResponseRetention + pruneEvery)
	if err := s.AppendExchange(ctx, "kbs_new", "k", genai.Exchange{Question: "q", Answer: "a"}); err != nil {
		t.Fatal(err)
	}
	refresh()
	for index, want := range map[string][]string{s.sessionsIndex(): {"kbs_new"}, s.responsesIndex(): nil} {
		hits, err := s.searchIndex(ctx, index, "count", map[string]any{"size": 100, "query": map[string]any{"match_all": map[string]any{}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hits {
			got = append(got, h.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s holds %v after the prune, want %v", index, got, want)
		}
	}
}
