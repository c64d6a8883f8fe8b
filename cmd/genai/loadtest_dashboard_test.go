package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"genai/bedrock/bedrocktest"
	"genai/server"
)

// dashboardQueries returns every query of deploy/grafana-dashboard.json by the title
// of its panel, panels inside collapsed rows included.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Type, Title string
		Targets     []struct{ Expr string }
		Panels      json.RawMessage // a row's own panels, when collapsed
	}
	var d struct{ Panels []panel }
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if len(p.Panels) > 0 {
				var inner []panel
				if err := json.Unmarshal(p.Panels, &inner); err != nil {
					t.Fatalf("row %q: %v", p.Title, err)
				}
				walk(inner)
			}
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
		}
	}
	walk(d.Panels)
	return out
}

// Every query of the Grafana dashboard names only metrics the server exports (by the
// server's own list), with known PromQL functions; and the panels the issue asks for
// are there.
func TestGrafanaDashboardQueriesServerMetrics(t *testing.T) {
	names, err := server.MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	queries := dashboardQueries(t)
	charted := map[string]bool{}
	for title, exprs := range queries {
		for _, expr := range exprs {
			metrics, err := promqlMetrics(expr)
			if err != nil {
				t.Errorf("panel %q: %s: %v", title, expr, err)
				continue
			}
			if len(metrics) == 0 {
				t.Errorf("panel %q: %s names no metric", title, expr)
			}
			for _, m := range metrics {
				charted[m] = true
				if !slices.Contains(names, m) {
					t.Errorf("panel %q: %s: the server exports no metric %s", title, expr, m)
				}
			}
		}
	}
	// The workshop's panels, TTFT, usage per key, limit hits, active streams and errors.
	for _, m := range []string{"genai_model_invocations_total", "genai_model_tokens_total", "genai_model_throttles_total",
		"genai_http_request_duration_seconds_bucket", "genai_model_time_to_first_token_seconds_bucket",
		"genai_key_requests_total", "genai_key_tokens_total", "genai_rate_limited_total", "genai_active_streams", "genai_http_requests_total"} {
		if !charted[m] {
			t.Errorf("no panel charts %s", m)
		}
	}
	var ttft bool
	for _, expr := range queries["Time to first token p50 / p95 / p99"] {
		ttft = ttft || strings.HasPrefix(expr, "histogram_quantile(0.99, sum by (le, model) (rate(genai_model_time_to_first_token_seconds_bucket")
	}
	if !ttft {
		t.Errorf("no TTFT p99 from the histogram's buckets: %q", queries["Time to first token p50 / p95 / p99"])
	}
}

// The server's list is what /metrics serves: after traffic that touches every model
// metric (answers, a throttle, streams), each series scraped is listed.
func TestMetricNamesAreServed(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{Reply: newTally().reply})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_METRICS_PUBLIC": "true"})
	runLoadtest(t, nil, "-url", base, "-users", "2", "-think", "0", "-n", "4",
		"-prompts", promptsFile(t, "hello there", "please throttle me"))
	names, err := server.MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	served := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		served[name] = true
	}
	for _, want := range []string{"genai_model_throttles_total", "genai_model_time_to_first_token_seconds_bucket", "genai_model_tokens_total"} {
		if !served[want] {
			t.Errorf("the traffic did not make %s appear on /metrics", want)
		}
	}
	for name := range served {
		if !slices.Contains(names, name) {
			t.Errorf("/metrics serves %s, which server.MetricNames does not list", name)
		}
	}
}

// promqlFunctions are PromQL's functions and aggregation operators (Prometheus 3),
// which a name before "(" must be.
var promqlFunctions = strings.Fields(`abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time
	ceil changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
	days_in_month deg delta deriv double_exponential_smoothing end exp floor histogram_avg histogram_count
	histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour
	idelta increase info irate label_join label_replace last_over_time ln log10 log2 mad_over_time
	max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time rad rate
	resets round scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt start
	stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year`)

// promqlAggregations are the aggregation operators, which may take "by (…)" before
// their parenthesis.
var promqlAggregations = strings.Fields(`sum min max avg group stddev stdvar count count_values bottomk topk
	quantile limitk limit_ratio`)

