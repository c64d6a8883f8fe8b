package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"genai/loadtest"
)

// defaultPrompts are sent when no -prompts file is given: short questions of the kind
// a chat page gets.
var defaultPrompts = []string{
	"Explain in three sentences what a vector database is.",
	"Write a haiku about the sea at night.",
	"List five tips for writing clear error messages.",
	"What is the difference between TCP and UDP?",
}

// loadtestCommand runs "genai loadtest": simulated users on one of the server's chat
// surfaces, a progress line on stderr, and a report on stdout.
func loadtestCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("genai loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: genai loadtest [-url http://127.0.0.1:3000] [-surface api|openai|anthropic] [-users 10] [-think 1s] [-duration 30s | -n 1000] [-prompts FILE] [-json]\n\n"+
			"Simulated users send chat requests, each waiting for its answer and a think time before its next;\n"+
			"a report of requests/s, time to first token, latency, output tokens/s and errors follows. Ctrl-C ends early and reports.")
		fs.PrintDefaults()
	}
	var o loadtest.Options
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:3000", "the genai server's base URL")
	fs.StringVar(&o.Surface, "surface", loadtest.SurfaceAPI, "the route driven: api (/api/chat), openai (/v1/chat/completions) or anthropic (/v1/messages)")
	fs.IntVar(&o.Users, "users", 10, "concurrent users")
	fs.DurationVar(&o.Think, "think", time.Second, "a user's mean wait between an answer and its next request (each wait 0.5–1.5× this)")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "how long to run; requests under way at the end finish (default 30s unless -n is given)")
	fs.IntVar(&o.Requests, "n", 0, "stop after this many requests (with -duration, whichever comes first)")
	prompts := fs.String("prompts", "", "a file of prompts sent in turn: one per line, or JSONL lines of a JSON string or {\"prompt\": \"…\"}; default a few built-in questions")
	fs.StringVar(&o.Model, "model", "", "the model asked for; default the server's")
	fs.IntVar(&o.MaxTokens, "max-tokens", loadtest.DefaultMaxTokens, "max_tokens of each request; 0 leaves it to the server (not on -surface anthropic)")
	fs.StringVar(&o.Key, "key", "", "API key sent as a bearer token; default $GENAI_LOADTEST_KEY")
	fs.BoolVar(&o.Stream, "stream", true, "ask for streamed answers (time to first token needs them)")
	fs.DurationVar(&o.Timeout, "timeout", loadtest.DefaultTimeout, "bound on each request")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["n"] && !set["duration"] {
		o.Duration = 0 // -n alone runs until the count
	}
	if o.Key == "" {
		o.Key = getenv("GENAI_LOADTEST_KEY")
	}
	o.Prompts = defaultPrompts
	if *prompts != "" {
		p, err := readPrompts(*prompts)
		if err != nil {
			return err
		}
		o.Prompts = p
	}
	if o.Surface == loadtest.SurfaceAnthropic && o.MaxTokens == 0 {
		return fmt.Errorf("loadtest -max-tokens: /v1/messages needs one above 0")
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("loadtest -%w", err)
	}
	o.Progress = progressPrinter(stderr)
	if isTerminal(stderr) {
		o.ProgressEvery = time.Second
	} else {
		o.ProgressEvery = 5 * time.Second // a log, not a live line
	}
	rep, err := loadtest.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	if isTerminal(stderr) {
		fmt.Fprintln(stderr) // end the progress line
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	printReport(stdout, rep)
	return nil
}

// readPrompts reads a prompts file: one prompt a line, blank lines skipped; a line that
// starts with '"' is a JSON string and one with '{' an object {"prompt": "…"}, so a
// prompt may hold newlines.
func readPrompts(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loadtest -prompts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var p string
		switch {
		case line == "":
			continue
		case line[0] == '"':
			if err := json.Unmarshal([]byte(line), &p); err != nil {
				return nil, fmt.Errorf("loadtest -prompts %s:%d: not a JSON string: %v", path, n, err)
			}
		case line[0] == '{':
			var v struct {
				Prompt *string `json:"prompt"`
			}
			if err := json.Unmarshal([]byte(line), &v); err != nil || v.Prompt == nil {
				return nil, fmt.Errorf("loadtest -prompts %s:%d: want a JSON object {\"prompt\": \"…\"}", path, n)
			}
			p = *v.Prompt
		default:
			p = line
		}
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("loadtest -prompts %s:%d: blank prompt", path, n)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadtest -prompts %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loadtest -prompts %s: no prompts in the file", path)
	}
	return out, nil
}

// isTerminal reports whether w is a terminal, where the progress line rewrites itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter returns a Progress callback writing to w: one line rewritten in
// place on a terminal, else one line each call. Rates are over the last interval.
func progressPrinter(w io.Writer) func(loadtest.Progress) {
	tty := isTerminal(w)
	var last loadtest.Progress
	return func(p loadtest.Progress) {
		dt := (p.Elapsed - last.Elapsed).Seconds()
		var rps, tps float64
		if dt > 0 {
			rps = float64(p.Requests-last.Requests) / dt
			tps = float64(p.OutputTokens-last.OutputTokens) / dt
		}
		last = p
		line := fmt.Sprintf("%6.1fs  %d requests (%.1f/s)  %d errors (%d× 429)  %d in flight  %.0f output tokens/s",
			p.Elapsed.Seconds(), p.Requests, rps, p.Errors, p.RateLimited, p.InFlight, tps)
		if tty {
			fmt.Fprintf(w, "\r\x1b[K%s", line) // back to the start, clear the line
		} else {
			fmt.Fprintln(w, line)
		}
	}
}

func printReport(w io.Writer, r *loadtest.Report) {
	mode := "streamed"
	if !r.Stream {
		mode = "not streamed"
	}
	fmt.Fprintf(w, "%s %s (%s), model %s, %d users, %.1fs", r.URL, r.Surface, mode, orDefault(r.Model), r.Users, r.Seconds)
	if r.Interrupted {
		fmt.Fprintf(w, " (interrupted; %d requests cut)", r.Cancelled)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "requests   %d (%.1f/s): %d ok, %d errors, %d rate limited (429)\n",
		r.Requests, r.RequestsPerSecond, r.OK, r.Requests-r.OK-r.RateLimited, r.RateLimited)
	if p := r.TTFT; p != nil {
		fmt.Fprintf(w, "TTFT       p50 %s  p95 %s  p99 %s  max %s\n", secs(p.P50), secs(p.P95), secs(p.P99), secs(p.Max))
	}
	if p := r.Latency; p != nil {
		fmt.Fprintf(w, "latency    p50 %s  p95 %s  p99 %s  max %s\n", secs(p.P50), secs(p.P95), secs(p.P99), secs(p.Max))
	}
	fmt.Fprintf(w, "tokens     %d in, %d out (%.1f output tokens/s)\n", r.InputTokens, r.OutputTokens, r.OutputTokensPerSecond)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error      %d× %s: %s\n", e.Count, e.Kind, e.Example)
	}
}

func orDefault(model string) string {
	if model == "" {
		return "(the server's default)"
	}
	return model
}

func secs(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0fms", s*1000)
	}
	return fmt.Sprintf("%.2fs", s)
}
