// Package loadtest drives a genai server with concurrent simulated users on any of its
// chat surfaces and measures what they see: requests per second, time to first token,
// latency percentiles, output tokens per second, and errors by kind with 429s apart.
// "genai loadtest" is its command.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a load test. URL, Surface, Users, Prompts and one of Duration or
// Requests are required.
type Options struct {
	// URL is the server's base URL, such as "http://127.0.0.1:3000".
	URL string
	// Surface is one of Surfaces.
	Surface string
	// Users is how many simulated users send requests at once, each waiting for its
	// answer, then Think, before its next.
	Users int
	// Think is a user's mean wait between an answer and its next request; each wait is
	// drawn from 0.5–1.5 × Think so that users do not march in step.
	Think time.Duration
	// Duration ends the test: no request starts after it, and those under way finish.
	// Requests ends it after that many requests instead; with both, whichever comes
	// first.
	Duration time.Duration
	Requests int
	// Prompts are sent in turn, one per request, each as one user message.
	Prompts []string
	// Model is the model asked for; the server's default when empty, which Run asks
	// /api/config for, to name it in the report and because /v1/messages needs one.
	Model string
	// MaxTokens bounds each answer; 0 leaves it to the server (the Anthropic surface
	// needs one: 0 there is DefaultMaxTokens).
	MaxTokens int
	// Key is sent as "Authorization: Bearer <key>" when not empty.
	Key string
	// Stream asks for streamed answers, which TTFT needs.
	Stream bool
	// Timeout bounds each request; 0 is DefaultTimeout.
	Timeout time.Duration
	// Client sends the requests; nil is a client with a connection per user.
	Client *http.Client
	// Progress, when set, is called every ProgressEvery (default 1 s) with the counts
	// so far, and once more at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Defaults of Options.
const (
	DefaultTimeout   = 5 * time.Minute
	DefaultMaxTokens = 256
)

// Progress is a load test's counts so far.
type Progress struct {
	Elapsed      time.Duration
	Requests     int // finished, failed or not
	Errors       int // failed, 429s included
	RateLimited  int // 429s
	InFlight     int
	OutputTokens int
}

// Report is the result of a load test. Times are in seconds.
type Report struct {
	URL     string `json:"url"`
	Surface string `json:"surface"`
	Model   string `json:"model,omitempty"`
	Users   int    `json:"users"`
	Stream  bool   `json:"stream"`
	// Seconds is the test's wall time, from the first request to the last answer.
	Seconds float64 `json:"seconds"`
	// Requests are the requests answered, successfully or not; Cancelled those cut by
	// an interrupt, which count nowhere else.
	Requests  int `json:"requests"`
	OK        int `json:"ok"`
	Cancelled int `json:"cancelled"`
	// RequestsPerSecond is Requests / Seconds.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// TTFT (streams only) and Latency are of the successful requests.
	TTFT    *Percentiles `json:"ttft,omitempty"`
	Latency *Percentiles `json:"latency,omitempty"`
	// InputTokens and OutputTokens are the sums of the answers' usage, as each surface
	// reports it; OutputTokensPerSecond is OutputTokens / Seconds.
	InputTokens           int     `json:"input_tokens"`
	OutputTokens          int     `json:"output_tokens"`
	OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
	// RateLimited counts the 429 answers, which are not in Errors; each made its user
	// wait its Retry-After before the next request.
	RateLimited int `json:"rate_limited"`
	// Errors are the other failures by kind (Result.Kind), most frequent first.
	Errors []ErrorKind `json:"errors"`
	// Interrupted is set when the test was stopped before its end.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ErrorKind counts the failures of one kind, with one's message as an example.
type ErrorKind struct {
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Example string `json:"example,omitempty"`
}

// Percentiles of a set of durations, in seconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Validate checks o as it comes from a user; each error names the option.
func (o *Options) Validate() error {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("url: want an http or https base URL such as http://127.0.0.1:3000, got %q", o.URL)
	case !slices.Contains(Surfaces, o.Surface):
		return fmt.Errorf("surface: want one of %s, got %q", strings.Join(Surfaces, ", "), o.Surface)
	case o.Users < 1:
		return fmt.Errorf("users: want at least 1, got %d", o.Users)
	case o.Think < 0:
		return fmt.Errorf("think: want 0 or more, got %s", o.Think)
	case o.Duration < 0 || o.Requests < 0:
		return errors.New("duration and n: want 0 or more")
	case o.Duration == 0 && o.Requests == 0:
		return errors.New("duration or n: one is needed to end the test")
	case len(o.Prompts) == 0:
		return errors.New("prompts: want at least one")
	case o.MaxTokens < 0:
		return fmt.Errorf("max-tokens: want 0 or more, got %d", o.MaxTokens)
	case o.Timeout < 0:
		return fmt.Errorf("timeout: want 0 or more, got %s", o.Timeout)
	}
	for i, p := range o.Prompts {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("prompts[%d]: blank", i)
		}
	}
	return nil
}

