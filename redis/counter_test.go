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

// BenchmarkAdmit measures what admitting a call costs in Redis (one round trip to a
// local redis-server, the Lua script) against the in-process counter, in the same run,
// and prints the ratio.
func BenchmarkAdmit(b *testing.B) {
	srv := redistest.Start(b)
	rc, err := redis.New(srv.URL, redis.Options{Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	key := &genai.Key{Name: "bench", Limits: genai.Limits{RequestsPerMinute: 1 << 40, TokensPerMinute: 1 << 40, TokensPerDay: 1 << 40}}
	per := func(c genai.UsageCounter, n int) time.Duration {
		start := time.Now()
		for range n {
			if err := c.Admit(ctx, key, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(n)
	}
	mem := per(&genai.MemoryCounter{}, 20000)
	per(rc, 100) // loads the script and fills the pool
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if err := rc.Admit(ctx, key, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	red := time.Since(start) / time.Duration(max(b.N, 1))
	b.ReportMetric(float64(mem.Nanoseconds()), "memory-ns/op")
	b.ReportMetric(float64(red)/float64(mem), "x-memory")
}
