package genai

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Key is an API key a client sends, known by its name and the SHA-256 of its secret,
// with the models it may call and the limits on what it may spend.
type Key struct {
	// Name identifies the key in metrics, usage and logs; for a key of GENAI_API_KEYS it
	// is "key:" and the first 16 hex digits of its SHA-256.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the key's secret: the secret itself is never stored.
	SHA256 string `json:"sha256"`
	// Models are the chat models the key may call; empty means all.
	Models []string `json:"models,omitempty"`
	// Admin lets the key read the usage of every key at GET /api/usage.
	Admin bool `json:"admin,omitempty"`
	Limits
}

// Limits bound what a key spends in fixed windows: the UTC minute (from :00 to :59
// seconds) and the UTC day. Zero means no limit.
type Limits struct {
	// RequestsPerMinute bounds the model calls a key starts in a minute; each step of
	// an agent answer is one call.
	RequestsPerMinute int64 `json:"requests_per_minute,omitempty"`
	// TokensPerMinute and TokensPerDay bound the tokens (input and output) a key's model
	// calls spend. A call is refused once the window's spent tokens reach the limit; a
	// call admitted under it is charged its real usage when it ends, so the last call
	// of a window may take it past the limit.
	TokensPerMinute int64 `json:"tokens_per_minute,omitempty"`
	TokensPerDay    int64 `json:"tokens_per_day,omitempty"`
}

// Limit names, as in the keys file, errors and metrics.
const (
	LimitRequestsPerMinute = "requests_per_minute"
	LimitTokensPerMinute   = "tokens_per_minute"
	LimitTokensPerDay      = "tokens_per_day"
)

// Allows reports whether the key may call model.
func (k *Key) Allows(model string) bool {
	return len(k.Models) == 0 || slices.Contains(k.Models, model)
}