// promqlMetrics returns the metric names an expression selects. It is a scan of
// PromQL's tokens rather than Prometheus' own parser
// (github.com/prometheus/prometheus/promql/parser), which would bring the Prometheus
// server module and its dependency tree into go.mod for one test. The scan skips
// strings, label matchers ({…}), ranges ([…]), numbers and durations, Grafana
// variables, and the label lists of by, without, on, ignoring, group_left and
// group_right; a name before "(" must be a known function or aggregation (so a typo
// fails rather than passes as a metric); any other name is a metric. A metric named
// by __name__ inside braces alone ({__name__="x"}) is not seen: the dashboard does
// not write that.
func promqlMetrics(expr string) ([]string, error) {
	var out []string
	i, n := 0, len(expr)
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipSpace := func(j int) int {
		for j < n && strings.IndexByte(" \t\r\n", expr[j]) >= 0 {
			j++
		}
		return j
	}
	// skipTo returns the index after the close matching the open at j, skipping strings.
	skipTo := func(j int, open, close byte) (int, error) {
		depth := 0
		for ; j < n; j++ {
			switch c := expr[j]; {
			case c == '"' || c == '\'' || c == '`':
				k, err := skipString(expr, j)
				if err != nil {
					return 0, err
				}
				j = k - 1
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unclosed %q", open)
	}
	var err error
	for i < n {
		c := expr[i]
		switch {
		case strings.IndexByte(" \t\r\n", c) >= 0:
			i++
		case c == '"' || c == '\'' || c == '`':
			// A string outside braces (label_replace's arguments): skip it as one.
			if i, err = skipString(expr, i); err != nil {
				return nil, err
			}
		case c == '{':
			if i, err = skipTo(i, '{', '}'); err != nil {
				return nil, err
			}
		case c == '[':
			if i, err = skipTo(i, '[', ']'); err != nil {
				return nil, err
			}
		case c == '$': // a Grafana variable: $name or ${name}
			i++
			if i < n && expr[i] == '{' {
				if i, err = skipTo(i, '{', '}'); err != nil {
					return nil, err
				}
			}
			for i < n && isIdent(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.': // a number or a duration (offset 5m, 1e3, 0x1f)
			for i < n && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < n && isIdent(expr[j]) {
				j++
			}
			name := expr[i:j]
			next := skipSpace(j)
			switch lower := strings.ToLower(name); {
			case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, lower):
				if next < n && expr[next] == '(' {
					if j, err = skipTo(next, '(', ')'); err != nil {
						return nil, err
					}
				}
			case slices.Contains([]string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}, lower):
			case slices.Contains(promqlAggregations, name):
			case next < n && expr[next] == '(':
				if !slices.Contains(promqlFunctions, name) {
					return nil, fmt.Errorf("unknown function %s", name)
				}
			default:
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
			}
			i = j
		default: // operators, parentheses, commas, @
			i++
		}
	}
	return out, nil
}

// skipString returns the index after the string literal that starts at i.
func skipString(expr string, i int) (int, error) {
	q := expr[i]
	for j := i + 1; j < len(expr); j++ {
		if expr[j] == '\\' && q != '`' {
			j++ // an escaped character, perhaps the quote
			continue
		}
		if expr[j] == q {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d", i)
}

func TestPromqlMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (model, direction) (rate(genai_model_tokens_total{model=~"$model", direction=~"in|out"}[$__rate_interval]))`: {"genai_model_tokens_total"},
		`histogram_quantile(0.99, sum by (le) (rate(a_bucket{route="POST /api/chat"}[5m])))`:                                 {"a_bucket"},
		`sum(rate(x_total{code=~"5.."}[1m])) / ignoring(code) group_left sum(rate(y_total[1m])) > bool 0.5`:                  {"x_total", "y_total"},
		`label_replace(up_metric, "dst", "$1", "src", "(rate|sum)")`:                                                         {"up_metric"},
		`max without (instance) (z offset 5m) and on(job) w @ 1609746000`:                                                    {"z", "w"},
		`topk(5, sum by (key) (increase(k_total{l="}[{"}[1d])))`:                                                             {"k_total"},
		`count(count by (k) (m))`: {"m"},
		`1 + 2`:                   nil,
	} {
		got, err := promqlMetrics(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("promqlMetrics(%s) = %v, %v; want %v", expr, got, err, want)
		}
	}
	for _, bad := range []string{`histogram_quantle(0.5, x_bucket)`, `rate(x{a="b"`, `sum(rate(x[5m)`, `label_replace(x, "a`} {
		if _, err := promqlMetrics(bad); err == nil {
			t.Errorf("promqlMetrics(%s): no error", bad)
		}
	}
}
