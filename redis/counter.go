// Package redis keeps the counters of keys' limits and usage in Redis, so that several
// genai tasks behind one load balancer share each key's limits and report one usage.
package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"genai"
)

// DefaultTimeout bounds each exchange with Redis: connecting, and writing a command and
// reading its answer. A call to the model takes seconds; Redis answers on a healthy
// network in a millisecond, so a Redis that has not answered in this time is treated as
// down rather than waited for.
const DefaultTimeout = 250 * time.Millisecond

// Options configures a Counter.
type Options struct {
	// Timeout bounds connecting to Redis and each command (default DefaultTimeout).
	Timeout time.Duration
	// Prefix starts the name of every Redis key the counter writes (default "genai:"),
	// so that one Redis may serve other applications, or several genai deployments.
	Prefix string
}

// Counter is a genai.UsageCounter in Redis. Windows are fixed, named by the UTC minute
// and day of the task's clock (keep the tasks' clocks in sync, as NTP does), and expire
// by themselves once past; usage totals are kept until deleted.
type Counter struct {
	rdb     *goredis.Client
	timeout time.Duration
	prefix  string
}

// New returns a Counter on the Redis of url (redis://[user:password@]host:port[/db], or
// rediss:// for TLS). It does not connect: the first command does, and Ping checks.
func New(url string, opts Options) (*Counter, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Prefix == "" {
		opts.Prefix = "genai:"
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = opts.Timeout, opts.Timeout, opts.Timeout, opts.Timeout
	// A retry would double the wait on a Redis that is down; the caller decides what a
	// failure means (fail open or closed).
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	// go-redis's only logger is global and logs every failed dial: while Redis is down
	// that is a line per call. Every failure is returned to the caller instead, which
	// counts it and logs it at a bounded rate.
	quietOnce.Do(func() { goredis.SetLogger(quiet{}) })
	return &Counter{rdb: goredis.NewClient(o), timeout: opts.Timeout, prefix: opts.Prefix}, nil
}

var quietOnce sync.Once

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Close closes the connections to Redis.
func (c *Counter) Close() error { return c.rdb.Close() }

// Ping reports whether Redis answers.
func (c *Counter) Ping(ctx context.Context) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis does not answer: %w", err)
	}
	return nil
}

// bound limits a whole operation (connecting included) to the timeout, whatever the
// caller's context allows: a call waits at most that long on a Redis that hangs.
func (c *Counter) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// windowKeys are the Redis keys of key's request and token counts in the windows of now.
func (c *Counter) windowKeys(key string, now time.Time) (requests, minuteTokens, dayTokens string) {
	minute, _ := genai.MinuteWindow(now)
	day, _ := genai.DayWindow(now)
	m, d := strconv.FormatInt(minute.Unix(), 10), day.Format("20060102")
	return c.prefix + "rpm:" + key + ":" + m, c.prefix + "tpm:" + key + ":" + m, c.prefix + "tpd:" + key + ":" + d
}

// admitScript decides a call in one atomic step, so that tasks admitting at once never
// admit more than the limit between them: refused when the minute's or the day's tokens
// reach their limits, else counted against the request limit and refused when over it.
// A refused call is not counted, so that a client retrying early does not push the
// window's count up.
var admitScript = goredis.NewScript(`
local tpm, tpd, rpm = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[1])
if tpm > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= tpm then return 2 end
if tpd > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= tpd then return 3 end
if rpm > 0 then
  local n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
  if n > rpm then
    redis.call('DECR', KEYS[1])
    return 1
  end
end
return 0
`)

