package server

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"genai"
)

// metrics are the server's Prometheus metrics: the workshop dashboard's tokens,
// invocations, throttles and latency, plus HTTP traffic. Each Server has its own
// registry, so tests and several servers in one process do not collide.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	invocations   *prometheus.CounterVec
	tokens        *prometheus.CounterVec
	throttles     *prometheus.CounterVec
	stops         *prometheus.CounterVec
	firstToken    *prometheus.HistogramVec
	activeStreams prometheus.Gauge
	collectors    []prometheus.Collector // everything registered, for MetricNames
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "genai_http_request_duration_seconds", Help: "Time to serve an HTTP request, streams included.",
			Buckets: []float64{.005, .025, .1, .5, 1, 2.5, 5, 10, 30, 60, 180},
		}, []string{"route"}),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_model_invocations_total", Help: "Model calls by provider, model and outcome (ok or an error code).",
		}, []string{"provider", "model", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_model_tokens_total", Help: "Tokens by provider, model and direction (input, output, cache_read or cache_write).",
		}, []string{"provider", "model", "direction"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_model_throttles_total", Help: "Model calls that stayed throttled after retries.",
		}, []string{"provider", "model"}),
		stops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "genai_model_stop_reasons_total", Help: "Model answers by provider, model and stop reason (end_turn, max_tokens, tool_use, guardrail_intervened…).",
		}, []string{"provider", "model", "reason"}),
		firstToken: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "genai_model_time_to_first_token_seconds", Help: "Time from a chat request to its first token.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 16},
		}, []string{"provider", "model"}),
		activeStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "genai_active_streams", Help: "Model calls in progress.",
		}),
	}
	m.register(m.requests, m.duration, m.invocations, m.tokens, m.throttles, m.stops, m.firstToken, m.activeStreams,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// register registers collectors and keeps them for MetricNames: every collector of the
// server goes through here, so that the names listed are the names served.
func (m *metrics) register(cs ...prometheus.Collector) {
	m.reg.MustRegister(cs...)
	m.collectors = append(m.collectors, cs...)
}

// fqName finds a descriptor's name in its String form, Desc{fqName: "…", …}: Desc has
// no accessor for it, and Describe is the one way to list a vector's metric before it
// has any series (Gather skips it until then).
var fqName = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

// MetricNames returns the names of the series the server exports on /metrics, sorted:
// each metric's name and, for a histogram, its _bucket, _sum and _count series, whether
// or not it has any series yet. Each Server has the same set. Dashboards are checked against it. An error means a name
// could not be read.
func MetricNames() ([]string, error) {
	m := newMetrics()
	m.register(NewUsage(UsageOptions{}).collectors()...) // served when keys are metered, as they always are
	var names []string
	for _, c := range m.collectors {
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			match := fqName.FindStringSubmatch(d.String())
			if match == nil {
				for range ch { // let Describe end
				}
				return nil, fmt.Errorf("server: metric names: cannot read the name of %s (has client_golang changed Desc.String?)", d)
			}
			names = append(names, match[1])
			// The series a vector exports beside its name. (The plain Histogram and
			// Summary interfaces have one method set and cannot be told apart; the
			// server registers vectors.)
			switch c.(type) {
			case *prometheus.HistogramVec:
				names = append(names, match[1]+"_bucket", match[1]+"_sum", match[1]+"_count")
			case *prometheus.SummaryVec:
				names = append(names, match[1]+"_sum", match[1]+"_count")
			}
		}
	}
	// And what a scrape gathers: the metrics registered elsewhere, such as promhttp's
	// own errors counter, and the series of the Go collector's summaries.
	m.handler()
	families, err := m.reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("server: metric names: %w", err)
	}
	for _, f := range families {
		names = append(names, f.GetName())
		switch f.GetType().String() {
		case "HISTOGRAM":
			names = append(names, f.GetName()+"_bucket", f.GetName()+"_sum", f.GetName()+"_count")
		case "SUMMARY":
			names = append(names, f.GetName()+"_sum", f.GetName()+"_count")
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// modelCall measures one model invocation.
type modelCall struct {
	m               *metrics
	provider, model string
	start           time.Time
	sawFirst        atomic.Bool
}

func (m *metrics) startCall(provider, model string) *modelCall {
	m.activeStreams.Inc()
	return &modelCall{m: m, provider: provider, model: model, start: time.Now()}
}

// firstToken records the time to the first token, once.
func (c *modelCall) firstToken() {
	if c.sawFirst.CompareAndSwap(false, true) {
		c.m.firstToken.WithLabelValues(c.provider, c.model).Observe(time.Since(c.start).Seconds())
	}
}

// finish records the outcome and the tokens of the call.
func (c *modelCall) finish(err error, usage genai.Usage) {
	c.m.activeStreams.Dec()
	outcome := "ok"
	switch {
	case errors.Is(err, context.Canceled):
		outcome = "cancelled"
	case err != nil:
		outcome = genai.ErrorCode(err)
	}
	c.m.invocations.WithLabelValues(c.provider, c.model, outcome).Inc()
	if outcome == genai.ETHROTTLED {
		c.m.throttles.WithLabelValues(c.provider, c.model).Inc()
	}
	if usage.InputTokens > 0 {
		c.m.tokens.WithLabelValues(c.provider, c.model, "input").Add(float64(usage.InputTokens))
	}
	if usage.OutputTokens > 0 {
		c.m.tokens.WithLabelValues(c.provider, c.model, "output").Add(float64(usage.OutputTokens))
	}
	if usage.CacheReadTokens > 0 {
		c.m.tokens.WithLabelValues(c.provider, c.model, "cache_read").Add(float64(usage.CacheReadTokens))
	}
	if usage.CacheWriteTokens > 0 {
		c.m.tokens.WithLabelValues(c.provider, c.model, "cache_write").Add(float64(usage.CacheWriteTokens))
	}
}

// observe counts and times requests by route pattern and logs each one.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			route := infoOf(r.Context()).pattern
			if route == "" {
				route = "unmatched"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(route).Observe(d.Seconds())
			s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", status, "duration", d)
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status a handler wrote. Unwrap lets
// http.ResponseController reach the connection's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stopCounter is the provider as the server calls it, counting each answer's stop
// reason in one place for every route, agent steps included.
type stopCounter struct {
	genai.ChatModel
	s *Server
}

// stopReasons are the stop reasons counted by name; any other counts as "other", so
// that an upstream cannot grow the metric set.
var stopReasons = []string{"end_turn", "max_tokens", "stop_sequence", genai.StopToolUse, genai.StopGuardrail, "content_filter"}

func (c stopCounter) count(model, reason string) {
	if !slices.Contains(stopReasons, reason) {
		reason = "other"
	}
	c.s.metrics.stops.WithLabelValues(c.s.opts.Provider, c.s.modelLabel(model), reason).Inc()
}

func (c stopCounter) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	resp, err := c.ChatModel.Chat(ctx, req)
	if err == nil {
		c.count(req.Model, resp.StopReason)
	}
	return resp, err
}

func (c stopCounter) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		for ev, err := range c.ChatModel.Stream(ctx, req) {
			if err == nil && ev.Done {
				c.count(req.Model, ev.StopReason)
			}
			if !yield(ev, err) {
				return
			}
		}
	}
}
