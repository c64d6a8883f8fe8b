// Package agent is the tool loop of genai: a model, the tools the server runs itself
// (genai.ToolRunner: the knowledge base, the notes, an MCP server's tools) and a step
// limit. The model decides when to call a tool; the loop runs each call, streams the
// call and its result as events, feeds the result back and continues until the model
// ends its turn.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"genai"
)

// Defaults of Agent.
const (
	DefaultMaxSteps    = 8
	DefaultToolTimeout = time.Minute
)

// StopMaxSteps is the stop reason of an answer cut at the step limit while the model
// still wanted to call tools.
const StopMaxSteps = "max_steps"

// Agent is a genai.ChatModel that runs its tools itself. A call to a tool it does not
// have (one the client offered) ends the turn with stop reason tool_use, as any
// function-calling API does: the client runs it and sends the result. It is safe for
// concurrent use.
type Agent struct {
	// Model answers each step; required.
	Model genai.ChatModel
	// Tools are the tools the agent runs, offered to the model beside the request's own.
	Tools []genai.ToolRunner
	// MaxSteps bounds the model calls of one request (default DefaultMaxSteps).
	MaxSteps int
	// ToolTimeout bounds one tool call (default DefaultToolTimeout).
	ToolTimeout time.Duration
}

var _ genai.ChatModel = (*Agent)(nil)

// offer returns req with the agent's tools added to the client's, refusing a name both
// use, and the agent's tools by name.
func (a *Agent) offer(req *genai.ChatRequest) (*genai.ChatRequest, map[string]genai.ToolRunner, error) {
	r := *req
	r.Tools = slices.Clone(req.Tools)
	r.ServerTools = nil
	byName := make(map[string]genai.ToolRunner, len(a.Tools))
	for _, t := range a.Tools {
		spec := t.Tool()
		if slices.ContainsFunc(req.Tools, func(c genai.Tool) bool { return c.Name == spec.Name }) {
			return nil, nil, genai.Errorf(genai.EINVALID, "tools: %q is the name of a server tool; rename the client's tool", spec.Name)
		}
		byName[spec.Name] = t
		r.Tools = append(r.Tools, spec)
	}
	return &r, byName, nil
}

// Stream answers req, running the agent's tools as the model calls them. It yields the
// model's events (text, tool calls, citations), a ToolResult event for each call the
// agent ran (with the citations of its sources), and one Done event at the end, whose
// usage is the sum of every step's. Tool calls are numbered across steps. A tool's
// failure goes back to the model as an error result; the model's failure, or ctx's end,
// is the sequence's error, and cancels the step under way.
func (a *Agent) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		r, byName, err := a.offer(req)
		if err != nil {
			yield(genai.Event{}, err)
			return
		}
		maxSteps := a.MaxSteps
		if maxSteps <= 0 {
			maxSteps = DefaultMaxSteps
		}
		var usage genai.Usage
		numbered := 0 // tool calls of earlier steps
		for step := 1; ; step++ {
			s, ok := a.step(ctx, r, numbered, yield)
			if !ok {
				return
			}
			usage.InputTokens += s.done.Usage.InputTokens
			usage.OutputTokens += s.done.Usage.OutputTokens
			usage.CacheReadTokens += s.done.Usage.CacheReadTokens
			usage.CacheWriteTokens += s.done.Usage.CacheWriteTokens
			numbered += len(s.calls)
			done := s.done
			done.Usage = usage
			if done.StopReason != genai.StopToolUse || len(s.calls) == 0 {
				yield(done, nil)
				return
			}
			results, clientCalls := a.run(ctx, s.calls, byName)
			for i := range results {
				ev := genai.Event{ToolResult: &results[i].result, Citations: results[i].citations}
				if !yield(ev, nil) {
					return
				}
			}
			if ctx.Err() != nil {
				yield(genai.Event{}, ctx.Err())
				return
			}
			if clientCalls {
				yield(done, nil) // the client runs its tools and sends every result back
				return
			}
			if step == maxSteps {
				done.StopReason = StopMaxSteps
				yield(done, nil)
				return
			}
			r.Messages = append(slices.Clip(r.Messages), s.message(), resultsMessage(results))
		}
	}
}

// stepOutcome is what one model call gave: its text and calls, in order, and its end.
type stepOutcome struct {
	content []genai.ContentBlock
	calls   []genai.ToolUse
	done    genai.Event
}

// message is the assistant turn of the step, for the next step's conversation.
func (s *stepOutcome) message() genai.Message {
	return genai.Message{Role: genai.RoleAssistant, Content: s.content}
}

// step runs one model call, yielding its events but its end, with its tool calls
// numbered from first. It reports false when the sequence must stop (the consumer
// stopped, or an error was yielded).
func (a *Agent) step(ctx context.Context, r *genai.ChatRequest, first int, yield func(genai.Event, error) bool) (*stepOutcome, bool) {
	s := &stepOutcome{}
	var text strings.Builder
	flushText := func() {
		if strings.TrimSpace(text.String()) != "" {
			s.content = append(s.content, genai.ContentBlock{Type: genai.BlockText, Text: text.String()})
		}
		text.Reset()
	}
	for ev, err := range a.Model.Stream(ctx, r) {
		if err != nil {
			yield(genai.Event{}, err)
			return nil, false
		}
		if ev.Done {
			flushText()
			s.done = ev
			return s, true
		}
		if ev.Thinking != nil {
			// The step's thinking goes back with its calls, as Claude needs it to.
			flushText()
			s.content = genai.AppendThinking(s.content, ev.Thinking)
		}
		text.WriteString(ev.Text)
		if t := ev.ToolUse; t != nil {
			tu := *t
			tu.Index += first
			ev.ToolUse = &tu
			if t.Done {
				flushText()
				call := genai.ToolUse{ID: t.ID, Name: t.Name, Input: t.Input}
				s.calls = append(s.calls, call)
				s.content = append(s.content, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &call})
			}
		}
		if !yield(ev, nil) {
			return nil, false
		}
	}
	yield(genai.Event{}, genai.Errorf(genai.EUPSTREAM, "the model's stream ended without a stop event"))
	return nil, false
}

