package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"genai"
)

// Provider returns the gen_ai.provider.name of one of genai's provider names: aws.bedrock
// for "bedrock", openai for "openai", the name itself otherwise.
func Provider(name string) string {
	switch name {
	case "bedrock":
		return "aws.bedrock"
	case "openai":
		return "openai"
	}
	return name
}

// Chat returns m recording each call in a client span "chat MODEL" with the GenAI
// semantic conventions: the request's model, max tokens, temperature and top_p, the
// response's model, finish reason and token usage (cache reads and writes included),
// and for a stream the time to its first event as gen_ai.response.time_to_first_chunk,
// in seconds. provider is a gen_ai.provider.name (see Provider); defaultModel is the
// model of a request that names none. A stream's span ends when the stream does. With
// t off, Chat returns m.
func (t *Telemetry) Chat(m genai.ChatModel, provider, defaultModel string) genai.ChatModel {
	if !t.Enabled() || m == nil {
		return m
	}
	return &chatModel{t: t, next: m, provider: provider, model: defaultModel}
}

type chatModel struct {
	t        *Telemetry
	next     genai.ChatModel
	provider string
	model    string
}

// start opens the span of one call of req.
func (c *chatModel) start(ctx context.Context, req *genai.ChatRequest, stream bool) (context.Context, trace.Span, string) {
	model := req.Model
	if model == "" {
		model = c.model
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		semconv.GenAIProviderNameKey.String(c.provider),
		semconv.GenAIRequestModel(model),
		semconv.GenAIRequestStream(stream),
	}
	if req.MaxTokens > 0 {
		attrs = append(attrs, semconv.GenAIRequestMaxTokens(req.MaxTokens))
	}
	if req.Temperature != nil {
		attrs = append(attrs, semconv.GenAIRequestTemperature(*req.Temperature))
	}
	if req.TopP != nil {
		attrs = append(attrs, semconv.GenAIRequestTopP(*req.TopP))
	}
	if len(req.StopSequences) > 0 {
		attrs = append(attrs, semconv.GenAIRequestStopSequences(req.StopSequences...))
	}
	if c.t.capture {
		attrs = append(attrs, semconv.GenAIInputMessagesKey.String(inputMessages(req.Messages)))
		if req.System != "" {
			attrs = append(attrs, semconv.GenAISystemInstructionsKey.String(jsonString([]part{{Type: "text", Content: req.System}})))
		}
	}
	ctx, span := c.t.tracer.Start(ctx, "chat "+model, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, span, model
}

// end records the outcome of a call on span.
func (c *chatModel) end(span trace.Span, model, stop string, usage genai.Usage, content []genai.ContentBlock) {
	attrs := []attribute.KeyValue{
		semconv.GenAIResponseModel(model),
		semconv.GenAIUsageInputTokens(usage.InputTokens),
		semconv.GenAIUsageOutputTokens(usage.OutputTokens),
	}
	if stop != "" {
		attrs = append(attrs, semconv.GenAIResponseFinishReasons(stop))
	}
	if usage.CacheReadTokens > 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheReadInputTokens(usage.CacheReadTokens))
	}
	if usage.CacheWriteTokens > 0 {
		attrs = append(attrs, semconv.GenAIUsageCacheCreationInputTokens(usage.CacheWriteTokens))
	}
	if c.t.capture {
		attrs = append(attrs, semconv.GenAIOutputMessagesKey.String(jsonString([]message{{Role: "assistant", Parts: parts(content), FinishReason: stop}})))
	}
	span.SetAttributes(attrs...)
}

// Stream implements genai.ChatModel.
func (c *chatModel) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		ctx, span, model := c.start(ctx, req, true)
		defer span.End()
		began := time.Now()
		first := true
		var out answer // only filled when content is captured
		for ev, err := range c.next.Stream(ctx, req) {
			if err != nil {
				fail(span, err)
				yield(ev, err)
				return
			}
			if first {
				first = false
				span.SetAttributes(semconv.GenAIResponseTimeToFirstChunk(time.Since(began).Seconds()))
			}
			if c.t.capture {
				out.add(ev)
			}
			if ev.Done {
				c.end(span, model, ev.StopReason, ev.Usage, out.content())
			}
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// Chat implements genai.ChatModel.
func (c *chatModel) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	ctx, span, model := c.start(ctx, req, false)
	defer span.End()
	resp, err := c.next.Chat(ctx, req)
	if err != nil {
		fail(span, err)
		return nil, err
	}
	if resp.Model != "" {
		model = resp.Model
	}
	c.end(span, model, resp.StopReason, resp.Usage, resp.Content)
	return resp, nil
}

// fail marks span failed with error.type the error's code (such as throttled or
// upstream_error), so a trace backend groups failures as the API does.
func fail(span trace.Span, err error) {
	code := genai.ErrorCode(err)
	switch {
	case errors.Is(err, context.Canceled):
		code = "canceled" // the client went away: not a failure of the call
	case errors.Is(err, context.DeadlineExceeded):
		code = genai.ETIMEOUT
	}
	span.SetAttributes(semconv.ErrorTypeKey.String(code))
	span.SetStatus(codes.Error, genai.ErrorMessage(err))
}

// message and part are the shapes of gen_ai.input.messages and gen_ai.output.messages
// in the GenAI semantic conventions.
type message struct {
	Role         string `json:"role"`
	Parts        []part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

type part struct {
	Type      string          `json:"type"`
	Content   string          `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Response  string          `json:"response,omitempty"`
}

func inputMessages(msgs []genai.Message) string {
	out := make([]message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, message{Role: string(m.Role), Parts: parts(m.Content)})
	}
	return jsonString(out)
}

// parts are the text, tool calls and tool results of blocks; images and documents are
// named by their kind only, never their bytes.
func parts(blocks []genai.ContentBlock) []part {
	out := make([]part, 0, len(blocks))
	for _, b := range blocks {
		switch {
		case b.Type == genai.BlockText:
			out = append(out, part{Type: "text", Content: b.Text})
		case b.ToolUse != nil:
			out = append(out, part{Type: "tool_call", ID: b.ToolUse.ID, Name: b.ToolUse.Name, Arguments: b.ToolUse.Input})
		case b.ToolResult != nil:
			out = append(out, part{Type: "tool_call_response", ID: b.ToolResult.ToolUseID, Response: textOf(b.ToolResult.Content)})
		default:
			out = append(out, part{Type: string(b.Type)})
		}
	}
	return out
}

func textOf(blocks []genai.ContentBlock) string {
	var s string
	for _, b := range blocks {
		if b.Type == genai.BlockText {
			s += b.Text
		}
	}
	return s
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// answer gathers a streamed answer's text and finished tool calls.
type answer struct {
	text  []byte
	tools []genai.ContentBlock
}

func (a *answer) add(ev genai.Event) {
	a.text = append(a.text, ev.Text...)
	if tu := ev.ToolUse; tu != nil && tu.Done {
		a.tools = append(a.tools, genai.ContentBlock{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: tu.ID, Name: tu.Name, Input: tu.Input}})
	}
}

func (a *answer) content() []genai.ContentBlock {
	var out []genai.ContentBlock
	if len(a.text) > 0 {
		out = append(out, genai.ContentBlock{Type: genai.BlockText, Text: string(a.text)})
	}
	return append(out, a.tools...)
}
