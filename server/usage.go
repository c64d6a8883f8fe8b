package server

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"genai"
)

// Usage meters every model call by the key that made it, in one place for every
// surface (/api/chat, /v1/*, knowledge-base answers, agent steps): it refuses a key a
// model it may not call or a call over its limits, and charges each call's tokens to the
// key when the call ends. Its Chat wraps the provider once, in cmd/genai, before
// anything else is given it; the key comes from the request's context (genai.KeyFrom),
// put there by the server's authentication.
type Usage struct {
	counter      genai.UsageCounter
	failClosed   bool
	defaultModel string
	models       map[string]bool
	log          *slog.Logger
	now          func() time.Time

	requests      *prometheus.CounterVec
	tokens        *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	counterErrors *prometheus.CounterVec
	lastErrorLog  atomic.Int64 // unix nanoseconds of the last counter error logged
}

// UsageOptions configures a Usage.
type UsageOptions struct {
	// Counter keeps the counts: genai.MemoryCounter in one process, package redis's to
	// share them between tasks (default a new MemoryCounter).
	Counter genai.UsageCounter
	// FailClosed refuses calls (503 unavailable) while the counter fails; by default
	// they go ahead unlimited, so that an outage of the counter's store does not take
	// the server down with it. Failures are counted and logged either way.
	FailClosed bool
	// DefaultModel is the model of a request that names none.
	DefaultModel string
	// Models are the model names used as labels and usage rows as they are; any other
	// counts as "other", so that a client cannot grow the metric set.
	Models []string
	// Logger receives counter failures, at most one line per ten seconds.
	Logger *slog.Logger
}

// anonymous is the key name of calls made without a key, on a server that has none.
const anonymous = "anonymous"

// NewUsage returns a Usage of opts.
func NewUsage(opts UsageOptions) *Usage {
	u := &Usage{counter: opts.Counter, failClosed: opts.FailClosed, defaultModel: opts.DefaultModel,
		models: map[string]bool{}, log: opts.Logger, now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_key_requests_total", Help: "Model calls by key, model and outcome code (ok, rate_limited, forbidden or an error code).",
		}, []string{"key", "model", "code"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_key_tokens_total", Help: "Tokens spent by key, model and direction (input or output).",
		}, []string{"key", "model", "direction"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_rate_limited_total", Help: "Model calls refused by a key's limit, by key and limit (requests_per_minute, tokens_per_minute or tokens_per_day).",
		}, []string{"key", "limit"}),
		counterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_usage_counter_errors_total", Help: "Failures of the usage counter (Redis) by operation (admit, charge, usage); admitted calls went ahead unlimited unless the counter fails closed.",
		}, []string{"op"}),
	}
	if u.counter == nil {
		u.counter = &genai.MemoryCounter{}
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	for _, m := range append(opts.Models, opts.DefaultModel) {
		if m != "" {
			u.models[m] = true
		}
	}
	return u
}

func (u *Usage) collectors() []prometheus.Collector {
	return []prometheus.Collector{u.requests, u.tokens, u.rateLimited, u.counterErrors}
}

// modelLabel returns model as a label, or "other" for one not configured.
func (u *Usage) modelLabel(model string) string {
	if u.models[model] {
		return model
	}
	return "other"
}

// counterFailed counts and logs, at most every ten seconds, a failure of the counter.
func (u *Usage) counterFailed(ctx context.Context, op string, err error) {
	u.counterErrors.WithLabelValues(op).Inc()
	now := time.Now().UnixNano()
	if last := u.lastErrorLog.Load(); now-last > int64(10*time.Second) && u.lastErrorLog.CompareAndSwap(last, now) {
		u.log.WarnContext(ctx, "usage counter failed; limits are not enforced while it fails unless GENAI_REDIS_FAIL=closed", "op", op, "err", err, "fail_closed", u.failClosed)
	}
}

// Chat returns chat metered by key: the one ChatModel every surface calls.
func (u *Usage) Chat(chat genai.ChatModel) genai.ChatModel {
	if chat == nil {
		return nil
	}
	return meteredChat{chat, u}
}

// meteredChat is a ChatModel whose calls are admitted and charged by key.
type meteredChat struct {
	genai.ChatModel
	u *Usage
}

// admit checks the call of req against the key of ctx, returning the key's name and
// model label to charge, or the error to refuse it with.
func (u *Usage) admit(ctx context.Context, req *genai.ChatRequest) (name, model string, err error) {
	model = req.Model
	if model == "" {
		model = u.defaultModel
	}
	key := genai.KeyFrom(ctx)
	if key == nil {
		return anonymous, u.modelLabel(model), nil
	}
	name, label := key.Name, u.modelLabel(model)
	if !key.Allows(model) {
		u.requests.WithLabelValues(name, label, genai.EFORBIDDEN).Inc()
		return name, label, genai.Errorf(genai.EFORBIDDEN, "model: key %s may not use %q; it may use %v", name, model, key.Models)
	}
	if key.Limits == (genai.Limits{}) {
		return name, label, nil
	}
	err = u.counter.Admit(ctx, key, u.now())
	var over *genai.LimitExceeded
	switch {
	case err == nil:
	case errors.As(err, &over):
		u.rateLimited.WithLabelValues(name, over.Limit).Inc()
		u.requests.WithLabelValues(name, label, genai.ERATELIMIT).Inc()
		return name, label, err
	case ctx.Err() != nil:
		return name, label, ctx.Err() // the caller went away: not a failure of the counter
	default:
		u.counterFailed(ctx, "admit", err)
		if u.failClosed {
			u.requests.WithLabelValues(name, label, genai.EUNAVAILABLE).Inc()
			return name, label, &genai.Error{Code: genai.EUNAVAILABLE, Message: "the usage counter does not answer, and limits fail closed; retry later", RetryAfter: time.Second}
		}
	}
	return name, label, nil
}

