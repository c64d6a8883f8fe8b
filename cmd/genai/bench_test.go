package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof" // served by the child when GENAI_BENCH_PPROF is set
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/openai"
	"genai/openai/openaitest"
)

// The streaming benchmark: time to first token (TTFT) through the genai server,
// against the same upstream read straight with the provider in the same run; the
// server's CPU time per stream; and its resident memory per open stream. Run it with
//
//	go test -run '^$' -bench BenchmarkStreams -benchtime 1x ./cmd/genai
//
// The upstreams run in this process and speak the providers' wire protocols:
// bedrocktest over TLS with HTTP/2 (as Bedrock is) and over plain HTTP/1.1, and
// openaitest over plain HTTP/1.1 (as Ollama, vLLM and llama.cpp's server are). The
// server runs as a child process (this test binary re-executed), so its CPU time and
// memory are its own.
//
// GENAI_BENCH_UPSTREAMS picks upstreams (comma-separated names below), and
// GENAI_BENCH_PARTS picks "ttft", "memory" or both. GENAI_BENCH_PROFILE=dir writes the
// child's CPU profile of the 1000-stream rounds and its heap and goroutine profiles
// with the memory run's streams open.

const (
	benchFirstTokenDelay = 20 * time.Millisecond // upstream's wait before its first token
	benchTokens          = 50                    // tokens after it, sent at once
	benchSlowTokenDelay  = 50 * time.Millisecond // between tokens of the memory run's streams
	benchSlowTokens      = 120                   // tokens of the memory run's streams
	benchMemoryStreams   = 1000
	benchMemoryRamp      = time.Second // the memory run's streams open over this time
)

// benchLevels are the concurrencies measured, each with its number of rounds.
var benchLevels = []struct{ n, rounds int }{{1, 200}, {100, 20}, {1000, 5}}

