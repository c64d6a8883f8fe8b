package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
)

// The streaming benchmark: time to first token (TTFT) through the genai server,
// against the same upstream read straight with the SDK in the same run, and the
// server's resident memory per open stream. Run it with
//
//	go test -run '^$' -bench BenchmarkStreams -benchtime 1x ./cmd/genai
//
// The server runs as a child process (this test binary re-executed), so its memory is
// its own; the upstream is bedrocktest, speaking Bedrock's wire protocol, in this process.

const (
	benchFirstTokenDelay = 50 * time.Millisecond // upstream's wait before its first token
	benchTokens          = 50                    // tokens after it
	benchSlowTokenDelay  = 50 * time.Millisecond // between tokens of the memory run's streams
	benchSlowTokens      = 120                   // tokens of the memory run's streams
	benchMemoryStreams   = 1000
	benchMemoryRamp      = time.Second // the memory run's streams open over this time
)

// benchLevels are the concurrencies measured, each with its number of rounds.
var benchLevels = []struct{ n, rounds int }{{1, 200}, {100, 10}, {1000, 3}}

func TestMain(m *testing.M) {
	if os.Getenv("GENAI_BENCH_CHILD") == "1" {
		// Child: serve until killed, as the binary does.
		if err := run(context.Background(), []string{"serve"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// benchServer starts genai in a child process pointed at upstream.
func benchServer(b *testing.B, up *bedrocktest.Server) (base string, pid int) {
	b.Helper()
	caFile := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, up.CertPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"GENAI_BENCH_CHILD=1", "GENAI_ADDR="+addr, "GENAI_DATA_DIR="+b.TempDir(), "GENAI_PROVIDER=bedrock",
		"GENAI_LOG_LEVEL=warn", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME="+up.URL, "AWS_CA_BUNDLE="+caFile, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitHealthy(b, "http://"+addr)
	return "http://" + addr, cmd.Process.Pid
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

// viaServer chats through genai's /api/chat and times the first delta event.
func viaServer(client *http.Client, base string) ttftFunc {
	const body = `{"messages":[{"role":"user","content":"Tell me a story"}]}`
	return func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/chat", strings.NewReader(body))
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
			if ttft == 0 && strings.HasPrefix(string(line), "event: delta") {
				ttft = time.Since(t0)
			}
			if strings.HasPrefix(string(line), "event: done") {
				return ttft, nil
			}
			if strings.HasPrefix(string(line), "event: error") {
				return 0, fmt.Errorf("error event")
			}
		}
	}
}

// direct reads the same upstream through the bedrock provider alone, the AWS SDK with
// its two stream-race workarounds (see bedrock.New), and no HTTP server in between: the
// physical limit. The raw SDK client would drop some streams to the race they fix.
func direct(model *bedrock.ChatModel) ttftFunc {
	req := &genai.ChatRequest{Model: bedrock.DefaultModel, MaxTokens: 2048,
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

// goMemory reads the server's own account of its memory from /metrics.
func goMemory(client *http.Client, base string) string {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var parts []string
	for _, l := range strings.Split(string(body), "\n") {
		for _, name := range []string{"go_goroutines ", "go_memstats_stack_inuse_bytes ", "go_memstats_heap_inuse_bytes ", "go_memstats_heap_alloc_bytes "} {
			if v, ok := strings.CutPrefix(l, name); ok {
				f, _ := strconv.ParseFloat(v, 64)
				if name != "go_goroutines " {
					v = fmt.Sprintf("%.0fKiB", f/1024)
				}
				parts = append(parts, strings.TrimSpace(name)+"="+v)
			}
		}
	}
	return strings.Join(parts, " ")
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

func BenchmarkStreams(b *testing.B) {
	if os.Getenv("GENAI_BENCH_MEMORY_ONLY") != "" {
		benchLevels = nil
	}
	tokens := make([]string, benchTokens)
	for i := range tokens {
		tokens[i] = "tok" + strconv.Itoa(i) + " "
	}
	reply := func(*bedrocktest.Request) bedrocktest.Reply { return bedrocktest.Reply{Tokens: tokens} }
	up := bedrocktest.NewServer(bedrocktest.Options{Reply: reply, FirstTokenDelay: benchFirstTokenDelay, NoRecord: true, TLS: true})
	defer up.Close()
	var base string
	if len(benchLevels) > 0 {
		base, _ = benchServer(b, up)
	}

	transport := &http.Transport{MaxIdleConnsPerHost: 4096, MaxIdleConns: 8192}
	client := &http.Client{Transport: transport}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(up.CertPEM)
	sdk := bedrock.New(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(up.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig.RootCAs = roots
		}),
	}, bedrock.Options{})
	viaSrv, viaSDK := viaServer(client, base), direct(sdk)

	fmt.Printf("\nTTFT with the upstream waiting %v before the first token, then %d tokens; GOMAXPROCS=%d\n",
		benchFirstTokenDelay, benchTokens, runtime.GOMAXPROCS(0))
	fmt.Printf("%8s %12s %12s %12s %12s %9s %9s %7s\n", "streams", "direct p50", "direct p99", "genai p50", "genai p99", "x p50", "x p99", "errors")
	for _, c := range benchLevels {
		// Warm both paths' connection pools at this concurrency first.
		measure(c.n, 1, viaSDK)
		measure(c.n, 1, viaSrv)
		var d, s []time.Duration
		var errD, errS int
		for r := 0; r < c.rounds; r++ { // interleave so both see the same machine state
			dd, ed := measure(c.n, 1, viaSDK)
			ss, es := measure(c.n, 1, viaSrv)
			d, s, errD, errS = append(d, dd...), append(s, ss...), errD+ed, errS+es
		}
		dp50, dp99, sp50, sp99 := percentile(d, .5), percentile(d, .99), percentile(s, .5), percentile(s, .99)
		fmt.Printf("%8d %12v %12v %12v %12v %9.2f %9.2f %7d\n", c.n, dp50.Round(time.Microsecond), dp99.Round(time.Microsecond),
			sp50.Round(time.Microsecond), sp99.Round(time.Microsecond), float64(sp50)/float64(dp50), float64(sp99)/float64(dp99), errD+errS)
		if c.n == 1 {
			fmt.Printf("%8s added by genai at one stream: p50 %v, p99 %v\n", "", (sp50 - dp50).Round(time.Microsecond), (sp99 - dp99).Round(time.Microsecond))
		}
		b.ReportMetric(float64(sp99)/float64(dp99), fmt.Sprintf("x-p99-ttft@%d", c.n))
		b.ReportMetric(float64(errD+errS), fmt.Sprintf("errors@%d", c.n))
	}

	// Memory: a fresh server, then benchMemoryStreams slow streams open at once, each
	// benchSlowTokens tokens benchSlowTokenDelay apart. The server's RSS is sampled while
	// all of them are open, after the burst of their start has passed.
	slow := make([]string, benchSlowTokens)
	for i := range slow {
		slow[i] = "tok" + strconv.Itoa(i) + " "
	}
	up2 := bedrocktest.NewServer(bedrocktest.Options{NoRecord: true, TLS: true, TokenDelay: benchSlowTokenDelay,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply { return bedrocktest.Reply{Tokens: slow} }})
	defer up2.Close()
	base2, pid2 := benchServer(b, up2)
	if _, errs := measure(1, 1, viaServer(client, base2)); errs > 0 {
		b.Fatal("warm-up stream failed")
	}
	time.Sleep(200 * time.Millisecond)
	idle := rssKiB(pid2)
	done := make(chan struct{})
	var memErrs int
	go func() {
		_, memErrs = measureSpread(benchMemoryStreams, 1, benchMemoryRamp, viaServer(client, base2))
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := up2.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Active >= benchMemoryStreams }); err != nil {
		b.Fatal(err)
	}
	var samples []int
	var breakdown string
	for t0 := time.Now(); time.Since(t0) < benchSlowTokens*benchSlowTokenDelay*3/4 && up2.Stats().Active >= benchMemoryStreams; {
		samples = append(samples, rssKiB(pid2))
		if len(samples) == 5 {
			breakdown = goMemory(client, base2)
		}
		time.Sleep(250 * time.Millisecond)
	}
	<-done
	slices.Sort(samples)
	median, peak := samples[len(samples)/2], samples[len(samples)-1]
	perStream := float64(median-idle) / benchMemoryStreams
	fmt.Printf("\nmemory: %d streams open at once (%d tokens %v apart): server RSS %d KiB idle; with them open, over %d samples, median %d KiB, max %d KiB\n",
		benchMemoryStreams, benchSlowTokens, benchSlowTokenDelay, idle, len(samples), median, peak)
	fmt.Printf("        %.1f KiB per stream at the median (%.1f at the max); %d errors\n", perStream, float64(peak-idle)/benchMemoryStreams, memErrs)
	fmt.Printf("        Go's own account mid-way: %s\n", breakdown)
	b.ReportMetric(perStream, "KiB/stream")
}
