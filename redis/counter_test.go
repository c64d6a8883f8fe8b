package redis_test

import (
	"context"
	"testing"
	"time"

	"genai"
	"genai/internal/countertest"
	"genai/redis"
	"genai/redis/redistest"
)

func TestCounter(t *testing.T) {
	countertest.Run(t, func(t *testing.T) func() genai.UsageCounter {
		srv := redistest.Start(t)
		return func() genai.UsageCounter {
			// A generous timeout: this suite checks the counts, on a machine that may be
			// loaded; TestCounterRedisDown checks the bound.
			c, err := redis.New(srv.URL, redis.Options{Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}
	})
}

// A Redis that is gone fails every operation with an error, within the timeout, not a
// hang; one that comes back is used again.
func TestCounterRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c, err := redis.New(srv.URL, redis.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	key := &genai.Key{Name: "team-a", Limits: genai.Limits{RequestsPerMinute: 5}}
	if err := c.Admit(ctx, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	done := make(chan error, 3)
	go func() {
		done <- c.Admit(ctx, key, time.Now())
		done <- c.Charge(ctx, "team-a", "m", genai.Usage{InputTokens: 1}, time.Now())
		done <- c.Ping(ctx)
	}()
	for range 3 {
		select {
		case err := <-done:
			if err == nil || genai.ErrorCode(err) == genai.ERATELIMIT {
				t.Errorf("with Redis down: %v, want a failure", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an operation hung with Redis down")
		}
	}
}