func TestMain(m *testing.M) {
	if target := os.Getenv("GENAI_BENCH_PROXY_TARGET"); os.Getenv("GENAI_BENCH_CHILD") == "proxy" {
		serveReferenceProxy(os.Getenv("GENAI_ADDR"), target)
		return
	}
	if os.Getenv("GENAI_BENCH_CHILD") == "1" {
		if addr := os.Getenv("GENAI_BENCH_PPROF"); addr != "" {
			if os.Getenv("GENAI_BENCH_MEMPROFILE") == "1" {
				// A sample every 4 KiB: a precise account of each stream's heap. Only in
				// the memory run, as its stack walks cost a tenth of the CPU that the
				// TTFT rounds' profile would otherwise show.
				runtime.MemProfileRate = 4096
			}
			http.HandleFunc("/debug/stack-start", func(w http.ResponseWriter, _ *http.Request) {
				s := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
				metrics.Read(s)
				fmt.Fprint(w, s[0].Value.Uint64())
			})
			go http.ListenAndServe(addr, nil) // net/http/pprof's handlers
		}
		// Child: serve until killed, as the binary does.
		if err := run(context.Background(), []string{"serve"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serveReferenceProxy serves a plain reverse proxy to target on addr: the request and
// the answer's bytes passed through as they come, nothing parsed or checked. It is the
// benchmark's reference for what a relay in a process of its own costs on this machine.
func serveReferenceProxy(addr, target string) {
	u, err := url.Parse(target)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	u.Path = "" // the client's paths are the upstream's: /v1/chat/completions
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // each write of the upstream's flushed at once
	rp.Transport = &http.Transport{MaxIdleConns: 0, MaxIdleConnsPerHost: 1 << 16}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The request's body is read first and sent from memory, as proxies do with
		// small bodies. Passed through as it came, about one stream in 500 lost its
		// upstream connection mid-answer ("use of closed network connection" under
		// the proxy's read of the body), a race of the kind bedrock.requestBodyGuard
		// works around.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	})
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// benchUpstream is a running upstream that a genai child server can be pointed at.
type benchUpstream struct {
	env    []string // the child's settings to use it
	direct ttftFunc // one chat with the provider alone, in this process
	open   func() int
	wait   func(ctx context.Context, open int) error
	close  func()
	paths  []string // genai's routes to measure through
	url    string   // the upstream's base URL, for the reference proxy; "" for none
}

// upstreamKinds are the upstreams, by name.
var upstreamKinds = []struct {
	name  string
	start func(first, between time.Duration, tokens []string, dir string) *benchUpstream
}{
	{"bedrock-h2", func(first, between time.Duration, tokens []string, dir string) *benchUpstream {
		return benchBedrock(true, first, between, tokens, dir)
	}},
	{"bedrock-h1", func(first, between time.Duration, tokens []string, dir string) *benchUpstream {
		return benchBedrock(false, first, between, tokens, dir)
	}},
	{"openai-h1", benchOpenAI},
}

func benchBedrock(tls bool, first, between time.Duration, tokens []string, dir string) *benchUpstream {
	up := bedrocktest.NewServer(bedrocktest.Options{NoRecord: true, TLS: tls, FirstTokenDelay: first, TokenDelay: between,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply { return bedrocktest.Reply{Tokens: tokens} }})
	env := []string{"GENAI_PROVIDER=bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + up.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true"}
	client := awshttp.NewBuildableClient()
	if tls {
		caFile := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(caFile, up.CertPEM, 0o600); err != nil {
			panic(err)
		}
		env = append(env, "AWS_CA_BUNDLE="+caFile)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(up.CertPEM)
		client = client.WithTransportOptions(func(tr *http.Transport) { tr.TLSClientConfig.RootCAs = roots })
	}
	model := bedrock.New(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(up.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   client,
	}, bedrock.Options{})
	return &benchUpstream{
		env:    env,
		direct: direct(model, bedrock.DefaultModel),
		open:   func() int { return up.Stats().Active },
		wait: func(ctx context.Context, n int) error {
			return up.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Active >= n })
		},
		close: up.Close,
		paths: []string{"/api/chat"},
	}
}

func benchOpenAI(first, between time.Duration, tokens []string, _ string) *benchUpstream {
	up := openaitest.New(openaitest.Config{NoRecord: true, FirstTokenDelay: first, TokenDelay: between,
		Reply: func(*openaitest.ChatRequest) []string { return tokens }})
	return &benchUpstream{
		env:    []string{"GENAI_PROVIDER=openai", "GENAI_OPENAI_BASE_URL=" + up.URL, "GENAI_CHAT_MODEL=test-model"},
		direct: direct(openai.New(openai.Options{BaseURL: up.URL, DefaultModel: "test-model"}), "test-model"),
		open:   func() int { return up.Stats().ActiveStreams },
		wait: func(ctx context.Context, n int) error {
			return up.Wait(ctx, func(s openaitest.Stats) bool { return s.ActiveStreams >= n })
		},
		close: up.Close,
		paths: []string{"/api/chat", "/v1/chat/completions"},
		url:   up.URL,
	}
}

// benchServer starts genai in a child process with the upstream's settings; stop
// ends it, so that it takes no CPU from the next part of the benchmark.
func benchServer(b *testing.B, env []string, pprofAddr string) (base string, pid int, stop func()) {
	return benchChild(b, "1", env, pprofAddr)
}

// benchChild starts this binary as a child of the kind given, "1" for genai and
// "proxy" for the reference proxy.
func benchChild(b *testing.B, kind string, env []string, pprofAddr string) (base string, pid int, stop func()) {
	b.Helper()
	addr := freeAddr(b)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GENAI_BENCH_CHILD="+kind, "GENAI_ADDR="+addr, "GENAI_DATA_DIR="+b.TempDir(), "GENAI_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	if pprofAddr != "" {
		cmd.Env = append(cmd.Env, "GENAI_BENCH_PPROF="+pprofAddr)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = sync.OnceFunc(func() { cmd.Process.Kill(); cmd.Wait() })
	b.Cleanup(stop)
	waitHealthy(b, "http://"+addr)
	return "http://" + addr, cmd.Process.Pid, stop
}

// ttftFunc runs one chat and returns the time to its first token.
type ttftFunc func(ctx context.Context) (time.Duration, error)

// measure runs rounds of n concurrent chats and returns every TTFT and the errors.
func measure(n, rounds int, chat ttftFunc) ([]time.Duration, int) {
	return measureSpread(n, rounds, 0, chat)
}

// measureSpread is measure with the starts of each round's chats spread evenly over
// spread rather than all at one instant.
func measureSpread(n, rounds int, spread time.Duration, chat ttftFunc) ([]time.Duration, int) {
	var mu sync.Mutex
	var ttfts []time.Duration
	var errs atomic.Int64
	for r := 0; r < rounds; r++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				time.Sleep(spread * time.Duration(i) / time.Duration(n))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				d, err := chat(ctx)
				if err != nil {
					if errs.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "stream error:", err)
					}
					return
				}
				mu.Lock()
				ttfts = append(ttfts, d)
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
	}
	return ttfts, int(errs.Load())
}

// viaServer chats through one of genai's streaming routes and times the first text:
// /api/chat's first delta event, or the first chunk of /v1/chat/completions with
// content (the first chunk holds the role only).
func viaServer(client *http.Client, base, path string) ttftFunc {
	body := `{"messages":[{"role":"user","content":"Tell me a story"}]}`
	first, end := []byte("event: delta"), []byte("event: done")
	if path == "/v1/chat/completions" {
		body = `{"model":"test-model","stream":true,"messages":[{"role":"user","content":"Tell me a story"}]}`
		first, end = []byte(`"delta":{"content":"`), []byte("data: [DONE]")
	}
	return func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			msg, _ := io.ReadAll(resp.Body)
			return 0, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
		}
		br := bufio.NewReader(resp.Body)
		var ttft time.Duration
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return 0, fmt.Errorf("stream ended before done: %w", err)
			}
			if i := bytes.Index(line, first); ttft == 0 && i >= 0 && len(line) > i+len(first) && line[i+len(first)] != '"' {
				ttft = time.Since(t0)
			}
			if bytes.HasPrefix(line, end) {
				// Read to the body's end, as a client that keeps its connection does.
				if _, err := io.Copy(io.Discard, br); err != nil {
					return 0, fmt.Errorf("after the end of the stream: %w", err)
				}
				return ttft, nil
			}
			if bytes.HasPrefix(line, []byte("event: error")) || bytes.HasPrefix(line, []byte(`data: {"error"`)) {
				return 0, fmt.Errorf("error event")
			}
		}
	}
}

