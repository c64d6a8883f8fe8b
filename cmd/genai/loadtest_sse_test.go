package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3/packages/ssestream"
)

// readEvents reads a text/event-stream answer with the reader "genai loadtest" uses
// (openai-go's ssestream decoder), calling at, when not nil, with each event's name as
// it arrives, and returns the events with their data decoded as JSON objects (nil for
// data that is not one, such as OpenAI's [DONE]). It is the one SSE reader of the
// tests' helpers.
func readEvents(t *testing.T, resp *http.Response, at func(name string)) []sseEvent {
	t.Helper()
	d := ssestream.NewDecoder(resp)
	var out []sseEvent
	for d.Next() {
		ev := sseEvent{Name: d.Event().Type}
		json.Unmarshal(d.Event().Data, &ev.Data)
		out = append(out, ev)
		if at != nil {
			at(ev.Name)
		}
	}
	if err := d.Err(); err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	return out
}

// agentEvents is readEvents as the agent tests' helpers want them.
func agentEvents(t *testing.T, resp *http.Response, at func(name string)) []agentEvent {
	t.Helper()
	var out []agentEvent
	for _, e := range readEvents(t, resp, at) {
		out = append(out, agentEvent{e.Name, e.Data})
	}
	return out
}
