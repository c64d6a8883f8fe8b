package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"genai"
	"genai/agent"
)

// instantModel answers at once: a tool call when the last turn is the user's question,
// text when it holds the tool's result. It stands for the model so that the benchmark
// times the loop alone.
type instantModel struct{}

func (instantModel) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		last := req.Messages[len(req.Messages)-1]
		if last.Content[0].Type == genai.BlockToolResult || len(req.Tools) == 0 {
			yield(genai.Event{Text: "done"}, nil)
			yield(genai.Event{Done: true, StopReason: "end_turn"}, nil)
			return
		}
		input := json.RawMessage(`{"q":"x"}`)
		yield(genai.Event{ToolUse: &genai.ToolUseEvent{ID: "t1", Name: "run"}}, nil)
		yield(genai.Event{ToolUse: &genai.ToolUseEvent{InputDelta: string(input)}}, nil)
		yield(genai.Event{ToolUse: &genai.ToolUseEvent{ID: "t1", Name: "run", Done: true, Input: input}}, nil)
		yield(genai.Event{Done: true, StopReason: genai.StopToolUse}, nil)
	}
}

func (instantModel) Chat(context.Context, *genai.ChatRequest) (*genai.ChatResponse, error) {
	return nil, nil
}

// BenchmarkAgentStep prints the loop's own cost per step — everything but the model and
// the tool, both instant here — at p50 and p99, beside iterating the same model
// directly. Run it with
//
//	go test -run '^$' -bench BenchmarkAgentStep -benchtime 1x ./agent
func BenchmarkAgentStep(b *testing.B) {
	const rounds = 20000
	a := &agent.Agent{Model: instantModel{}, Tools: []genai.ToolRunner{runFunc(func() {})}}
	req := ask("go")
	direct := make([]time.Duration, rounds)
	looped := make([]time.Duration, rounds)
	for i := range rounds {
		start := time.Now()
		var m instantModel
		for range m.Stream(context.Background(), req) {
		}
		for range m.Stream(context.Background(), ask("x")) {
		}
		direct[i] = time.Since(start) / 2
		start = time.Now()
		for _, err := range a.Stream(context.Background(), req) {
			if err != nil {
				b.Fatal(err)
			}
		}
		looped[i] = time.Since(start) / 2 // two steps: the call, then the answer
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[int(q*float64(len(s)-1))]
	}
	fmt.Printf("agent step (model and tool instant), %d requests of 2 steps:\n", rounds)
	fmt.Printf("  direct model iteration  p50 %8v  p99 %8v\n", p(direct, .5), p(direct, .99))
	fmt.Printf("  through the agent       p50 %8v  p99 %8v\n", p(looped, .5), p(looped, .99))
	fmt.Printf("  the loop's own cost     p50 %8v  p99 %8v per step (target under 1 ms)\n", p(looped, .5)-p(direct, .5), p(looped, .99)-p(direct, .99))
}
