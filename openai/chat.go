package openai

import (
	"context"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"genai"
)

// Stream sends req to the endpoint's chat completions API with "stream": true and yields
// the answer's text as it arrives, each tool call the model makes as ToolUse events (its
// start with id and name, pieces of its arguments as they arrive, and, when the answer
// ends, its end with the whole input), then one Event with Done set carrying the stop
// reason (genai.StopToolUse after calls) and token usage. A consumer that stops early, or a ctx that ends, closes the HTTP
// request at once.
//
// Errors are *genai.Error values: ETHROTTLED (with RetryAfter) when the endpoint still
// throttles after the retries, EINVALID when it rejects the request, EUPSTREAM when it
// cannot be reached, refuses the API key, fails, or breaks the stream after some text
// has been yielded. When ctx ends, the error wraps ctx's error instead.
func (m *ChatModel) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		// A context of our own, so that returning early — the consumer broke out of the
		// loop — aborts the request, not only closes the body.
		callCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		res, err := m.startStream(ctx, callCtx, req)
		if err != nil {
			yield(genai.Event{}, err)
			return
		}
		defer res.Body.Close()

		r := chunkReader{sse: newSSEReader(res.Body)}
		tools := toolStream{m: m}
		var (
			finish  string
			usage   genai.Usage
			yielded int // bytes of text yielded, for error messages
		)
		// Text deltas that arrived together are yielded as one event, so that a consumer
		// writes (and flushes) once for them; a delta that arrived alone goes at once.
		var text strings.Builder
		flush := func() bool {
			if text.Len() == 0 {
				return true
			}
			yielded += text.Len()
			ok := yield(genai.Event{Text: text.String()}, nil)
			text.Reset()
			return ok
		}
		for {
			chunk, err := r.next()
			if err != nil {
				if !flush() {
					return // the text that came before the error goes first
				}
				if err == errDone || err == io.EOF {
					break
				}
				yield(genai.Event{}, m.streamError(ctx, err, yielded))
				return
			}
			if chunk.usage != nil {
				usage = *chunk.usage
			}
			for i := range chunk.choices {
				choice := &chunk.choices[i]
				if choice.index != 0 {
					continue // we never ask for n > 1
				}
				if choice.finishReason != "" {
					finish = choice.finishReason
				}
				text.WriteString(choice.content)
				if len(choice.toolCalls) == 0 && (choice.finishReason == "" || len(tools.calls) == 0) {
					continue // text only: the path of nearly every chunk
				}
				if !flush() {
					return // the text before a call goes first
				}
				events, err := tools.events(choice)
				if err != nil {
					yield(genai.Event{}, err)
					return
				}
				for i := range events {
					if !yield(genai.Event{ToolUse: &events[i]}, nil) {
						return
					}
				}
			}
			if !r.sse.ready() && !flush() {
				return
			}
		}
		if ctx.Err() != nil {
			yield(genai.Event{}, m.streamError(ctx, ctx.Err(), yielded))
			return
		}
		if finish == "" {
			// The body ended cleanly but the model never said it was done: a proxy or
			// the server gave up without reporting an error.
			yield(genai.Event{}, genai.Errorf(genai.EUPSTREAM, "the stream from %s ended before the answer was complete, after %d bytes of text", m.baseURL, yielded))
			return
		}
		yield(genai.Event{Done: true, StopReason: stopReasonOf(finish, len(tools.calls) > 0), Usage: usage}, nil)
		drain(res.Body, cancel)
	}
}

// drainTimeout and drainLimit bound drain: the end of a body follows its last event at
// once, unless the server misbehaves.
const (
	drainTimeout = time.Second
	drainLimit   = 4 << 10
)

// drain reads the rest of a stream's body after "data: [DONE]", with cancel to call if
// that takes over drainTimeout. Only a body read to its end lets net/http put an
// HTTP/1.1 connection back in the pool (one closed early is closed), and the chunked
// encoding's last chunk often arrives just after the last event.
func drain(body io.Reader, cancel context.CancelFunc) {
	t := time.AfterFunc(drainTimeout, cancel)
	defer t.Stop()
	io.Copy(io.Discard, io.LimitReader(body, drainLimit))
}