// Run runs the load test and reports it. It stops early, still reporting, when ctx is
// done: the requests under way are cancelled and counted as Cancelled. An error means
// the test could not start.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.URL = strings.TrimRight(o.URL, "/")
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: o.Users, // one kept-alive connection per user, as browsers would have
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	model := o.Model
	if o.Model == "" {
		// The report names the model whatever the surface; /v1/messages also needs it
		// in each request.
		m, err := defaultModel(ctx, &o)
		if err != nil && o.Surface == SurfaceAnthropic {
			return nil, err
		}
		model = m
	}
	if o.Surface == SurfaceAnthropic {
		o.Model = model
		if o.MaxTokens == 0 {
			o.MaxTokens = DefaultMaxTokens
		}
	}
	r := &runner{o: o, s: surfaces[o.Surface], model: model, byKind: map[string]*ErrorKind{}}
	return r.run(ctx), nil
}

// defaultModel asks the server for its default chat model: /v1/messages needs one named.
func defaultModel(ctx context.Context, o *Options) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", o.URL+"/api/config", nil)
	if err != nil {
		return "", err
	}
	if o.Key != "" {
		req.Header.Set("Authorization", "Bearer "+o.Key)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("model: none given, and asking %s/api/config for the default: %w", o.URL, err)
	}
	defer resp.Body.Close()
	var cfg struct {
		ChatModel string `json:"chat_model"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil || resp.StatusCode != http.StatusOK || cfg.ChatModel == "" {
		return "", fmt.Errorf("model: none given, and %s/api/config (status %d) named no chat_model; pass -model", o.URL, resp.StatusCode)
	}
	return cfg.ChatModel, nil
}

// runner is one load test under way.
type runner struct {
	o     Options
	s     surface
	model string // the model asked for, or the server's default
	start time.Time
	next  atomic.Int64 // the next request's number, which picks its prompt

	inFlight  atomic.Int64
	done      atomic.Int64
	failed    atomic.Int64
	limited   atomic.Int64
	outTokens atomic.Int64

	mu        sync.Mutex
	ttft      []time.Duration
	latency   []time.Duration
	ok        int
	cancelled int
	inTok     int
	byKind    map[string]*ErrorKind
	last      time.Time // the last answer's end
}

func (r *runner) run(ctx context.Context) *Report {
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	var deadline time.Time
	r.start = time.Now()
	if r.o.Duration > 0 {
		deadline = r.start.Add(r.o.Duration)
	}
	var wg sync.WaitGroup
	for i := range r.o.Users {
		wg.Go(func() { r.user(ctx, stop, deadline, i) })
	}
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()

	every := r.o.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	timeUp := stopAt(deadline)
	for running := true; running; {
		select {
		case <-ended:
			running = false
		case <-tick.C:
			r.progress()
		case <-timeUp:
			cancel() // users stop starting requests; those under way finish
			timeUp = nil
		}
	}
	r.progress()
	return r.report(ctx.Err() != nil)
}

// stopAt returns a channel closed at t, or nil (never) for a zero t.
func stopAt(t time.Time) <-chan time.Time {
	if t.IsZero() {
		return nil
	}
	return time.After(time.Until(t))
}

func (r *runner) progress() {
	if r.o.Progress == nil {
		return
	}
	r.o.Progress(Progress{
		Elapsed:      time.Since(r.start),
		Requests:     int(r.done.Load()),
		Errors:       int(r.failed.Load()),
		RateLimited:  int(r.limited.Load()),
		InFlight:     int(r.inFlight.Load()),
		OutputTokens: int(r.outTokens.Load()),
	})
}

// user sends requests one after another until the count is reached, stop is done (the
// duration has passed) or ctx is (an interrupt, which also cancels the request under
// way).
func (r *runner) user(ctx, stop context.Context, deadline time.Time, i int) {
	// Users start spread over one think time, as people arriving would.
	wait := time.Duration(0)
	if r.o.Think > 0 && i > 0 {
		wait = time.Duration(rand.Int64N(int64(r.o.Think)))
	}
	for {
		if !sleep(ctx, stop, wait) {
			return
		}
		n := r.next.Add(1) - 1
		if r.o.Requests > 0 && n >= int64(r.o.Requests) {
			return
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return
		}
		res, cancelled := r.one(ctx, r.o.Prompts[n%int64(len(r.o.Prompts))])
		r.record(res, cancelled)
		if cancelled {
			return
		}
		wait = jitter(r.o.Think)
		if res.RetryAfter > wait {
			wait = res.RetryAfter // the server asked this user to wait; others go on
		}
	}
}

// jitter returns a wait drawn evenly from 0.5–1.5 × d.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)+1))
}

// sleep waits d, and reports false if ctx or stop ended first.
func sleep(ctx, stop context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil && stop.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop.Done():
		return false
	}
}

// one sends one request and reads its answer; cancelled reports that ctx ended it.
func (r *runner) one(ctx context.Context, prompt string) (res Result, cancelled bool) {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	body, err := json.Marshal(r.s.body(&r.o, prompt)) // structs of strings and ints: it cannot fail
	if err != nil {
		return Result{Kind: "request", Message: err.Error()}, false
	}
	req, err := http.NewRequestWithContext(ctx, "POST", r.o.URL+r.s.path, bytes.NewReader(body))
	if err != nil {
		return Result{Kind: "request", Message: err.Error()}, false
	}
	req.Header.Set("Content-Type", "application/json")
	if r.o.Key != "" {
		req.Header.Set("Authorization", "Bearer "+r.o.Key)
	}
	start := time.Now()
	resp, err := r.o.Client.Do(req)
	if err != nil {
		res = Result{Kind: "transport", Message: err.Error()}
	} else {
		r.s.readAnswer(resp, start, &res)
		resp.Body.Close()
	}
	res.Latency = time.Since(start)
	if res.Kind != "" && errors.Is(ctx.Err(), context.Canceled) {
		return res, true // interrupted, not failed
	}
	if res.Kind == "" || res.Kind == "truncated" || res.Kind == "transport" {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Kind, res.Message = "timeout", fmt.Sprintf("no complete answer within %s", r.o.Timeout)
		}
	}
	return res, false
}

func (r *runner) record(res Result, cancelled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cancelled {
		r.cancelled++
		return
	}
	r.last = time.Now()
	r.done.Add(1)
	switch {
	case res.Status == http.StatusTooManyRequests:
		r.limited.Add(1)
		r.failed.Add(1)
	case res.Kind != "":
		r.failed.Add(1)
		k := r.byKind[res.Kind]
		if k == nil {
			k = &ErrorKind{Kind: res.Kind, Example: res.Message}
			r.byKind[res.Kind] = k
		}
		k.Count++
	default:
		r.ok++
		r.latency = append(r.latency, res.Latency)
		if r.o.Stream && res.TTFT > 0 {
			r.ttft = append(r.ttft, res.TTFT)
		}
		r.inTok += res.InputTokens
		r.outTokens.Add(int64(res.OutputTokens))
	}
}

func (r *runner) report(interrupted bool) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.last
	if end.IsZero() {
		end = time.Now()
	}
	secs := end.Sub(r.start).Seconds()
	rep := &Report{
		URL: r.o.URL, Surface: r.o.Surface, Model: r.model, Users: r.o.Users, Stream: r.o.Stream,
		Seconds:      secs,
		Requests:     int(r.done.Load()),
		OK:           r.ok,
		Cancelled:    r.cancelled,
		InputTokens:  r.inTok,
		OutputTokens: int(r.outTokens.Load()),
		RateLimited:  int(r.limited.Load()),
		Errors:       []ErrorKind{},
		Interrupted:  interrupted,
		TTFT:         percentiles(r.ttft),
		Latency:      percentiles(r.latency),
	}
	if secs > 0 {
		rep.RequestsPerSecond = float64(rep.Requests) / secs
		rep.OutputTokensPerSecond = float64(rep.OutputTokens) / secs
	}
	for _, k := range r.byKind {
		rep.Errors = append(rep.Errors, *k)
	}
	slices.SortFunc(rep.Errors, func(a, b ErrorKind) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return rep
}

// percentiles returns the nearest-rank percentiles of ds, or nil for none.
func percentiles(ds []time.Duration) *Percentiles {
	if len(ds) == 0 {
		return nil
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(float64(len(s))*p+0.999999) - 1 // nearest rank: ceil(p × n), from 1
		return s[min(max(i, 0), len(s)-1)].Seconds()
	}
	return &Percentiles{P50: at(.50), P95: at(.95), P99: at(.99), Max: s[len(s)-1].Seconds()}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date; 0 when absent or
// unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