// keyName is what a key's name may be: a Prometheus label and a log field as it is.
var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ParseKeys reads a keys file, {"keys": [{"name", "sha256", "models", "admin",
// "requests_per_minute", "tokens_per_minute", "tokens_per_day"}]}, and validates every
// entry: names unique and of letters, digits, '_', '.', '-' (64 at most), sha256 64 hex
// digits and unique, limits not negative, no unknown field. The error names the entry
// and the field.
func ParseKeys(r io.Reader) ([]Key, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var file struct {
		Keys *[]Key `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, Errorf(EINVALID, "keys file: %v", err)
	}
	if dec.More() {
		return nil, Errorf(EINVALID, "keys file: more than one JSON value")
	}
	if file.Keys == nil {
		return nil, Errorf(EINVALID, `keys: missing; the file is {"keys": [{"name": …, "sha256": …}]}`)
	}
	keys := *file.Keys
	names, sums := map[string]int{}, map[string]int{}
	for i := range keys {
		k := &keys[i]
		at := fmt.Sprintf("keys[%d]", i)
		if k.Name != "" {
			at += fmt.Sprintf(" (%q)", k.Name)
		}
		switch {
		case k.Name == "":
			return nil, Errorf(EINVALID, "%s.name: missing", at)
		case !keyName.MatchString(k.Name):
			return nil, Errorf(EINVALID, "%s.name: letters, digits, '_', '.' and '-' only, 64 at most, starting with a letter or digit", at)
		}
		if j, dup := names[k.Name]; dup {
			return nil, Errorf(EINVALID, "%s.name: the same as keys[%d]'s", at, j)
		}
		names[k.Name] = i
		k.SHA256 = strings.ToLower(k.SHA256)
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			return nil, Errorf(EINVALID, "%s.sha256: want the 64 hex digits of the key's SHA-256 (sha256sum), got %d characters", at, len(k.SHA256))
		}
		if j, dup := sums[k.SHA256]; dup {
			return nil, Errorf(EINVALID, "%s.sha256: the same key as keys[%d]'s", at, j)
		}
		sums[k.SHA256] = i
		for j, m := range k.Models {
			if strings.TrimSpace(m) == "" {
				return nil, Errorf(EINVALID, "%s.models[%d]: empty", at, j)
			}
		}
		for _, l := range []struct {
			name string
			v    int64
		}{{LimitRequestsPerMinute, k.RequestsPerMinute}, {LimitTokensPerMinute, k.TokensPerMinute}, {LimitTokensPerDay, k.TokensPerDay}} {
			if l.v < 0 {
				return nil, Errorf(EINVALID, "%s.%s: %d is negative; leave it out for no limit", at, l.name, l.v)
			}
		}
	}
	return keys, nil
}

// UsageCounter keeps the counts behind keys' limits and usage, in one process or shared
// by many (package redis). Windows are fixed: the UTC minute and the UTC day of now.
type UsageCounter interface {
	// Admit decides whether key may start a model call at now: refused with an
	// ERATELIMIT *Error, whose RetryAfter is the time until the window frees, when the
	// minute's or the day's spent tokens already reach their limit or when the minute
	// has had RequestsPerMinute calls. An admitted call counts against the request limit.
	// Admission is atomic: however many processes share the counter, no more than
	// RequestsPerMinute calls are admitted in a minute.
	Admit(ctx context.Context, key *Key, now time.Time) error
	// Charge records a finished call of key to model: one request and its tokens, in the
	// windows of now and in the key's usage totals.
	Charge(ctx context.Context, key, model string, u Usage, now time.Time) error
	// Usage returns the usage totals of key, or of every key when key is "".
	Usage(ctx context.Context, key string) ([]KeyUsage, error)
	// Spent returns what key spent in the windows of now.
	Spent(ctx context.Context, key string, now time.Time) (Spent, error)
}

// KeyUsage is what one key spent on one model since its counter began.
type KeyUsage struct {
	Key          string `json:"key"`
	Model        string `json:"model"`
	Requests     int64  `json:"requests"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

// Spent is what a key spent in the current windows.
type Spent struct {
	RequestsThisMinute int64 `json:"requests_this_minute"`
	TokensThisMinute   int64 `json:"tokens_this_minute"`
	TokensToday        int64 `json:"tokens_today"`
}

// MinuteWindow and DayWindow return the start of the fixed windows now is in, and the
// time left until each ends.
func MinuteWindow(now time.Time) (start time.Time, left time.Duration) {
	start = now.UTC().Truncate(time.Minute)
	return start, start.Add(time.Minute).Sub(now)
}

// DayWindow returns the start of now's UTC day and the time left until it ends.
func DayWindow(now time.Time) (start time.Time, left time.Duration) {
	u := now.UTC()
	start = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 0, 1).Sub(now)
}

// LimitExceeded is the error of a call refused by a key's limit: an ERATELIMIT *Error
// (its Unwrap), retryable after the time left in the window, naming the limit.
type LimitExceeded struct {
	Key, Limit string
	err        *Error
}

// RateLimited returns the error of key over limit, retryable after left (rounded up to
// a whole second, as Retry-After says it).
func RateLimited(key, limit string, left time.Duration) *LimitExceeded {
	left = left.Truncate(time.Second) + time.Second
	what := "over its " + limit
	if limit != LimitRequestsPerMinute {
		what = "its " + limit + " are spent"
	}
	return &LimitExceeded{Key: key, Limit: limit,
		err: &Error{Code: ERATELIMIT, Message: fmt.Sprintf("key %s: %s; retry in %v", key, what, left), RetryAfter: left}}
}

func (e *LimitExceeded) Error() string { return e.err.Error() }

// Unwrap returns the ERATELIMIT *Error, so that ErrorCode and ErrorRetryAfter read it.
func (e *LimitExceeded) Unwrap() error { return e.err }

type keyCtx struct{}

// WithKey returns ctx carrying key, the key of the request ctx belongs to.
func WithKey(ctx context.Context, key *Key) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// KeyFrom returns the key of the request ctx belongs to, or nil when it carries none.
func KeyFrom(ctx context.Context) *Key {
	k, _ := ctx.Value(keyCtx{}).(*Key)
	return k
}