// charge records a call that was admitted, whatever its outcome, with the usage it
// reported. The request may be gone (a client that hung up still spent its tokens), so
// the charge is not cancelled with it; the counter bounds its own time.
func (u *Usage) charge(ctx context.Context, name, model string, usage genai.Usage, err error) {
	code := "ok"
	if err != nil {
		code = genai.ErrorCode(normalize(err))
	}
	u.requests.WithLabelValues(name, model, code).Inc()
	if usage.InputTokens > 0 {
		u.tokens.WithLabelValues(name, model, "input").Add(float64(usage.InputTokens))
	}
	if usage.OutputTokens > 0 {
		u.tokens.WithLabelValues(name, model, "output").Add(float64(usage.OutputTokens))
	}
	if cerr := u.counter.Charge(context.WithoutCancel(ctx), name, model, usage, u.now()); cerr != nil {
		u.counterFailed(ctx, "charge", cerr)
	}
}

func (c meteredChat) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	name, model, err := c.u.admit(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.ChatModel.Chat(ctx, req)
	var usage genai.Usage
	if resp != nil {
		usage = resp.Usage
	}
	c.u.charge(ctx, name, model, usage, err)
	return resp, err
}

func (c meteredChat) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		name, model, err := c.u.admit(ctx, req)
		if err != nil {
			yield(genai.Event{}, err)
			return
		}
		// The charge is made before the last event is passed on, so that a client that
		// has seen the end of its answer finds its tokens spent; a call that fails or is
		// left early is charged when it ends.
		charged := false
		var usage genai.Usage
		var callErr error
		defer func() {
			if !charged {
				c.u.charge(ctx, name, model, usage, callErr)
			}
		}()
		for ev, err := range c.ChatModel.Stream(ctx, req) {
			if err != nil {
				callErr = err
			} else if ev.Done {
				usage, charged = ev.Usage, true
				c.u.charge(ctx, name, model, usage, nil)
			}
			if !yield(ev, err) {
				return
			}
		}
	}
}

// usageBody is the answer of GET /api/usage.
type usageBody struct {
	Keys []keyUsage `json:"keys"`
}

type keyUsage struct {
	Key    string           `json:"key"`
	Limits *genai.Limits    `json:"limits,omitempty"`
	Spent  *genai.Spent     `json:"spent,omitempty"`
	Models []genai.KeyUsage `json:"models"`
}

// usage answers GET /api/usage: the caller's own key's usage by model, its limits and
// what it spent in the current windows; every key's for an admin key, or on a server
// without keys. With a shared counter the figures are those of every task.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	u := s.opts.Usage
	if u == nil {
		s.writeError(w, r, genai.Errorf(genai.EUNAVAILABLE, "usage is not metered on this server"))
		return
	}
	key := genai.KeyFrom(r.Context())
	all := key == nil || key.Admin
	var names []string
	if all {
		for _, k := range s.keys {
			names = append(names, k.key.Name)
		}
	} else {
		names = []string{key.Name}
	}
	filter := ""
	if !all {
		filter = key.Name
	}
	rows, err := u.counter.Usage(r.Context(), filter)
	if err != nil {
		u.counterFailed(r.Context(), "usage", err)
		s.writeError(w, r, genai.Errorf(genai.EUNAVAILABLE, "the usage counter does not answer: retry later"))
		return
	}
	byKey := map[string][]genai.KeyUsage{}
	for _, row := range rows {
		if !slices.Contains(names, row.Key) {
			names = append(names, row.Key)
		}
		byKey[row.Key] = append(byKey[row.Key], row)
	}
	slices.Sort(names)
	body := usageBody{Keys: []keyUsage{}}
	for _, name := range names {
		ku := keyUsage{Key: name, Models: byKey[name]}
		if ku.Models == nil {
			ku.Models = []genai.KeyUsage{}
		}
		if k := s.keyNamed(name); k != nil {
			ku.Limits = &k.Limits
			spent, err := u.counter.Spent(r.Context(), name, u.now())
			if err != nil {
				u.counterFailed(r.Context(), "usage", err)
				s.writeError(w, r, genai.Errorf(genai.EUNAVAILABLE, "the usage counter does not answer: retry later"))
				return
			}
			ku.Spent = &spent
		}
		body.Keys = append(body.Keys, ku)
	}
	writeJSON(w, http.StatusOK, body)
}
