package sqlite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"genai"
)

func openResponses(t *testing.T, path string) *Responses {
	t.Helper()
	r, err := OpenResponses(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// storedExample is a response whose conversation has every kind of block.
func storedExample(id, owner string) *genai.StoredResponse {
	call := &genai.ToolUse{ID: "call_1", Name: "weather", Input: json.RawMessage(`{"city":"Paris"}`)}
	return &genai.StoredResponse{
		ID: id, Owner: owner, CreatedAt: time.UnixMilli(time.Now().UnixMilli()).UTC(), Depth: 2,
		System: "be brief",
		Messages: []genai.Message{
			{Role: genai.RoleUser, Content: []genai.ContentBlock{
				{Type: genai.BlockText, Text: "weather?"},
				{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: []byte{0x89, 'P', 'N', 'G', 0, 1}}},
			}},
			{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "Calling weather."}, {Type: genai.BlockToolUse, ToolUse: call}}},
			{Role: genai.RoleUser, Content: []genai.ContentBlock{{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{
				ToolUseID: "call_1", IsError: true, Content: []genai.ContentBlock{{Type: genai.BlockText, Text: "no such city"}}}}}},
			genai.TextMessage(genai.RoleAssistant, "Sorry."),
		},
		Body: json.RawMessage(`{"id":"` + id + `","object":"response"}`),
	}
}

// A stored response comes back as it was put, after the store is closed and opened
// again, and only to the key that made it.
func TestResponsesRoundTripAndOwner(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "responses.db")
	r := openResponses(t, path)
	want := storedExample("resp_1", "key:a")
	if err := r.PutResponse(ctx, want); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openResponses(t, path)
	got, err := r.GetResponse(ctx, "resp_1", "key:a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, err := range []error{
		func() error { _, err := r.GetResponse(ctx, "resp_1", "key:b"); return err }(),
		r.DeleteResponse(ctx, "resp_1", "key:b"),
		r.PutResponse(ctx, storedExample("resp_1", "key:b")),
		func() error { _, err := r.GetResponse(ctx, "resp_2", "key:a"); return err }(),
	} {
		if genai.ErrorCode(err) != genai.ENOTFOUND {
			t.Errorf("another key or an unknown id: %v, want not_found", err)
		}
	}
	if got, _ := r.GetResponse(ctx, "resp_1", "key:a"); got == nil || got.Owner != "key:a" {
		t.Fatal("another key's put replaced the response")
	}
	if err := r.DeleteResponse(ctx, "resp_1", "key:a"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetResponse(ctx, "resp_1", "key:a"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("after delete: %v", err)
	}
	if err := r.DeleteResponse(ctx, "resp_1", "key:a"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("second delete: %v", err)
	}
}

// The limits of genai.StoredResponse hold at the store: an over-long chain and an
// oversized conversation are refused.
func TestResponsesLimits(t *testing.T) {
	r := openResponses(t, filepath.Join(t.TempDir(), "responses.db"))
	deep := storedExample("resp_deep", "")
	deep.Depth = genai.MaxResponseChain + 1
	if err := r.PutResponse(context.Background(), deep); genai.ErrorCode(err) != genai.EINVALID {
		t.Errorf("depth over the chain limit: %v", err)
	}
	big := storedExample("resp_big", "")
	big.Messages[0].Content[0].Text = strings.Repeat("x", 2*genai.MaxStoredResponseBytes)
	if err := r.PutResponse(context.Background(), big); genai.ErrorCode(err) != genai.ETOOLARGE {
		t.Errorf("oversized: %v", err)
	}
}

const responsesCrashChildEnv = "GENAI_SQLITE_RESPONSES_CRASH_CHILD"

// TestResponsesCrashChild is the child of TestResponsesSurviveKill: it stores responses
// and prints the id of each once PutResponse has returned, until it is killed.
func TestResponsesCrashChild(t *testing.T) {
	path := os.Getenv(responsesCrashChildEnv)
	if path == "" {
		t.Skip("run by TestResponsesSurviveKill")
	}
	r, err := OpenResponses(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		id := fmt.Sprintf("resp_%06d", i)
		if err := r.PutResponse(context.Background(), storedExample(id, "key:a")); err != nil {
			t.Fatal(err)
		}
		fmt.Println("ack", id)
	}
}

// Every response whose PutResponse returned is there after kill -9.
func TestResponsesSurviveKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "responses.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestResponsesCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), responsesCrashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 200 {
		if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, id)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < 200 {
		t.Fatalf("the child acknowledged %d responses", len(acked))
	}
	r := openResponses(t, path)
	for _, id := range acked {
		got, err := r.GetResponse(context.Background(), id, "key:a")
		if err != nil {
			t.Fatalf("acknowledged %s lost after kill -9: %v", id, err)
		}
		if len(got.Messages) != 4 {
			t.Fatalf("%s: %d messages", id, len(got.Messages))
		}
	}
}

// A response past genai.ResponseRetention is gone for a read, and a later put deletes it.
func TestResponsesRetention(t *testing.T) {
	ctx := context.Background()
	r := openResponses(t, filepath.Join(t.TempDir(), "responses.db"))
	now := time.Now()
	r.now = func() time.Time { return now }
	old := storedExample("resp_old", "key:a")
	old.CreatedAt = now.Add(-genai.ResponseRetention - time.Minute)
	if err := r.PutResponse(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetResponse(ctx, "resp_old", "key:a"); genai.ErrorCode(err) != genai.ENOTFOUND {
		t.Errorf("a response past its retention: %v, want not_found", err)
	}
	now = now.Add(2 * pruneEvery)
	if err := r.PutResponse(ctx, storedExample("resp_new", "key:a")); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := r.db.QueryRow(`SELECT count(*) FROM responses`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d responses left after pruning (%v), want 1", n, err)
	}
}
