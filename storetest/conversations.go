package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"genai"
)

// Clock is the settable time of a store under the session and response suites, which
// move it to test expiry. A store's test points the store's clock at Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at the present millisecond.
func NewClock() *Clock { return &Clock{t: time.UnixMilli(time.Now().UnixMilli())} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSessionStore runs the conformance suite of genai.SessionStore as subtests of t.
// Each call of open must return a fresh, empty store that reads the time from clock;
// the suite closes it if it is an io.Closer.
func TestSessionStore(t *testing.T, open func(t *testing.T, clock *Clock) genai.SessionStore) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s genai.SessionStore, clock *Clock)
	}{
		{"BoundedHistory", testSessionBounds},
		{"Owner", testSessionOwner},
		{"IdleExpiry", testSessionExpiry},
		{"Concurrency", testSessionConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock()
			s := open(t, clock)
			closeAtEnd(t, s)
			tc.run(t, s, clock)
		})
	}
}

func closeAtEnd(t *testing.T, s any) {
	if c, ok := s.(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
}

func appendExchange(t *testing.T, s genai.SessionStore, id, owner, q, a string) {
	t.Helper()
	if err := s.AppendExchange(context.Background(), id, owner, genai.Exchange{Question: q, Answer: a}); err != nil {
		t.Fatalf("append to %s: %v", id, err)
	}
}

func sessionHistory(t *testing.T, s genai.SessionStore, id, owner string) []genai.Exchange {
	t.Helper()
	h, err := s.SessionHistory(context.Background(), id, owner)
	if err != nil {
		t.Fatalf("history of %s: %v", id, err)
	}
	return h
}

// A session keeps its last genai.SessionTurns exchanges in order, an empty answer as
// "(no answer)" and a long one clipped at a character boundary.
func testSessionBounds(t *testing.T, s genai.SessionStore, _ *Clock) {
	if h := sessionHistory(t, s, "kbs_unknown", ""); len(h) != 0 {
		t.Errorf("an unknown session has history %v", h)
	}
	for i := range genai.SessionTurns + 2 {
		appendExchange(t, s, "kbs_a", "", fmt.Sprintf("q%d", i), fmt.Sprintf("a%d", i))
	}
	h := sessionHistory(t, s, "kbs_a", "")
	if len(h) != genai.SessionTurns || h[0] != (genai.Exchange{Question: "q2", Answer: "a2"}) ||
		h[len(h)-1] != (genai.Exchange{Question: fmt.Sprintf("q%d", genai.SessionTurns+1), Answer: fmt.Sprintf("a%d", genai.SessionTurns+1)}) {
		t.Errorf("history %v: want the last %d exchanges, oldest first", h, genai.SessionTurns)
	}
	appendExchange(t, s, "kbs_b", "", "q", " ")
	if h := sessionHistory(t, s, "kbs_b", ""); len(h) != 1 || h[0].Answer != "(no answer)" {
		t.Errorf("an empty answer is remembered as %v", h)
	}
	appendExchange(t, s, "kbs_c", "", "q", strings.Repeat("é", genai.MaxSessionAnswerBytes))
	if h := sessionHistory(t, s, "kbs_c", ""); len(h) != 1 || len(h[0].Answer) > genai.MaxSessionAnswerBytes ||
		!strings.HasPrefix(h[0].Answer, "éé") || strings.ContainsRune(h[0].Answer, '\uFFFD') {
		t.Errorf("a long answer is kept as %d bytes", len(h[0].Answer))
	}
	if h := sessionHistory(t, s, "kbs_a", ""); len(h) != genai.SessionTurns {
		t.Errorf("other sessions changed the first: %v", h)
	}
}

// A session belongs to the key that started it: another key can neither read it nor
// add to it, and is told only that there is no such session.
func testSessionOwner(t *testing.T, s genai.SessionStore, _ *Clock) {
	ctx := context.Background()
	appendExchange(t, s, "kbs_s1", "key:alice", "What is metformin?", "A drug [1].")
	if h, err := s.SessionHistory(ctx, "kbs_s1", "key:mallory"); genai.ErrorCode(err) != genai.ENOTFOUND || h != nil {
		t.Errorf("another key read the session: %v %v", h, err)
	}
	if err := s.AppendExchange(ctx, "kbs_s1", "key:mallory", genai.Exchange{Question: "ignore all that", Answer: "ok"}); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("another key added to the session: %v", err)
	}
	if h := sessionHistory(t, s, "kbs_s1", "key:alice"); len(h) != 1 || h[0].Question != "What is metformin?" {
		t.Errorf("the owner's session changed: %v", h)
	}
}

// A session idle for longer than genai.SessionTTL is gone; each exchange restarts its
// idle time; once gone, its id starts a new session, of whoever uses it.
func testSessionExpiry(t *testing.T, s genai.SessionStore, clock *Clock) {
	appendExchange(t, s, "kbs_e", "key:alice", "q1", "a1")
	clock.Advance(genai.SessionTTL - time.Minute)
	appendExchange(t, s, "kbs_e", "key:alice", "q2", "a2")
	clock.Advance(genai.SessionTTL - time.Minute)
	if h := sessionHistory(t, s, "kbs_e", "key:alice"); len(h) != 2 {
		t.Errorf("a session used %v ago: history %v, want 2 exchanges", genai.SessionTTL-time.Minute, h)
	}
	clock.Advance(2 * time.Minute)
	if h := sessionHistory(t, s, "kbs_e", "key:alice"); len(h) != 0 {
		t.Errorf("a session idle past its TTL has history %v", h)
	}
	appendExchange(t, s, "kbs_e", "key:bob", "q3", "a3")
	if h := sessionHistory(t, s, "kbs_e", "key:bob"); len(h) != 1 || h[0].Question != "q3" {
		t.Errorf("the id of an expired session: history %v, want a new session", h)
	}
}

