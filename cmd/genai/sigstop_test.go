package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"genai/bedrock/bedrocktest"
)

// TestBedrockChildProcess is not a test: run by TestStoppedBedrockProcess as a child, it
// serves bedrocktest, prints its URL, and serves until its stdin closes.
func TestBedrockChildProcess(t *testing.T) {
	if os.Getenv("GENAI_TEST_BEDROCK_CHILD") != "1" {
		t.Skip("the child process of TestStoppedBedrockProcess")
	}
	up := bedrocktest.NewServer(bedrocktest.Options{})
	defer up.Close()
	fmt.Println(up.URL)
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// The issue's own reproduction: `kill -STOP` the Bedrock endpoint. The kernel still
// accepts connections to a stopped process, and nothing answers on them: chat answers
// 504 timeout and /readyz says the provider is not ready; after `kill -CONT` both recover;
// a killed endpoint is not ready either.
func TestStoppedBedrockProcess(t *testing.T) {
	isolateAWS(t)
	child := exec.Command(os.Args[0], "-test.run=^TestBedrockChildProcess$")
	child.Env = append(os.Environ(), "GENAI_TEST_BEDROCK_CHILD=1")
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Signal(syscall.SIGCONT)
		stdin.Close()
		child.Process.Kill()
		child.Wait()
	})
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(url, "http://") {
		t.Fatalf("the child printed %q: %v", url, err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", strings.TrimSpace(url))
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_READY_INTERVAL": "300ms",
		"GENAI_UPSTREAM_FIRST_EVENT_TIMEOUT": "500ms", "GENAI_UPSTREAM_CALL_TIMEOUT": "1s"})
	if text, _ := chatSSE(t, base, hello); text != "You said: hello there" {
		t.Fatalf("answer before the stop: %q", text)
	}

	if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, child.Process.Pid)
	for _, body := range []string{hello, `{"messages":[{"role":"user","content":"hi"}],"stream":false}`} {
		status, answer := post(t, base+"/api/chat", body)
		var e struct{ Error struct{ Code string } }
		json.Unmarshal([]byte(answer), &e)
		if status != 504 || e.Error.Code != "timeout" {
			t.Errorf("chat %s with Bedrock stopped: %d %s; want 504 timeout", body, status, answer)
		}
	}
	if body := waitReady(t, base, 503); !strings.Contains(body, `"failing":["provider"]`) {
		t.Errorf("/readyz with Bedrock stopped: %s", body)
	}

	if err := child.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitReady(t, base, 200)
	if text, _ := chatSSE(t, base, hello); text != "You said: hello there" {
		t.Errorf("answer after the resume: %q", text)
	}

	child.Process.Kill()
	child.Wait()
	if body := waitReady(t, base, 503); !strings.Contains(body, `"failing":["provider"]`) {
		t.Errorf("/readyz with Bedrock killed: %s", body)
	}
}

// waitStopped waits until process pid is stopped: a signal is delivered when the
// process is next scheduled, not when kill returns.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'T' {
			return
		}
	}
	t.Fatalf("process %d did not stop", pid)
}
