package bedrock_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// TestBedrockChildProcess is not a test: run by TestStoppedBedrockFailsByPing as a
// child, it serves bedrocktest over TLS with HTTP/2, as Bedrock does, prints its URL and
// certificate, and serves until its stdin closes.
func TestBedrockChildProcess(t *testing.T) {
	if os.Getenv("GENAI_TEST_BEDROCK_CHILD") != "1" {
		t.Skip("the child process of TestStoppedBedrockFailsByPing")
	}
	up := bedrocktest.NewServer(bedrocktest.Options{TLS: true})
	defer up.Close()
	fmt.Printf("%s\n%s", up.URL, up.CertPEM)
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// A whole answer (Converse) sends nothing until it is complete, so only a ping tells a
// Bedrock that is generating from one that is frozen: after `kill -STOP` of the
// endpoint, a call on the pooled HTTP/2 connection fails once a ping goes unanswered,
// rather than wait for its whole-call deadline.
func TestStoppedBedrockFailsByPing(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	child := exec.Command(os.Args[0], "-test.run=^TestBedrockChildProcess$")
	child.Env = append(os.Environ(), "GENAI_TEST_BEDROCK_CHILD=1")
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
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
	out := bufio.NewReader(stdout)
	url, _ := out.ReadString('\n')
	var pem strings.Builder
	for !strings.Contains(pem.String(), "END CERTIFICATE") {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the child's certificate: %v", err)
		}
		pem.WriteString(line)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(pem.String())) {
		t.Fatal("the child's certificate does not parse")
	}
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(strings.TrimSpace(url)),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		}),
	}
	m := bedrock.New(cfg, bedrock.Options{PingTimeout: 200 * time.Millisecond, MaxAttempts: 1})
	if _, err := m.Chat(context.Background(), userText("hi")); err != nil {
		t.Fatalf("before the stop: %v", err)
	}

	if err := child.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, child.Process.Pid)
	// The guard only keeps a broken build from hanging the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := m.Chat(ctx, userText("hi"))
	if errors.Is(err, context.DeadlineExceeded) || genai.ErrorCode(err) != genai.EUPSTREAM {
		t.Errorf("Converse on a stopped Bedrock: %v; want %s once the ping goes unanswered", err, genai.EUPSTREAM)
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
