package main

import (
	"debug/elf"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

// TestECSTemplate checks deploy/ecs.json against the binary it runs: every GENAI_*
// variable it sets is a setting genai knows, the address beyond loopback comes with API
// keys from a secret, the health check is a route genai serves, the container port is
// the one it listens on, and the load balancer does not cut streams at its default 60 s.
func TestECSTemplate(t *testing.T) {
	data, err := os.ReadFile("../../deploy/ecs.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string
			Properties json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatalf("deploy/ecs.json is not valid JSON: %v", err)
	}
	var task struct {
		ContainerDefinitions []struct {
			PortMappings []struct{ ContainerPort int }
			Environment  []struct {
				Name  string
				Value any
			}
			Secrets     []struct{ Name string }
			StopTimeout int
		}
	}
	json.Unmarshal(tmpl.Resources["TaskDefinition"].Properties, &task)
	if len(task.ContainerDefinitions) != 1 {
		t.Fatal("want one container")
	}
	c := task.ContainerDefinitions[0]
	known := map[string]bool{}
	for _, s := range settings() {
		known[s.env] = true
	}
	env := map[string]any{}
	for _, e := range c.Environment {
		env[e.Name] = e.Value
		if strings.HasPrefix(e.Name, "GENAI_") && !known[e.Name] {
			t.Errorf("the template sets %s, which genai does not read", e.Name)
		}
	}
	secretKeys := false
	for _, s := range c.Secrets {
		secretKeys = secretKeys || s.Name == "GENAI_API_KEYS"
	}
	if env["GENAI_ADDR"] != "0.0.0.0:3000" || !secretKeys {
		t.Errorf("GENAI_ADDR %v beyond loopback needs GENAI_API_KEYS from a secret (found: %v)", env["GENAI_ADDR"], secretKeys)
	}
	// ECS sends SIGKILL StopTimeout seconds after SIGTERM: the drain and the grace after
	// it must fit (ECS's default is 30 s).
	drain := DefaultShutdownTimeout
	if v, ok := env["GENAI_SHUTDOWN_TIMEOUT"].(string); ok {
		drain, _ = time.ParseDuration(v)
	}
	stop := 30 * time.Second
	if c.StopTimeout > 0 {
		stop = time.Duration(c.StopTimeout) * time.Second
	}
	if drain+shutdownGrace >= stop {
		t.Errorf("StopTimeout %v does not leave the drain (%v) and its grace (%v) room before SIGKILL", stop, drain, shutdownGrace)
	}
	if len(c.PortMappings) != 1 || c.PortMappings[0].ContainerPort != 3000 {
		t.Errorf("port mappings %+v, want 3000", c.PortMappings)
	}
	var tg struct{ HealthCheckPath string }
	json.Unmarshal(tmpl.Resources["TargetGroup"].Properties, &tg)
	if tg.HealthCheckPath != "/readyz" && tg.HealthCheckPath != "/healthz" {
		t.Errorf("health check %q is not /readyz or /healthz", tg.HealthCheckPath)
	}
	var lb struct{ LoadBalancerAttributes []struct{ Key, Value string } }
	json.Unmarshal(tmpl.Resources["LoadBalancer"].Properties, &lb)
	idle := 60
	for _, a := range lb.LoadBalancerAttributes {
		if a.Key == "idle_timeout.timeout_seconds" {
			idle, _ = strconv.Atoi(a.Value)
		}
	}
	if idle < 300 {
		t.Errorf("load balancer idle timeout %d s would cut long streams; want at least 300", idle)
	}
	for _, action := range []string{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Retrieve", "bedrock:RetrieveAndGenerate"} {
		if !strings.Contains(string(tmpl.Resources["TaskRole"].Properties), `"`+action+`"`) {
			t.Errorf("the task role lacks %s, which genai calls", action)
		}
	}
	var dash struct{ Widgets []any }
	if b, err := os.ReadFile("../../deploy/dashboard.json"); err != nil || json.Unmarshal(b, &dash) != nil || len(dash.Widgets) == 0 {
		t.Errorf("deploy/dashboard.json is missing or not a dashboard: %v", err)
	}
}
