// Package redistest runs a real redis-server (Debian's package redis-server) for tests,
// on a free loopback port, in the test's temporary directory.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server process.
type Server struct {
	// URL is the redis:// URL of the server.
	URL  string
	Addr string
	cmd  *exec.Cmd
}

// Start starts a redis-server that persists nothing and stops with the test. Without
// the binary the test fails naming the package, unless GENAI_SKIP_REDIS=1 is set, when it
// is skipped: CI must never skip it silently.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("GENAI_SKIP_REDIS") == "1" {
			t.Skip("redis-server is not installed and GENAI_SKIP_REDIS=1")
		}
		t.Fatal("redis-server is not installed: apt-get install -y redis-server (or set GENAI_SKIP_REDIS=1 to skip)")
	}
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning",
			"--logfile", filepath.Join(dir, "redis.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		s := &Server{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
		if s.wait() {
			t.Cleanup(s.Kill)
			return s
		}
		s.Kill()
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("redis-server did not answer on port %d: %s", port, log)
		}
	}
}

// wait waits up to 5 seconds for the server to answer PING.
func (s *Server) wait() bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprint(c, "PING\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if line == "+PONG\r\n" {
			return true
		}
	}
	return false
}

// Kill ends the server at once (SIGKILL), as a crash or a lost host would.
func (s *Server) Kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGCONT)
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// Stop freezes the server (SIGSTOP): the kernel still accepts connections to it, and
// nothing answers on them, as with a Redis that hangs or a network that drops packets.
func (s *Server) Stop() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Continue resumes a stopped server.
func (s *Server) Continue() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
