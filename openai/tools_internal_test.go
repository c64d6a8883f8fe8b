package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"genai"
)

// assemble feeds the data lines of a stream through decodeChunk and a toolStream, as
// Stream does, and returns the tool events, or the first error.
func assemble(lines []string) ([]genai.ToolUseEvent, error) {
	t := toolStream{m: &ChatModel{baseURL: "http://test/v1"}}
	var out []genai.ToolUseEvent
	for _, line := range lines {
		chunk, err := decodeChunk([]byte(line))
		if err != nil {
			continue // Stream stops at such a chunk; the assembly is what is fuzzed
		}
		for i := range chunk.choices {
			c := &chunk.choices[i]
			if c.index != 0 {
				continue
			}
			events, err := t.events(c)
			if err != nil {
				return out, err
			}
			out = append(out, events...)
		}
	}
	return out, nil
}

// checkAssembly checks what every assembly must hold whatever the server sent: calls
// start in order with an id and a name, pieces belong to started calls, each call ends
// at most once, after its start, with an input that is a JSON object and that its
// pieces join to.
func checkAssembly(t *testing.T, events []genai.ToolUseEvent) {
	t.Helper()
	type call struct {
		id, name, input string
		done            bool
	}
	var calls []*call
	for _, ev := range events {
		switch {
		case ev.Done:
			if ev.Index >= len(calls) || calls[ev.Index].done {
				t.Fatalf("end of call %d, which did not start or already ended", ev.Index)
			}
			c := calls[ev.Index]
			c.done = true
			if ev.ID != c.id || ev.Name != c.name {
				t.Fatalf("end of call %d names %s %s, its start %s %s", ev.Index, ev.ID, ev.Name, c.id, c.name)
			}
			in := bytes.TrimSpace(ev.Input)
			if len(in) == 0 || in[0] != '{' || !json.Valid(in) {
				t.Fatalf("call %d ended with input %q, not a JSON object", ev.Index, ev.Input)
			}
			if string(ev.Input) != c.input && !(strings.TrimSpace(c.input) == "" && string(ev.Input) == "{}") {
				t.Fatalf("call %d: pieces join to %q, the end has %q", ev.Index, c.input, ev.Input)
			}
		case ev.ID != "" || ev.Name != "":
			if ev.Index != len(calls) || ev.ID == "" || ev.Name == "" {
				t.Fatalf("start %+v after %d calls", ev, len(calls))
			}
			calls = append(calls, &call{id: ev.ID, name: ev.Name})
		default:
			if ev.Index >= len(calls) || calls[ev.Index].done || ev.InputDelta == "" {
				t.Fatalf("piece %+v of a call not open", ev)
			}
			calls[ev.Index].input += ev.InputDelta
		}
	}
}

// streamSeeds are streams of tool calls as servers send them.
var streamSeeds = []string{
	// OpenAI: text, then two calls, each started with id and name and empty arguments.
	`{"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me look."},"finish_reason":null}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": "}}]},"finish_reason":null}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Z\u00fcrich\"}"}}]},"finish_reason":null}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"now","arguments":""}}]},"finish_reason":null}]}
{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	// Ollama: a whole call in one delta, finish_reason in the same chunk.
	`{"choices":[{"index":0,"delta":{"role":"assistant","content":"","tool_calls":[{"index":0,"id":"call_x","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2,{\"b\":null}]}"}}]},"finish_reason":"tool_calls"}]}`,
	// Every call at index 0, each with its own id.
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"1","function":{"name":"f","arguments":"{}"}}]}}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"2","function":{"name":"g","arguments":"{\"x\":1}"}}]}}]}
{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	// Broken: arguments that never close, a piece with no start, a piece after the end.
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{\"a\":"}}]},"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"arguments":"{}"}}]}}]}`,
	`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]},"finish_reason":"tool_calls"}]}
{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`,
}

func TestToolStreamSeeds(t *testing.T) {
	for i, want := range []struct {
		calls int    // calls ended
		err   string // or the error
	}{
		{calls: 2}, {calls: 1}, {calls: 2},
		{err: "not a JSON object"}, {err: "no id or function name"}, {err: "after the answer's finish_reason"},
	} {
		events, err := assemble(strings.Split(streamSeeds[i], "\n"))
		if want.err != "" {
			if genai.ErrorCode(err) != genai.EUPSTREAM || !strings.Contains(genai.ErrorMessage(err), want.err) {
				t.Errorf("seed %d: err = %v, want EUPSTREAM %q", i, err, want.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		checkAssembly(t, events)
		ended := 0
		for _, ev := range events {
			if ev.Done {
				ended++
			}
		}
		if ended != want.calls {
			t.Errorf("seed %d: %d calls ended, want %d: %+v", i, ended, want.calls, events)
		}
	}
	events, _ := assemble(strings.Split(streamSeeds[0], "\n"))
	if last := events[len(events)-2]; string(last.Input) != `{"city": "Zürich"}` {
		t.Errorf("first call's input = %s", last.Input)
	}
}

// FuzzToolStream feeds any chunks to the assembly: it never panics and what it yields
// always holds together (checkAssembly).
func FuzzToolStream(f *testing.F) {
	for _, s := range streamSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stream string) {
		events, _ := assemble(strings.Split(stream, "\n"))
		checkAssembly(t, events)
	})
}

// FuzzToolArguments streams any arguments cut in three pieces, JSON-escaped as a server
// sends them: the pieces come back as sent, and the call ends with them whole when they
// are a JSON object, else with an error.
func FuzzToolArguments(f *testing.F) {
	f.Add(`{"city":"Zürich","n":[1,2.5e3,null]}`, uint8(3), uint8(9))
	f.Add(`{"q":"\u2028 \"quoted\" \\ tab\t"}`, uint8(0), uint8(1))
	f.Add(`{"a":`, uint8(2), uint8(2))
	f.Add(``, uint8(0), uint8(0))
	f.Add(`[1]`, uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, args string, cut1, cut2 uint8) {
		if !utf8.ValidString(args) {
			return // a server's JSON carries text only
		}
		a, b := min(int(cut1), len(args)), min(int(cut2), len(args))
		if a > b {
			a, b = b, a
		}
		// A JSON string holds whole characters: a server cuts between them.
		for a > 0 && a < len(args) && !utf8.RuneStart(args[a]) {
			a--
		}
		for b > a && b < len(args) && !utf8.RuneStart(args[b]) {
			b--
		}
		lines := []string{`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":""}}]}}]}`}
		for _, p := range []string{args[:a], args[a:b], args[b:]} {
			s, _ := json.Marshal(p)
			lines = append(lines, `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":`+string(s)+`}}]}}]}`)
		}
		lines = append(lines, `{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)
		events, err := assemble(lines)
		var joined string
		for _, ev := range events {
			joined += ev.InputDelta
		}
		if !strings.HasPrefix(args, joined) {
			t.Fatalf("pieces join to %q, sent %q", joined, args)
		}
		isObject := strings.TrimSpace(args) == "" || jsonObject([]byte(args))
		if isObject != (err == nil) {
			t.Fatalf("arguments %q: err = %v", args, err)
		}
		if err != nil {
			return
		}
		if joined != args {
			t.Fatalf("pieces join to %q, sent %q", joined, args)
		}
		checkAssembly(t, events)
	})
}
