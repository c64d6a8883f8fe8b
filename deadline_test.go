package genai_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"

	"genai"
	"genai/bedrock"
	"genai/bedrock/bedrocktest"
	"genai/openai"
	"genai/openai/openaitest"
)

// A frozen upstream, driven through each provider's official SDK client: the deadlines
// of genai.WithDeadlines end the call with ETIMEOUT naming the deadline, cancel the
// upstream request, and leave no goroutine behind. The deadlines are short so that the
// tests are quick; nothing here asserts how long anything took.

// upstream is one provider's test server, frozen as hang says, with a model on it.
type upstream struct {
	model    genai.ChatModel
	embedder genai.Embedder
	// canceled waits until the upstream has seen one more request cancelled.
	canceled func(t *testing.T)
	close    func()
}

func bedrockUpstream(t *testing.T, hang *bedrocktest.Hang) upstream {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := bedrocktest.NewServer(bedrocktest.Options{Hang: hang,
		Reply: func(*bedrocktest.Request) bedrocktest.Reply {
			return bedrocktest.Reply{Tokens: []string{"one ", "two ", "three ", "four"}}
		}})
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	emb, err := bedrock.NewEmbedder(cfg, bedrock.EmbedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	return upstream{
		model:    bedrock.New(cfg, bedrock.Options{}),
		embedder: emb,
		canceled: func(t *testing.T) {
			t.Helper()
			seen++
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Wait(ctx, func(s bedrocktest.Stats) bool { return s.Canceled >= seen && s.Hung == 0 }); err != nil {
				t.Errorf("Bedrock did not see the call cancelled: %v", err)
			}
		},
		close: srv.Close,
	}
}

func openaiUpstream(t *testing.T, hang *openaitest.Hang) upstream {
	srv := openaitest.New(openaitest.Config{Hang: hang,
		Reply: func(*openaitest.ChatRequest) []string { return []string{"one ", "two ", "three ", "four"} }})
	return upstream{
		model:    openai.New(openai.Options{BaseURL: srv.URL, DefaultModel: "test-model", MaxRetries: -1}),
		embedder: openai.NewEmbedder(openai.EmbedOptions{BaseURL: srv.URL, Model: "test-embed", Dimensions: 8, MaxRetries: -1}),
		canceled: func(t *testing.T) {
			t.Helper()
			select {
			case <-srv.Canceled():
			case <-time.After(10 * time.Second):
				t.Error("the OpenAI-compatible endpoint did not see the call cancelled")
			}
		},
		close: srv.Close,
	}
}

// providers freeze an upstream before its headers (afterTokens < 0) or after that many
// tokens of a stream.
var providers = []struct {
	name  string
	start func(t *testing.T, afterTokens int) upstream
}{
	{"bedrock", func(t *testing.T, n int) upstream {
		return bedrockUpstream(t, &bedrocktest.Hang{BeforeHeaders: n < 0, AfterTokens: n})
	}},
	{"openai", func(t *testing.T, n int) upstream {
		return openaiUpstream(t, &openaitest.Hang{BeforeHeaders: n < 0, AfterTokens: n})
	}},
}

// noLeaks checks, once the upstream is closed, that no goroutine started by the test is
// left.
func noLeaks(t *testing.T, up upstream) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		up.close()
		goleak.VerifyNone(t, ignore)
	})
}

// drain reads a stream and returns its text and its error.
func drain(seq func(func(genai.Event, error) bool)) (string, error) {
	var sb strings.Builder
	for ev, err := range seq {
		if err != nil {
			return sb.String(), err
		}
		sb.WriteString(ev.Text)
	}
	return sb.String(), nil
}

func wantTimeout(t *testing.T, err error, deadline string) {
	t.Helper()
	if genai.ErrorCode(err) != genai.ETIMEOUT || !strings.Contains(genai.ErrorMessage(err), deadline) {
		t.Fatalf("error %v; want %s naming the %s", err, genai.ETIMEOUT, deadline)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v wraps a context error, which the HTTP layer would show as a cancelled request", err)
	}
}

