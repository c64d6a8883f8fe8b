// Package countertest is the conformance suite of genai.UsageCounter: every counter
// (in process, Redis) passes the same tests.
package countertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"genai"
)

// Run runs the suite; open returns a new, empty counter, and each call to it within one
// subtest must return a counter on the same counts (another task's view).
func Run(t *testing.T, open func(t *testing.T) func() genai.UsageCounter) {
	ctx := context.Background()
	// A fixed instant 10.5 s into a minute, so windows are known.
	now := time.Date(2026, 3, 4, 23, 59, 10, 500e6, time.UTC)

	t.Run("RequestsPerMinute", func(t *testing.T) {
		c := open(t)()
		key := &genai.Key{Name: "team-a", Limits: genai.Limits{RequestsPerMinute: 3}}
		for i := range 3 {
			if err := c.Admit(ctx, key, now.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatalf("call %d: %v", i+1, err)
			}
		}
		err := c.Admit(ctx, key, now.Add(5*time.Second))
		checkLimited(t, err, genai.LimitRequestsPerMinute, 45*time.Second) // 44.5 s left, rounded up
		// The next minute starts from zero.
		if err := c.Admit(ctx, key, now.Add(50*time.Second)); err != nil {
			t.Errorf("first call of the next minute: %v", err)
		}
		// Another key has its own count.
		if err := c.Admit(ctx, &genai.Key{Name: "team-b", Limits: genai.Limits{RequestsPerMinute: 1}}, now); err != nil {
			t.Errorf("another key: %v", err)
		}
	})

	t.Run("TokensPerMinute", func(t *testing.T) {
		c := open(t)()
		key := &genai.Key{Name: "team-a", Limits: genai.Limits{TokensPerMinute: 100}}
		if err := c.Admit(ctx, key, now); err != nil {
			t.Fatal(err)
		}
		if err := c.Charge(ctx, "team-a", "m", genai.Usage{InputTokens: 60, OutputTokens: 39}, now); err != nil {
			t.Fatal(err)
		}
		if err := c.Admit(ctx, key, now); err != nil {
			t.Fatalf("99 of 100 tokens spent: %v", err)
		}
		c.Charge(ctx, "team-a", "m", genai.Usage{OutputTokens: 1}, now)
		checkLimited(t, c.Admit(ctx, key, now.Add(time.Second)), genai.LimitTokensPerMinute, 49*time.Second)
		if err := c.Admit(ctx, key, now.Add(time.Minute)); err != nil {
			t.Errorf("next minute: %v", err)
		}
	})

	t.Run("TokensPerDay", func(t *testing.T) {
		c := open(t)()
		key := &genai.Key{Name: "team-a", Limits: genai.Limits{TokensPerDay: 1000, TokensPerMinute: 5000}}
		c.Charge(ctx, "team-a", "m", genai.Usage{InputTokens: 700}, now.Add(-time.Hour))
		c.Charge(ctx, "team-a", "m", genai.Usage{InputTokens: 300}, now)
		// 49.5 s to midnight, rounded up.
		checkLimited(t, c.Admit(ctx, key, now.Add(time.Second)), genai.LimitTokensPerDay, 49*time.Second)
		if err := c.Admit(ctx, key, now.Add(time.Minute)); err != nil {
			t.Errorf("the next UTC day: %v", err)
		}
	})

	t.Run("UsageAndSpent", func(t *testing.T) {
		c := open(t)()
		key := &genai.Key{Name: "team-a", Limits: genai.Limits{RequestsPerMinute: 10}}
		c.Admit(ctx, key, now)
		c.Admit(ctx, key, now)
		c.Charge(ctx, "team-a", "m1", genai.Usage{InputTokens: 10, OutputTokens: 2}, now)
		c.Charge(ctx, "team-a", "m1", genai.Usage{InputTokens: 5, OutputTokens: 1}, now)
		c.Charge(ctx, "team-a", "m2", genai.Usage{InputTokens: 7}, now.Add(-time.Hour))
		c.Charge(ctx, "team-b", "m1", genai.Usage{OutputTokens: 3}, now)
		got, err := c.Usage(ctx, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		want := []genai.KeyUsage{
			{Key: "team-a", Model: "m1", Requests: 2, InputTokens: 15, OutputTokens: 3},
			{Key: "team-a", Model: "m2", Requests: 1, InputTokens: 7},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("usage of team-a: %v, want %v", got, want)
		}
		all, _ := c.Usage(ctx, "")
		if want := append(want, genai.KeyUsage{Key: "team-b", Model: "m1", Requests: 1, OutputTokens: 3}); fmt.Sprint(all) != fmt.Sprint(want) {
			t.Errorf("usage of all keys: %v, want %v", all, want)
		}
		spent, err := c.Spent(ctx, "team-a", now)
		if err != nil {
			t.Fatal(err)
		}
		if want := (genai.Spent{RequestsThisMinute: 2, TokensThisMinute: 18, TokensToday: 25}); spent != want {
			t.Errorf("spent %+v, want %+v", spent, want)
		}
	})

	// Many callers at once, through two views of one counter, admit exactly the limit.
	t.Run("Concurrent", func(t *testing.T) {
		views := open(t)
		a, b := views(), views()
		key := &genai.Key{Name: "team-a", Limits: genai.Limits{RequestsPerMinute: 20}}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for i := range 100 {
			c := a
			if i%2 == 1 {
				c = b
			}
			wg.Go(func() {
				err := c.Admit(ctx, key, now)
				switch {
				case err == nil:
					admitted.Add(1)
				case genai.ErrorCode(err) != genai.ERATELIMIT:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := admitted.Load(); n != 20 {
			t.Errorf("%d of 100 concurrent calls admitted with a limit of 20", n)
		}
	})
}

func checkLimited(t *testing.T, err error, limit string, retry time.Duration) {
	t.Helper()
	var over *genai.LimitExceeded
	if !errors.As(err, &over) || over.Limit != limit {
		t.Fatalf("err %v, want over %s", err, limit)
	}
	if genai.ErrorCode(err) != genai.ERATELIMIT {
		t.Errorf("code %q", genai.ErrorCode(err))
	}
	if got := genai.ErrorRetryAfter(err); got != retry {
		t.Errorf("retry after %v, want %v", got, retry)
	}
}
