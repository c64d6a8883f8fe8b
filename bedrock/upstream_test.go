package bedrock_test

import (
	"context"
	"testing"
	"time"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
)

// A pooled connection to Bedrock is closed once it has been idle for IdleConnTimeout,
// so that none outlives a middlebox's idle timeout to be reused into a hang.
func TestIdleConnectionsAreClosed(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{IdleConnTimeout: 100 * time.Millisecond})
	if _, err := m.Chat(context.Background(), userText("hi")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := srv.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Completed == 1 && s.Conns == 0 }); err != nil {
		t.Errorf("the idle connection was not closed: %v", err)
	}
}

func TestPing(t *testing.T) {
	srv := newServer(t, bedrocktest.Options{})
	m := newModel(t, srv, bedrock.Options{})
	if err := m.Ping(context.Background()); err != nil {
		t.Errorf("Ping of a running Bedrock: %v", err)
	}
	if n := srv.Stats().Completed; n != 0 {
		t.Errorf("Ping ran a model: %d calls completed", n)
	}

	srv.SetHang(&bedrocktest.Hang{BeforeHeaders: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := m.Ping(ctx)
	cancel()
	if err == nil {
		t.Error("Ping of a frozen Bedrock succeeded")
	}
	srv.SetHang(nil)

	srv.Close()
	if err := m.Ping(context.Background()); genai.ErrorCode(err) != genai.EUPSTREAM {
		t.Errorf("Ping of a stopped Bedrock: %v; want %s", err, genai.EUPSTREAM)
	}
	if n := srv.Stats().Requests; n != 2 {
		t.Errorf("Bedrock saw %d requests; want 2, each ping tried once", n)
	}
}