// Admit implements genai.UsageCounter.
func (c *Counter) Admit(ctx context.Context, key *genai.Key, now time.Time) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	rk, mk, dk := c.windowKeys(key.Name, now)
	_, minuteLeft := genai.MinuteWindow(now)
	verdict, err := admitScript.Run(ctx, c.rdb, []string{rk, mk, dk},
		key.RequestsPerMinute, key.TokensPerMinute, key.TokensPerDay, (minuteLeft + time.Minute).Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("redis: admit %s: %w", key.Name, err)
	}
	switch verdict {
	case 1:
		return genai.RateLimited(key.Name, genai.LimitRequestsPerMinute, minuteLeft)
	case 2:
		return genai.RateLimited(key.Name, genai.LimitTokensPerMinute, minuteLeft)
	case 3:
		_, dayLeft := genai.DayWindow(now)
		return genai.RateLimited(key.Name, genai.LimitTokensPerDay, dayLeft)
	}
	return nil
}

func (c *Counter) usageKey(key string) string { return c.prefix + "usage:" + key }
func (c *Counter) keysKey() string            { return c.prefix + "usage-keys" }

// Charge implements genai.UsageCounter: the windows' tokens and the usage totals in one
// transaction, one round trip.
func (c *Counter) Charge(ctx context.Context, key, model string, u genai.Usage, now time.Time) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	_, mk, dk := c.windowKeys(key, now)
	_, minuteLeft := genai.MinuteWindow(now)
	_, dayLeft := genai.DayWindow(now)
	toks := int64(u.InputTokens + u.OutputTokens)
	uk := c.usageKey(key)
	_, err := c.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		if toks > 0 {
			p.IncrBy(ctx, mk, toks)
			p.PExpire(ctx, mk, minuteLeft+time.Minute)
			p.IncrBy(ctx, dk, toks)
			p.PExpire(ctx, dk, dayLeft+time.Hour)
		}
		p.SAdd(ctx, c.keysKey(), key)
		p.HIncrBy(ctx, uk, model+"|requests", 1)
		if u.InputTokens > 0 {
			p.HIncrBy(ctx, uk, model+"|input_tokens", int64(u.InputTokens))
		}
		if u.OutputTokens > 0 {
			p.HIncrBy(ctx, uk, model+"|output_tokens", int64(u.OutputTokens))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: charge %s: %w", key, err)
	}
	return nil
}

// Usage implements genai.UsageCounter.
func (c *Counter) Usage(ctx context.Context, key string) ([]genai.KeyUsage, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	keys := []string{key}
	if key == "" {
		var err error
		if keys, err = c.rdb.SMembers(ctx, c.keysKey()).Result(); err != nil {
			return nil, fmt.Errorf("redis: usage: %w", err)
		}
	}
	cmds := make([]*goredis.MapStringStringCmd, len(keys))
	if _, err := c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HGetAll(ctx, c.usageKey(k))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("redis: usage: %w", err)
	}
	list := []genai.KeyUsage{}
	for i, k := range keys {
		byModel := map[string]*genai.KeyUsage{}
		for field, v := range cmds[i].Val() {
			cut := strings.LastIndexByte(field, '|')
			if cut < 0 {
				continue
			}
			model := field[:cut]
			n, _ := strconv.ParseInt(v, 10, 64)
			u := byModel[model]
			if u == nil {
				u = &genai.KeyUsage{Key: k, Model: model}
				byModel[model] = u
			}
			switch field[cut+1:] {
			case "requests":
				u.Requests = n
			case "input_tokens":
				u.InputTokens = n
			case "output_tokens":
				u.OutputTokens = n
			}
		}
		for _, u := range byModel {
			list = append(list, *u)
		}
	}
	genai.SortUsage(list)
	return list, nil
}

// Spent implements genai.UsageCounter.
func (c *Counter) Spent(ctx context.Context, key string, now time.Time) (genai.Spent, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	rk, mk, dk := c.windowKeys(key, now)
	vals, err := c.rdb.MGet(ctx, rk, mk, dk).Result()
	if err != nil {
		return genai.Spent{}, fmt.Errorf("redis: spent %s: %w", key, err)
	}
	n := func(v any) int64 {
		s, _ := v.(string)
		i, _ := strconv.ParseInt(s, 10, 64)
		return i
	}
	return genai.Spent{RequestsThisMinute: n(vals[0]), TokensThisMinute: n(vals[1]), TokensToday: n(vals[2])}, nil
}
