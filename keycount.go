package genai

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryCounter is a UsageCounter of one process: the limits hold per process, and the
// usage totals start with it. Its zero value is ready to use.
type MemoryCounter struct {
	mu      sync.Mutex
	windows map[string]*windows
	usage   map[[2]string]*KeyUsage
}

// windows are a key's counts in its current minute and day.
type windows struct {
	minute, day          time.Time
	requests, minuteToks int64
	dayToks              int64
}

// roll moves w forward to the windows of now, starting from zero in a new one.
func (w *windows) roll(now time.Time) {
	if m, _ := MinuteWindow(now); m.After(w.minute) {
		w.minute, w.requests, w.minuteToks = m, 0, 0
	}
	if d, _ := DayWindow(now); d.After(w.day) {
		w.day, w.dayToks = d, 0
	}
}

func (c *MemoryCounter) windowsOf(key string, now time.Time) *windows {
	if c.windows == nil {
		c.windows = map[string]*windows{}
	}
	w := c.windows[key]
	if w == nil {
		w = &windows{}
		c.windows[key] = w
	}
	w.roll(now)
	return w
}

// Admit implements UsageCounter.
func (c *MemoryCounter) Admit(ctx context.Context, key *Key, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.windowsOf(key.Name, now)
	_, minuteLeft := MinuteWindow(now)
	if key.TokensPerMinute > 0 && w.minuteToks >= key.TokensPerMinute {
		return RateLimited(key.Name, LimitTokensPerMinute, minuteLeft)
	}
	if key.TokensPerDay > 0 && w.dayToks >= key.TokensPerDay {
		_, dayLeft := DayWindow(now)
		return RateLimited(key.Name, LimitTokensPerDay, dayLeft)
	}
	if key.RequestsPerMinute > 0 && w.requests >= key.RequestsPerMinute {
		return RateLimited(key.Name, LimitRequestsPerMinute, minuteLeft)
	}
	w.requests++
	return nil
}

// Charge implements UsageCounter.
func (c *MemoryCounter) Charge(ctx context.Context, key, model string, u Usage, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.windowsOf(key, now)
	// A charge dated before the current windows counts in their totals only.
	toks := int64(u.InputTokens + u.OutputTokens)
	if m, _ := MinuteWindow(now); m.Equal(w.minute) {
		w.minuteToks += toks
	}
	if d, _ := DayWindow(now); d.Equal(w.day) {
		w.dayToks += toks
	}
	if c.usage == nil {
		c.usage = map[[2]string]*KeyUsage{}
	}
	ku := c.usage[[2]string{key, model}]
	if ku == nil {
		ku = &KeyUsage{Key: key, Model: model}
		c.usage[[2]string{key, model}] = ku
	}
	ku.Requests++
	ku.InputTokens += int64(u.InputTokens)
	ku.OutputTokens += int64(u.OutputTokens)
	return nil
}

// Usage implements UsageCounter.
func (c *MemoryCounter) Usage(ctx context.Context, key string) ([]KeyUsage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := []KeyUsage{}
	for _, u := range c.usage {
		if key == "" || u.Key == key {
			list = append(list, *u)
		}
	}
	SortUsage(list)
	return list, nil
}

// Spent implements UsageCounter.
func (c *MemoryCounter) Spent(ctx context.Context, key string, now time.Time) (Spent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.windowsOf(key, now)
	return Spent{RequestsThisMinute: w.requests, TokensThisMinute: w.minuteToks, TokensToday: w.dayToks}, nil
}

// SortUsage orders usage by key, then model.
func SortUsage(list []KeyUsage) {
	slices.SortFunc(list, func(a, b KeyUsage) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Model, b.Model))
	})
}