var hi = &genai.ChatRequest{Messages: []genai.Message{genai.TextMessage(genai.RoleUser, "hi")}, MaxTokens: 10}

func TestStreamFirstEventDeadline(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t, -1)
			noLeaks(t, up)
			m := genai.WithDeadlines(up.model, genai.Deadlines{FirstEvent: 100 * time.Millisecond, BetweenEvents: time.Hour, Call: time.Hour})
			text, err := drain(m.Stream(context.Background(), hi))
			if text != "" {
				t.Errorf("text %q before the deadline", text)
			}
			wantTimeout(t, err, "first-event deadline")
			up.canceled(t)
		})
	}
}

func TestStreamBetweenEventsDeadline(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t, 2)
			noLeaks(t, up)
			m := genai.WithDeadlines(up.model, genai.Deadlines{FirstEvent: time.Hour, BetweenEvents: 100 * time.Millisecond, Call: time.Hour})
			text, err := drain(m.Stream(context.Background(), hi))
			if text != "one two " {
				t.Errorf("text %q before the upstream froze; want %q", text, "one two ")
			}
			wantTimeout(t, err, "between-events deadline")
			up.canceled(t)
		})
	}
}

func TestStreamCallDeadline(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t, 1)
			noLeaks(t, up)
			m := genai.WithDeadlines(up.model, genai.Deadlines{Call: 200 * time.Millisecond})
			text, err := drain(m.Stream(context.Background(), hi))
			if text != "one " {
				t.Errorf("text %q; want %q", text, "one ")
			}
			wantTimeout(t, err, "whole-call deadline")
			up.canceled(t)
		})
	}
}

func TestChatCallDeadline(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t, 0)
			noLeaks(t, up)
			m := genai.WithDeadlines(up.model, genai.Deadlines{FirstEvent: time.Hour, Call: 100 * time.Millisecond})
			resp, err := m.Chat(context.Background(), hi)
			if resp != nil {
				t.Errorf("answer %+v from a frozen upstream", resp)
			}
			wantTimeout(t, err, "whole-call deadline")
			up.canceled(t)
		})
	}
}

func TestEmbedCallDeadline(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t, -1)
			noLeaks(t, up)
			e := genai.EmbedderWithDeadline(up.embedder, genai.Deadlines{Call: 100 * time.Millisecond})
			if e.Space() != up.embedder.Space() {
				t.Errorf("space %v, want the embedder's %v", e.Space(), up.embedder.Space())
			}
			_, err := e.Embed(context.Background(), []string{"a note"})
			wantTimeout(t, err, "whole-call deadline")
			up.canceled(t)
		})
	}
}

// A caller that gives up is not a timeout of ours: the error stays the context's.
func TestCallerCancelIsNotATimeout(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			up := p.start(t, -1)
			noLeaks(t, up)
			m := genai.WithDeadlines(up.model, genai.Deadlines{FirstEvent: time.Hour, BetweenEvents: time.Hour, Call: time.Hour})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := drain(m.Stream(ctx, hi))
			if !errors.Is(err, context.DeadlineExceeded) || genai.ErrorCode(err) == genai.ETIMEOUT {
				t.Errorf("error %v; want the caller's context.DeadlineExceeded", err)
			}
			up.canceled(t)
		})
	}
}

// A slow consumer does not count against the provider: time spent in the loop body is
// not silence of the upstream.
func TestSlowConsumerIsNotSilence(t *testing.T) {
	up := openaiUpstream(t, nil)
	noLeaks(t, up)
	m := genai.WithDeadlines(up.model, genai.Deadlines{FirstEvent: time.Hour, BetweenEvents: 50 * time.Millisecond, Call: time.Hour})
	var sb strings.Builder
	for ev, err := range m.Stream(context.Background(), hi) {
		if err != nil {
			t.Fatalf("error after %q: %v", sb.String(), err)
		}
		sb.WriteString(ev.Text)
		time.Sleep(150 * time.Millisecond) // three times the deadline, at each event
	}
	if sb.String() != "one two three four" {
		t.Errorf("text %q", sb.String())
	}
}