// startStream sends req for a streamed answer with callCtx, and returns the response
// whose body streams it; errors are those of Stream, ctx being the caller's. It is a
// function apart so that the request's parameters (over a kilobyte of struct, on the
// stack) are gone from the stack while the answer streams.
func (m *ChatModel) startStream(ctx, callCtx context.Context, req *genai.ChatRequest) (*http.Response, error) {
	params, err := m.params(ctx, req)
	if err != nil {
		return nil, err
	}
	params.StreamOptions = sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)}
	// New with the body taken as it is, rather than NewStreaming: the events are read
	// by our own reader (stream.go). "stream": true is what NewStreaming adds.
	var res *http.Response
	if _, err := m.completions.New(callCtx, params, option.WithJSONSet("stream", true), option.WithResponseBodyInto(&res)); err != nil {
		return nil, m.callError(ctx, "stream", err, res)
	}
	return res, nil
}

// Chat sends req to the endpoint's chat completions API and returns the whole answer.
// Errors are as for Stream.
func (m *ChatModel) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	params, err := m.params(ctx, req)
	if err != nil {
		return nil, err
	}
	var res *http.Response
	completion, err := m.completions.New(ctx, params, option.WithResponseInto(&res))
	if err != nil {
		return nil, m.callError(ctx, "chat", err, res)
	}
	if len(completion.Choices) == 0 {
		return nil, genai.Errorf(genai.EUPSTREAM, "the answer from %s has no choices", m.baseURL)
	}
	choice := completion.Choices[0]
	model := completion.Model
	if model == "" {
		model = string(params.Model)
	}
	content, err := m.answerContent(&choice.Message, choice.FinishReason)
	if err != nil {
		return nil, err
	}
	return &genai.ChatResponse{
		Model:      model,
		Text:       choice.Message.Content,
		Content:    content,
		StopReason: stopReasonOf(choice.FinishReason, len(choice.Message.ToolCalls) > 0),
		Usage:      genai.Usage{InputTokens: int(completion.Usage.PromptTokens), OutputTokens: int(completion.Usage.CompletionTokens)},
	}, nil
}

// params translates req into a chat completions request. It validates req first, since
// a caller other than the HTTP layer may not have.
func (m *ChatModel) params(ctx context.Context, req *genai.ChatRequest) (sdk.ChatCompletionNewParams, error) {
	if m.configErr != nil {
		return sdk.ChatCompletionNewParams{}, m.configErr
	}
	if err := req.Validate(); err != nil {
		return sdk.ChatCompletionNewParams{}, err
	}
	if err := validateToolTurns(req.Messages); err != nil {
		return sdk.ChatCompletionNewParams{}, err
	}
	if req.ThinkingBudget > 0 { // Chat Completions has no thinking budget
		return sdk.ChatCompletionNewParams{}, genai.Errorf(genai.EINVALID, "thinking: a thinking budget is not supported by the OpenAI-compatible provider; remove it")
	}
	p := sdk.ChatCompletionNewParams{Model: req.Model}
	if p.Model == "" {
		p.Model = m.defaultModel
	}
	if p.Model == "" {
		return p, genai.Errorf(genai.EINVALID, "model: required, as no default model is configured")
	}
	if req.System != "" {
		p.Messages = append(p.Messages, sdk.SystemMessage(req.System))
	}
	msgs, err := m.documentsAsText(ctx, req.Messages)
	if err != nil {
		return p, err
	}
	for _, msg := range msgs {
		switch msg.Role {
		case genai.RoleAssistant:
			p.Messages = append(p.Messages, assistantMessage(msg))
		default:
			p.Messages = append(p.Messages, userMessages(msg)...)
		}
	}
	if err := toolParams(req, &p); err != nil {
		return p, err
	}
	if req.ResponseFormat != nil {
		p.ResponseFormat = responseFormat(req.ResponseFormat)
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = m.defaultMaxTokens
	}
	if maxTokens > 0 {
		// max_tokens, not max_completion_tokens: Ollama, llama.cpp's server and older
		// vLLM know only max_tokens, and OpenAI still honours it for all but its
		// reasoning models, which reject it with a 400 that we report as EINVALID.
		p.MaxTokens = sdk.Int(int64(maxTokens))
	}
	if req.Temperature != nil {
		p.Temperature = sdk.Float(*req.Temperature)
	}
	if req.TopP != nil {
		p.TopP = sdk.Float(*req.TopP)
	}
	if len(req.StopSequences) > 0 {
		p.Stop = sdk.ChatCompletionNewParamsStopUnion{OfStringArray: req.StopSequences}
	}
	return p, nil
}