// direct reads the upstream through the provider alone, with no HTTP server in
// between: the physical limit. For Bedrock that is the AWS SDK with the provider's two
// stream-race workarounds (see bedrock.New); the raw SDK client would drop some streams
// to the race they fix.
func direct(model genai.ChatModel, name string) ttftFunc {
	req := &genai.ChatRequest{Model: name, MaxTokens: 2048,
		Messages: []genai.Message{genai.TextMessage(genai.RoleUser, "Tell me a story")}}
	return func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		var ttft time.Duration
		for ev, err := range model.Stream(ctx, req) {
			if err != nil {
				return 0, err
			}
			if ttft == 0 && ev.Text != "" {
				ttft = time.Since(t0)
			}
		}
		return ttft, nil
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// memoryFigures are the figures of the server's own account of its memory (Go's
// runtime.MemStats, from /metrics) that the memory run prints per stream.
var memoryFigures = []struct{ metric, name string }{
	{"go_goroutines", "goroutines"},
	{"go_memstats_stack_inuse_bytes", "stacks"},
	{"go_memstats_heap_inuse_bytes", "heap in use"},
	{"go_memstats_heap_alloc_bytes", "of which allocated"},
	{"go_memstats_heap_idle_bytes", "heap idle"},
	{"go_memstats_heap_released_bytes", "of which released"},
	{"go_memstats_next_gc_bytes", "GC goal"},
	{"go_memstats_mspan_inuse_bytes", "span metadata"},
	{"go_memstats_gc_sys_bytes", "GC metadata"},
	{"go_memstats_other_sys_bytes", "other runtime"},
	{"go_memstats_sys_bytes", "all from the OS"},
}

// goMemory reads the server's own account of its memory from /metrics.
func goMemory(client *http.Client, base string) map[string]float64 {
	m := map[string]float64{}
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return m
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if name, v, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(l, "#") {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				m[name] = f
			}
		}
	}
	return m
}

// memoryPerStream prints how each figure of memoryFigures grew per stream between
// idle and open.
func memoryPerStream(idle, open map[string]float64, streams int) string {
	var parts []string
	for _, f := range memoryFigures {
		d := (open[f.metric] - idle[f.metric]) / float64(streams)
		if f.metric == "go_goroutines" {
			parts = append(parts, fmt.Sprintf("%s %.2f", f.name, d))
		} else {
			parts = append(parts, fmt.Sprintf("%s %.1f", f.name, d/1024))
		}
	}
	return strings.Join(parts, ", ")
}

