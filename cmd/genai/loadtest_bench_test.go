package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"genai/bedrock/bedrocktest"
	"genai/loadtest"
)

// BenchmarkLoadtest gives the README's load-test figures: "genai loadtest" at 10 and
// 100 users (GENAI_LOADTEST_USERS, comma-separated, changes them) against a genai
// child process on the Bedrock test server, which waits loadFirstToken before its
// first token and loadTokenGap between the 50 after it, as a model streaming at 100
// tokens/s does. The baseline is that upstream alone: its own TTFT is loadFirstToken,
// so the ratio printed is genai's TTFT p50 over it. Run it with
//
//	go test -run '^$' -bench BenchmarkLoadtest -benchtime 1x ./cmd/genai
func BenchmarkLoadtest(b *testing.B) {
	const (
		loadFirstToken = 200 * time.Millisecond
		loadTokenGap   = 10 * time.Millisecond
		loadTokens     = 50
	)
	users := []int{10, 100}
	if v := os.Getenv("GENAI_LOADTEST_USERS"); v != "" {
		users = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("GENAI_LOADTEST_USERS: %v", err)
			}
			users = append(users, n)
		}
	}
	tokens := strings.SplitAfter(strings.TrimSpace(strings.Repeat("word ", loadTokens)), " ")
	up := bedrocktest.NewServer(bedrocktest.Options{NoRecord: true, FirstTokenDelay: loadFirstToken, TokenDelay: loadTokenGap,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply { return bedrocktest.Reply{Tokens: tokens} }})
	defer up.Close()
	base, _, _ := benchServer(b, []string{"GENAI_PROVIDER=bedrock", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + up.URL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true"}, "")
	for range b.N {
		for _, n := range users {
			for _, surface := range []string{"api", "openai", "anthropic"} {
				args := []string{"-url", base, "-surface", surface, "-users", strconv.Itoa(n), "-think", "1s", "-duration", "20s"}
				var out, progress bytes.Buffer
				if err := loadtestCommand(context.Background(), append(args, "-json"), func(string) string { return "" }, &out, &progress); err != nil {
					b.Fatal(err)
				}
				var rep loadtest.Report
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					b.Fatal(err)
				}
				fmt.Printf("$ genai loadtest %s\n", strings.Join(args, " "))
				printReport(os.Stdout, &rep) // what the command prints without -json
				if rep.TTFT != nil {
					fmt.Printf("TTFT p50 / the upstream's own first-token wait (%s): %.2f×\n\n", loadFirstToken, rep.TTFT.P50/loadFirstToken.Seconds())
				}
			}
		}
	}
}