// ran is the outcome of one tool call.
type ran struct {
	result    genai.ToolResult
	citations []genai.Citation
}

// run runs the calls of the agent's own tools, one after another, each under
// ToolTimeout, and reports whether any call was to a tool the agent does not have.
func (a *Agent) run(ctx context.Context, calls []genai.ToolUse, byName map[string]genai.ToolRunner) ([]ran, bool) {
	timeout := a.ToolTimeout
	if timeout <= 0 {
		timeout = DefaultToolTimeout
	}
	var out []ran
	client := false
	for _, c := range calls {
		t, ok := byName[c.Name]
		if !ok {
			client = true
			continue
		}
		if ctx.Err() != nil {
			break
		}
		out = append(out, runOne(ctx, t, c, timeout))
	}
	return out, client
}

// runOne runs one call; a failure, a panic or a timeout is an error result.
func runOne(ctx context.Context, t genai.ToolRunner, c genai.ToolUse, timeout time.Duration) (r ran) {
	r.result.ToolUseID = c.ID
	ctx, cancel := context.WithTimeout(genai.WithToolCallID(ctx, c.ID), timeout)
	defer cancel()
	fail := func(msg string) {
		r.result.IsError = true
		r.result.Content = []genai.ContentBlock{{Type: genai.BlockText, Text: msg}}
		r.citations = nil
	}
	defer func() {
		if v := recover(); v != nil {
			fail(fmt.Sprintf("the tool %s failed", c.Name))
		}
	}()
	input := c.Input
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	out, err := t.Run(ctx, input)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (err != nil && ctx.Err() == context.DeadlineExceeded):
		fail(fmt.Sprintf("the tool %s did not finish within %s", c.Name, timeout))
	case err != nil:
		fail(genai.ErrorMessage(err))
	case out == nil || len(out.Content) == 0:
		r.result.Content = []genai.ContentBlock{{Type: genai.BlockText, Text: "(no result)"}}
	default:
		r.result.Content, r.citations, r.result.IsError = out.Content, out.Citations, out.IsError
	}
	return r
}

// resultsMessage is the user turn that gives the model the results of its calls.
func resultsMessage(results []ran) genai.Message {
	m := genai.Message{Role: genai.RoleUser}
	for i := range results {
		res := results[i].result
		m.Content = append(m.Content, genai.ContentBlock{Type: genai.BlockToolResult, ToolResult: &res})
	}
	return m
}

// Chat answers req as Stream does and returns the last step's answer: its text and any
// tool calls left to the client, with the usage of every step.
func (a *Agent) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	resp := &genai.ChatResponse{Model: req.Model}
	var text strings.Builder
	for ev, err := range a.Stream(ctx, req) {
		if err != nil {
			return nil, err
		}
		switch {
		case ev.Done:
			if text.Len() > 0 {
				resp.Content = append(resp.Content, genai.ContentBlock{Type: genai.BlockText, Text: text.String()})
			}
			resp.Text, resp.StopReason, resp.Usage = joinText(resp.Content), ev.StopReason, ev.Usage
			return resp, nil
		case ev.ToolResult != nil:
			// A step's tools ran: what came before belongs to that step.
			resp.Content, text = nil, strings.Builder{}
		case ev.Thinking != nil:
			if text.Len() > 0 {
				resp.Content = append(resp.Content, genai.ContentBlock{Type: genai.BlockText, Text: text.String()})
				text.Reset()
			}
			resp.Content = genai.AppendThinking(resp.Content, ev.Thinking)
		case ev.ToolUse != nil && ev.ToolUse.Done:
			if text.Len() > 0 {
				resp.Content = append(resp.Content, genai.ContentBlock{Type: genai.BlockText, Text: text.String()})
				text.Reset()
			}
			call := genai.ToolUse{ID: ev.ToolUse.ID, Name: ev.ToolUse.Name, Input: ev.ToolUse.Input}
			resp.Content = append(resp.Content, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &call})
		default:
			text.WriteString(ev.Text)
		}
	}
	return nil, genai.Errorf(genai.EUPSTREAM, "the agent's stream ended without a stop event")
}

func joinText(blocks []genai.ContentBlock) string {
	var b strings.Builder
	for _, c := range blocks {
		if c.Type == genai.BlockText {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// RunTool runs one call of t with input as the loop does: under timeout, with a failure,
// a panic or a timeout turned into an error result whose text is safe to show. Every
// surface that runs server tools (the loop, the MCP server) reports them alike through it.
func RunTool(ctx context.Context, t genai.ToolRunner, input json.RawMessage, timeout time.Duration) (genai.ToolResult, []genai.Citation) {
	if timeout <= 0 {
		timeout = DefaultToolTimeout
	}
	r := runOne(ctx, t, genai.ToolUse{Name: t.Tool().Name, Input: input}, timeout)
	return r.result, r.citations
}
