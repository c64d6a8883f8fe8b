//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallDiskChild tells a re-executed test binary that it runs in a user and mount
// namespace of its own, where it may mount a file system.
const smallDiskChild = "GENAI_TEST_SMALL_DISK_CHILD"

// smallDisk returns a directory on a tmpfs of size bytes of its own, unmounted when the
// test ends. Mounting needs root: other users get it by the test running again as a
// child in user and mount namespaces of its own, and smallDisk then returns "" in the
// parent, which the child's result stands for. Without either, the test is skipped.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), smallDiskChild+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Skipf("needs root or user namespaces to mount a small file system: %v", err)
		}
		t.Logf("in a user namespace:\n%s", out)
		if err != nil {
			t.Fatalf("the test failed in its user namespace: %v", err)
		}
		return ""
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv(smallDiskChild) != "" {
			t.Fatalf("mount tmpfs in a user namespace: %v", err)
		}
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes path until the file system has no byte left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{1 << 16, 512, 1} {
		buf := make([]byte, n)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// TestFullDisk fills the disk of the data directory under a running server, then
// starts servers on the full disk: after a clean stop, and with the store's shared
// memory file gone (as an older version left it). Each answers writes with 507
// insufficient_storage, keeps serving reads, and writes again once space is freed.
func TestFullDisk(t *testing.T) {
	isolateAWS(t)
	disk := smallDisk(t, "8m")
	if disk == "" {
		return
	}
	data := filepath.Join(disk, "data")
	ballast := filepath.Join(disk, "ballast")

	post := func(base, text string) (int, string, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"title": "Harbour " + text, "text": text})
		resp, err := http.Post(base+"/api/notes", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string }
		}
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &e)
		return resp.StatusCode, e.Error.Code, e.Error.Message
	}
	wantFull := func(base string) {
		t.Helper()
		status, code, msg := post(base, "written on a full disk")
		if status != http.StatusInsufficientStorage || code != "insufficient_storage" || msg != "the disk of the data directory is full; free space and retry" {
			t.Fatalf("a write on a full disk: %d %q %q; want 507 insufficient_storage with a message saying to free space", status, code, msg)
		}
	}
	wantRead := func(base string, want int) {
		t.Helper()
		resp, err := http.Post(base+"/api/notes/search", "application/json", strings.NewReader(`{"query":"harbour","mode":"title","k":100}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Hits []struct{ ID string } }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || len(body.Hits) != want {
			t.Fatalf("a search on a full disk: status %d, %d hits, %v; want 200 with %d", resp.StatusCode, len(body.Hits), err, want)
		}
	}
	wantWrite := func(base, text string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			status, code, msg := post(base, text)
			if status == http.StatusCreated {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a write after space was freed: %d %s %q", status, code, msg)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	serve := func() (*Main, string) {
		t.Helper()
		return start(t, map[string]string{"GENAI_DATA_DIR": data})
	}

	// A running server whose disk fills.
	m, base := serve()
	notes := 0
	for _, text := range []string{"boats", "tides", "gulls"} {
		wantWrite(base, text, 0)
		notes++
	}
	fill(t, ballast)
	wantFull(base)
	wantRead(base, notes)
	os.Remove(ballast)
	wantWrite(base, "space again", 0)
	notes++
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Started on a full disk after a clean stop.
	fill(t, ballast)
	m, base = serve()
	wantRead(base, notes)
	wantFull(base)
	os.Remove(ballast)
	wantWrite(base, "after the start on a full disk", 0)
	notes++
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Started on a full disk without the store's shared memory file.
	for _, suffix := range []string{"-wal", "-shm"} {
		st, err := os.Stat(filepath.Join(data, "genai.db"+suffix))
		if err != nil {
			t.Fatalf("a cleanly closed store keeps its %s file (persistent WAL): %v", suffix, err)
		}
		if suffix == "-wal" && st.Size() != 0 {
			t.Fatalf("a cleanly closed store's log has %d bytes, want 0", st.Size())
		}
		os.Remove(filepath.Join(data, "genai.db"+suffix))
	}
	fill(t, ballast)
	m, base = serve()
	wantRead(base, notes)
	wantFull(base)
	os.Remove(ballast)
	wantWrite(base, "after a start without shared memory", 5*time.Second)
	notes++
	wantRead(base, notes)
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