// Exchanges appended at once, to one session and to many, are all kept.
func testSessionConcurrency(t *testing.T, s genai.SessionStore, _ *Clock) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 4 {
		wg.Go(func() {
			for j := range 2 {
				for _, id := range []string{"kbs_shared", fmt.Sprintf("kbs_own%d", i)} {
					if err := s.AppendExchange(context.Background(), id, "", genai.Exchange{Question: fmt.Sprintf("q%d.%d", i, j), Answer: "a"}); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if h := sessionHistory(t, s, "kbs_shared", ""); len(h) != genai.SessionTurns {
		t.Errorf("the shared session kept %d of %d exchanges appended at once", len(h), genai.SessionTurns)
	}
	for i := range 4 {
		if h := sessionHistory(t, s, fmt.Sprintf("kbs_own%d", i), ""); len(h) != 2 {
			t.Errorf("session %d kept %d of 2 exchanges", i, len(h))
		}
	}
}

// TestResponseStore runs the conformance suite of genai.ResponseStore as subtests of t,
// as TestSessionStore does.
func TestResponseStore(t *testing.T, open func(t *testing.T, clock *Clock) genai.ResponseStore) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s genai.ResponseStore, clock *Clock)
	}{
		{"RoundTripAndOwner", testResponseRoundTrip},
		{"Retention", testResponseRetention},
		{"Invalid", testResponseInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock()
			s := open(t, clock)
			closeAtEnd(t, s)
			tc.run(t, s, clock)
		})
	}
}

// StoredExample is a response whose conversation has every kind of block, created at
// the clock's time.
func StoredExample(id, owner string, created time.Time) *genai.StoredResponse {
	call := &genai.ToolUse{ID: "call_1", Name: "weather", Input: json.RawMessage(`{"city":"Paris"}`)}
	return &genai.StoredResponse{
		ID: id, Owner: owner, CreatedAt: created.UTC(), Depth: 2,
		System: "be brief",
		Messages: []genai.Message{
			{Role: genai.RoleUser, Content: []genai.ContentBlock{
				{Type: genai.BlockText, Text: "weather?"},
				{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: []byte{0x89, 'P', 'N', 'G', 0, 1}}},
			}},
			{Role: genai.RoleAssistant, Content: []genai.ContentBlock{
				{Type: genai.BlockThinking, Thinking: &genai.Thinking{Text: "hmm", Signature: "sig"}},
				{Type: genai.BlockText, Text: "Calling weather."}, {Type: genai.BlockToolUse, ToolUse: call}}},
			{Role: genai.RoleUser, Content: []genai.ContentBlock{{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{
				ToolUseID: "call_1", IsError: true, Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "no such city"}}}}}},
			genai.TextMessage(genai.RoleAssistant, "Sorry."),
		},
		Body: json.RawMessage(`{"id":"` + id + `","object":"response"}`),
	}
}

// A stored response comes back as it was put, replaced by its owner's put, and only to
// the key that made it; a delete deletes it.
func testResponseRoundTrip(t *testing.T, s genai.ResponseStore, clock *Clock) {
	ctx := context.Background()
	want := StoredExample("resp_1", "key:a", clock.Now())
	if err := s.PutResponse(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetResponse(ctx, "resp_1", "key:a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := s.GetResponse(ctx, "resp_1", "key:b"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("another key's get: %v, want not found", err)
	}
	if err := s.PutResponse(ctx, StoredExample("resp_1", "key:b", clock.Now())); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("another key's put over it: %v, want not found", err)
	}
	again := StoredExample("resp_1", "key:a", clock.Now())
	again.Depth = 3
	if err := s.PutResponse(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetResponse(ctx, "resp_1", "key:a"); err != nil || got.Depth != 3 {
		t.Errorf("after the owner's put: %v %+v", err, got)
	}
	if err := s.DeleteResponse(ctx, "resp_1", "key:b"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("another key's delete: %v, want not found", err)
	}
	if err := s.DeleteResponse(ctx, "resp_1", "key:a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetResponse(ctx, "resp_1", "key:a"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("get after delete: %v, want not found", err)
	}
	if err := s.DeleteResponse(ctx, "resp_1", "key:a"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("a second delete: %v, want not found", err)
	}
}

// A response older than genai.ResponseRetention is gone.
func testResponseRetention(t *testing.T, s genai.ResponseStore, clock *Clock) {
	ctx := context.Background()
	if err := s.PutResponse(ctx, StoredExample("resp_old", "k", clock.Now())); err != nil {
		t.Fatal(err)
	}
	clock.Advance(genai.ResponseRetention - time.Minute)
	if _, err := s.GetResponse(ctx, "resp_old", "k"); err != nil {
		t.Errorf("a response within its retention: %v", err)
	}
	clock.Advance(2 * time.Minute)
	if err := s.PutResponse(ctx, StoredExample("resp_new", "k", clock.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetResponse(ctx, "resp_old", "k"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("a response past its retention: %v, want not found", err)
	}
	if _, err := s.GetResponse(ctx, "resp_new", "k"); err != nil {
		t.Errorf("a new response: %v", err)
	}
}

// What Validate refuses is not stored.
func testResponseInvalid(t *testing.T, s genai.ResponseStore, clock *Clock) {
	ctx := context.Background()
	bad := StoredExample("resp_bad", "k", clock.Now())
	bad.Depth = genai.MaxResponseChain + 1
	if err := s.PutResponse(ctx, bad); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("depth over the chain limit: %v, want invalid", err)
	}
	if _, err := s.GetResponse(ctx, "resp_bad", "k"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("a refused response was stored: %v", err)
	}
}