func rssKiB(pid int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// cpuTime is the CPU time, user and system, that process pid has used so far: the
// figures getrusage reports for a process, read from /proc/<pid>/stat (in clock ticks
// of 10 ms, which over a level's thousands of streams is fine enough).
func cpuTime(pid int) time.Duration {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold spaces
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * tick
}

// saveProfile writes the child's pprof profile at url into dir.
func saveProfile(b *testing.B, url, dir, name string) {
	resp, err := http.Get(url)
	if err != nil {
		b.Logf("profile %s: %v", name, err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		b.Log(err)
	}
}

func BenchmarkStreams(b *testing.B) {
	parts := os.Getenv("GENAI_BENCH_PARTS")
	if os.Getenv("GENAI_BENCH_MEMORY_ONLY") != "" {
		parts = "memory"
	}
	profileDir := os.Getenv("GENAI_BENCH_PROFILE")
	tokens := make([]string, benchTokens)
	for i := range tokens {
		tokens[i] = "tok" + strconv.Itoa(i) + " "
	}
	slow := make([]string, benchSlowTokens)
	for i := range slow {
		slow[i] = "tok" + strconv.Itoa(i) + " "
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 4096, MaxIdleConns: 8192}
	client := &http.Client{Transport: transport}
	fmt.Printf("\nGOMAXPROCS=%d; TTFT with the upstream waiting %v before the first token, then %d tokens at once\n",
		runtime.GOMAXPROCS(0), benchFirstTokenDelay, benchTokens)

	for _, kind := range upstreamKinds {
		if want := os.Getenv("GENAI_BENCH_UPSTREAMS"); want != "" && !slices.Contains(strings.Split(want, ","), kind.name) {
			continue
		}
		if parts == "" || strings.Contains(parts, "ttft") {
			benchTTFT(b, kind.name, kind.start(benchFirstTokenDelay, 0, tokens, b.TempDir()), client, profileDir)
		}
		if parts == "" || strings.Contains(parts, "memory") {
			benchMemory(b, kind.name, kind.start(0, benchSlowTokenDelay, slow, b.TempDir()), client, profileDir)
		}
	}
}

// benchTTFT measures TTFT at each level, straight and through each of the server's
// routes, rounds interleaved so that both see the same machine, and the server's CPU
// time per stream.
func benchTTFT(b *testing.B, name string, up *benchUpstream, client *http.Client, profileDir string) {
	defer up.close()
	pprofAddr := ""
	if profileDir != "" {
		pprofAddr = freeAddr(b)
	}
	base, genaiPID, stop := benchServer(b, up.env, pprofAddr)
	defer stop()
	type target struct {
		route, path, base string
		pid               int
	}
	var targets []target
	for _, path := range up.paths {
		targets = append(targets, target{path, path, base, genaiPID})
	}
	if up.url != "" {
		// The reference: a plain reverse proxy in a process of its own, which parses
		// nothing, on the route it can serve unchanged.
		proxyBase, proxyPID, stopProxy := benchChild(b, "proxy", []string{"GENAI_BENCH_PROXY_TARGET=" + up.url}, "")
		defer stopProxy()
		targets = append(targets, target{"proxy /v1/chat/compl.", "/v1/chat/completions", proxyBase, proxyPID})
	}
	fmt.Printf("\n%s\n%-22s %8s %11s %11s %11s %11s %7s %7s %9s %6s\n", name, "route", "streams", "direct p50", "direct p99",
		"genai p50", "genai p99", "x p50", "x p99", "CPU/strm", "errors")
	for _, tg := range targets {
		path, pid := tg.path, tg.pid
		via := viaServer(client, tg.base, path)
		for _, c := range benchLevels {
			// Warm both paths' connection pools at this concurrency first.
			measure(c.n, 1, up.direct)
			measure(c.n, 1, via)
			var profile chan struct{}
			if profileDir != "" && c.n == 1000 && pid == genaiPID {
				profile = make(chan struct{})
				go func() {
					defer close(profile)
					saveProfile(b, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=10", pprofAddr), profileDir,
						fmt.Sprintf("cpu-%s%s.pprof", name, strings.ReplaceAll(path, "/", "-")))
				}()
			}
			var d, s []time.Duration
			var errD, errS int
			var cpu, selfD, selfS time.Duration
			for r := 0; r < c.rounds; r++ {
				self0 := cpuTime(os.Getpid())
				dd, ed := measure(c.n, 1, up.direct)
				self1, cpu0 := cpuTime(os.Getpid()), cpuTime(pid)
				ss, es := measure(c.n, 1, via)
				cpu += cpuTime(pid) - cpu0
				selfD, selfS = selfD+self1-self0, selfS+cpuTime(os.Getpid())-self1
				d, s, errD, errS = append(d, dd...), append(s, ss...), errD+ed, errS+es
			}
			if profile != nil {
				<-profile
			}
			dp50, dp99, sp50, sp99 := percentile(d, .5), percentile(d, .99), percentile(s, .5), percentile(s, .99)
			perStream := cpu / time.Duration(max(1, len(s)))
			fmt.Printf("%-22s %8d %11v %11v %11v %11v %7.2f %7.2f %9v %6d\n", tg.route, c.n, dp50.Round(time.Microsecond), dp99.Round(time.Microsecond),
				sp50.Round(time.Microsecond), sp99.Round(time.Microsecond), float64(sp50)/float64(dp50), float64(sp99)/float64(dp99),
				perStream.Round(10*time.Microsecond), errD+errS)
			fmt.Printf("%-22s %8s this process's CPU per stream (upstream and client): direct %v, through genai %v\n", "", "",
				(selfD / time.Duration(max(1, len(d)))).Round(10*time.Microsecond), (selfS / time.Duration(max(1, len(s)))).Round(10*time.Microsecond))
			if c.n == 1 {
				fmt.Printf("%-22s %8s added at one stream: p50 %v, p99 %v\n", "", "", (sp50 - dp50).Round(time.Microsecond), (sp99 - dp99).Round(time.Microsecond))
			}
			metric := fmt.Sprintf("%s%s@%d", name, strings.ReplaceAll(strings.ReplaceAll(tg.route, " ", ""), "/", "-"), c.n)
			b.ReportMetric(float64(sp50)/float64(dp50), "x-p50-"+metric)
			b.ReportMetric(float64(sp99)/float64(dp99), "x-p99-"+metric)
			b.ReportMetric(float64(perStream)/1e6, "cpu-ms-"+metric)
			b.ReportMetric(float64(errD+errS), "errors-"+metric)
		}
	}
}

// benchMemory opens benchMemoryStreams slow streams at once through a fresh server,
// each benchSlowTokens tokens benchSlowTokenDelay apart, and samples the server's RSS
// while all of them are open, after the burst of their start has passed.
func benchMemory(b *testing.B, name string, up *benchUpstream, client *http.Client, profileDir string) {
	defer up.close()
	pprofAddr := ""
	if profileDir != "" {
		pprofAddr = freeAddr(b)
	}
	base, pid, stop := benchServer(b, append(up.env, "GENAI_BENCH_MEMPROFILE=1"), pprofAddr)
	defer stop()
	via := viaServer(client, base, "/api/chat")
	if _, errs := measure(1, 1, via); errs > 0 {
		b.Fatal("warm-up stream failed")
	}
	time.Sleep(200 * time.Millisecond)
	idle, idleGo := rssKiB(pid), goMemory(client, base)
	done := make(chan struct{})
	var memErrs int
	go func() {
		_, memErrs = measureSpread(benchMemoryStreams, 1, benchMemoryRamp, via)
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := up.wait(ctx, benchMemoryStreams); err != nil {
		// A machine too busy to start the streams within their life never has them
		// all open: that upstream has no figure, and the others still run.
		<-done
		b.Errorf("%s memory: the %d streams were never all open at once: %v", name, benchMemoryStreams, err)
		return
	}
	var samples []int
	var openGo map[string]float64
	for t0 := time.Now(); time.Since(t0) < benchSlowTokens*benchSlowTokenDelay*3/4 && up.open() >= benchMemoryStreams; {
		samples = append(samples, rssKiB(pid))
		if len(samples) == 5 {
			openGo = goMemory(client, base)
			if profileDir != "" {
				// The heap after a collection, so that it holds what the open streams
				// keep and nothing else.
				if resp, err := http.Get(fmt.Sprintf("http://%s/debug/stack-start", pprofAddr)); err == nil {
					size, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					fmt.Printf("        new goroutines start with a stack of %s bytes\n", size)
				}
				for _, p := range []string{"heap?gc=1", "goroutine", "allocs"} {
					kind, _, _ := strings.Cut(p, "?")
					saveProfile(b, fmt.Sprintf("http://%s/debug/pprof/%s", pprofAddr, p), profileDir, fmt.Sprintf("%s-%s.pprof", kind, name))
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	<-done
	slices.Sort(samples)
	median, peak := samples[len(samples)/2], samples[len(samples)-1]
	perStream := float64(median-idle) / benchMemoryStreams
	fmt.Printf("\n%s memory: %d streams open at once (%d tokens %v apart) through /api/chat: server RSS %d KiB idle; with them open, over %d samples, median %d KiB, max %d KiB\n",
		name, benchMemoryStreams, benchSlowTokens, benchSlowTokenDelay, idle, len(samples), median, peak)
	fmt.Printf("        %.1f KiB per stream at the median (%.1f at the max); %d errors\n", perStream, float64(peak-idle)/benchMemoryStreams, memErrs)
	fmt.Printf("        per stream, from Go's own account mid-way (KiB): %s\n", memoryPerStream(idleGo, openGo, benchMemoryStreams))
	b.ReportMetric(perStream, "KiB/stream-"+name)
}
