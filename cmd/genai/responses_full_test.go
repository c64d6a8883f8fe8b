//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"genai/bedrock/bedrocktest"
)

// On a full disk the server starts, stored responses are read, and storing one answers
// 507 insufficient_storage until space is freed: with the responses' file cleanly
// closed before, and with none yet (it opens once there is space).
func TestResponsesOnAFullDisk(t *testing.T) {
	disk := smallDisk(t, "8m")
	if disk == "" {
		return
	}
	bedrockUpstream(t, bedrocktest.Options{})
	data := filepath.Join(disk, "data")
	ballast := filepath.Join(disk, "ballast")
	env := map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_DATA_DIR": data}
	create := func(base string) (int, string) {
		t.Helper()
		resp, err := http.Post(base+"/v1/responses", "application/json", strings.NewReader(`{"input":"hello there"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r struct{ ID string }
		json.Unmarshal(b, &r)
		return resp.StatusCode, r.ID
	}
	get := func(base, id string) int {
		t.Helper()
		resp, err := http.Get(base + "/v1/responses/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	m, base := start(t, env)
	status, id := create(base)
	if status != 200 {
		t.Fatalf("create: %d", status)
	}
	m.Close()

	fill(t, ballast)
	m, base = start(t, env)
	if got := get(base, id); got != 200 {
		t.Errorf("a stored response read on a full disk: %d", got)
	}
	if status, _ := create(base); status != http.StatusInsufficientStorage {
		t.Errorf("storing on a full disk: %d, want 507", status)
	}
	os.Remove(ballast)
	if status, _ := create(base); status != 200 {
		t.Errorf("storing once space is freed: %d", status)
	}
	m.Close()

	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(data, responsesFile+suffix))
	}
	fill(t, ballast)
	m, base = start(t, env)
	if status, _ := create(base); status != http.StatusInsufficientStorage {
		t.Errorf("storing on a full disk without a responses file: %d, want 507", status)
	}
	os.Remove(ballast)
	if status, id = create(base); status != 200 || get(base, id) != 200 {
		t.Errorf("storing once space is freed: %d", status)
	}
	m.Close()
}
