package telemetry

import (
	"context"
	"iter"
	"testing"
	"time"

	"genai"
	"genai/telemetry/otlptest"
)

// events is an in-process model that streams n text events and a Done: the cheapest
// model there is, so the ratio below is the worst case of tracing's cost.
type events int

func (n events) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		for range int(n) {
			if !yield(genai.Event{Text: "token "}, nil) {
				return
			}
		}
		yield(genai.Event{Done: true, StopReason: "end_turn", Usage: genai.Usage{InputTokens: 10, OutputTokens: int(n)}}, nil)
	}
}

func (n events) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	return &genai.ChatResponse{Text: "x"}, nil
}

// BenchmarkChatTracing measures a 50-event stream through the Chat decorator, exporting
// to an in-process OTLP receiver, against the same stream untraced, in the same run,
// and reports both times per call and their ratio.
func BenchmarkChatTracing(b *testing.B) {
	recv := otlptest.NewServer()
	defer recv.Close()
	tel, err := Setup(context.Background(), func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": recv.Endpoint()}[k]
	}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	req := &genai.ChatRequest{Model: "m", MaxTokens: 100, Messages: []genai.Message{genai.TextMessage(genai.RoleUser, "hi")}}
	stream := func(m genai.ChatModel) time.Duration {
		began := time.Now()
		for _, err := range m.Stream(context.Background(), req) {
			if err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(began)
	}
	untraced, traced := genai.ChatModel(events(50)), tel.Chat(events(50), "aws.bedrock", "m")
	// Alternating the two in one loop gives both the same machine load.
	var off, on time.Duration
	n := 0
	for b.Loop() {
		off += stream(untraced)
		on += stream(traced)
		n++
	}
	b.ReportMetric(float64(off.Nanoseconds())/float64(n), "untraced-ns/call")
	b.ReportMetric(float64(on.Nanoseconds())/float64(n), "traced-ns/call")
	b.ReportMetric(float64(on)/float64(off), "ratio")
}
