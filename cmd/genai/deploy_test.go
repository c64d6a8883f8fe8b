package main

import (
	"debug/elf"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dockerfile is deploy/Dockerfile, read the way docker reads it: one instruction per
// line after joining backslash continuations.
func dockerfile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	var out []string
	for _, l := range strings.Split(joined, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestDockerfile checks the image the Dockerfile describes (no Docker engine runs here):
// a static binary on distroless as a non-root user, built by the same command this
// test then runs, and a binary that is safe with the image's environment.
func TestDockerfile(t *testing.T) {
	lines := dockerfile(t)
	var froms, env []string
	var build, user, entry string
	for _, l := range lines {
		switch word, rest, _ := strings.Cut(l, " "); strings.ToUpper(word) {
		case "FROM":
			froms = append(froms, rest)
		case "RUN":
			if strings.Contains(rest, "go build") {
				build = rest
			}
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entry = rest
		case "ENV":
			env = append(env, regexp.MustCompile(`\s+`).Split(strings.TrimSpace(rest), -1)...)
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[1], "gcr.io/distroless/static") || !strings.Contains(froms[1], "nonroot") {
		t.Errorf("want a two-stage build ending on distroless static nonroot; FROM lines %q", froms)
	}
	if !strings.HasPrefix(user, "nonroot") || entry != `["/genai"]` {
		t.Errorf("USER %q ENTRYPOINT %q", user, entry)
	}
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/genai") {
		t.Fatalf("build line %q must be CGO_ENABLED=0 and build ./cmd/genai", build)
	}

	// Build as the Dockerfile does, with its flags, and check the result is static.
	bin := filepath.Join(t.TempDir(), "genai")
	args := regexp.MustCompile(`-o \S+`).ReplaceAllString(build, "-o "+bin)
	args = strings.ReplaceAll(args, "${VERSION}", "test")
	cmd := exec.Command("sh", "-c", args)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", args, err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked; distroless static has no libc")
		}
	}
	f.Close()

	// With the image's environment alone it listens beyond loopback, so it must refuse
	// to start without API keys.
	run := exec.Command(bin)
	run.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true"}, env...)
	run.Env = append(run.Env, "GENAI_DATA_DIR="+t.TempDir())
	out, err := run.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "GENAI_API_KEYS") {
		t.Errorf("started open to the network without keys: %v\n%s", err, out)
	}

	// With keys it serves; here on loopback, as the container would on 0.0.0.0.
	addr := freeAddr(t)
	serve := exec.Command(bin, "serve", "-addr", addr)
	serve.Env = append(run.Env, "GENAI_API_KEYS=0123456789abcdef-test")
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Kill(); serve.Wait() }()
	waitHealthy(t, "http://"+addr)
	resp, err := http.Post("http://"+addr+"/api/chat", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/api/chat without a key: %d, want 401", resp.StatusCode)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(t testing.TB, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/healthz did not answer within 30s", base)
}
