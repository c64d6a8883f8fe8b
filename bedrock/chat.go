package bedrock

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/schemas"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/transport/http/protocol/restjson1"

	"genai"
)

var _ genai.ChatModel = (*ChatModel)(nil)

// Stream asks Bedrock's ConverseStream for an answer and yields its text as it arrives,
// one Event per text delta, and each tool call as Events with ToolUse set (its start,
// input pieces and end), then one Event with Done, the stop reason and the token usage. A failure yields one error and ends the sequence: a *genai.Error (ETHROTTLED,
// EINVALID, EUPSTREAM…), or the context's error, wrapped, when ctx ends first. A consumer
// that stops iterating, or a cancelled ctx, closes the stream and cancels the request.
func (m *ChatModel) Stream(ctx context.Context, req *genai.ChatRequest) iter.Seq2[genai.Event, error] {
	return func(yield func(genai.Event, error) bool) {
		c, err := m.converse(req)
		if err != nil {
			yield(genai.Event{}, err)
			return
		}
		model := *c.ModelId
		// Our own cancel, so that returning for any reason (the consumer stopped, an
		// error) ends the HTTP request at once rather than when the caller's ctx ends.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ctx = withRequestContext(ctx)
		taker := &bodyTaker{}
		out, err := m.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
			ModelId:         c.ModelId,
			Messages:        c.Messages,
			System:          c.System,
			InferenceConfig: c.InferenceConfig,
			ToolConfig:      c.ToolConfig,
			OutputConfig:    c.OutputConfig,

			AdditionalModelRequestFields: c.AdditionalModelRequestFields,
			GuardrailConfig:              m.opts.Guardrail.streamConfig(),
		}, taker.register, ownProtocol)
		if err != nil {
			yield(genai.Event{}, toolChoiceError(req, model, upstreamError(ctx, "ConverseStream", "model "+model, err)))
			return
		}
		out.GetStream().Close() // it was handed an empty body; the events are read below
		if taker.body == nil {
			yield(genai.Event{}, genai.Errorf(genai.EUPSTREAM, "Bedrock ConverseStream for model %s: no response stream", model))
			return
		}
		defer taker.body.Close()

		r := newEventReader(taker.body)
		done := genai.Event{Done: true}
		stopped := false
		// Text deltas that arrived together are yielded as one event, so a consumer
		// writes (and flushes) once for them; a delta that arrived alone goes at once.
		var text strings.Builder
		tools := toolStream{model: model}
		// With a forced format tool, the tool's input is the answer's text, and text
		// beside it (which a forced model does not write) is not part of the JSON.
		forced, called := formatTool(req, model), false
		for {
			ev, err := r.next()
			if err != nil && text.Len() > 0 && !yield(genai.Event{Text: text.String()}, nil) {
				return // the text that came before the error goes first
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				yield(genai.Event{}, upstreamError(ctx, "ConverseStream", "model "+model, err))
				return
			}
			if rc := ev.Delta.ReasoningContent; ev.kind == "contentBlockDelta" && rc != nil {
				if text.Len() > 0 {
					if !yield(genai.Event{Text: text.String()}, nil) {
						return
					}
					text.Reset()
				}
				th := &genai.ThinkingEvent{Text: rc.Text, Signature: rc.Signature, Redacted: rc.RedactedContent}
				if !yield(genai.Event{Thinking: th}, nil) {
					return
				}
				continue
			}
			if ev.kind == "contentBlockDelta" && ev.Delta.ToolUse == nil {
				if forced != "" {
					continue
				}
				text.WriteString(ev.Delta.Text)
				if r.ready() || text.Len() == 0 {
					continue
				}
			}
			if text.Len() > 0 {
				if !yield(genai.Event{Text: text.String()}, nil) {
					return
				}
				text.Reset()
			}
			call, err := tools.event(ev)
			if err != nil {
				yield(genai.Event{}, err)
				return
			}
			if call != nil && forced != "" {
				if call.Name == forced {
					called = true
				}
				if call.InputDelta != "" && !yield(genai.Event{Text: call.InputDelta}, nil) {
					return
				}
				call = nil
			}
			if call != nil && !yield(genai.Event{ToolUse: call}, nil) {
				return
			}
			switch ev.kind {
			case "messageStop":
				done.StopReason = ev.StopReason
				stopped = true
			case "metadata":
				if done.StopReason == genai.StopGuardrail && len(ev.Trace) > 0 {
					logIntervention(ctx, model, ev.Trace)
				}
				done.Usage = genai.Usage{InputTokens: ev.Usage.InputTokens, OutputTokens: ev.Usage.OutputTokens,
					CacheReadTokens: ev.Usage.CacheReadInputTokens, CacheWriteTokens: ev.Usage.CacheWriteInputTokens}
			}
		}
		// A connection cut between frames reads as a clean end, so an answer without
		// messageStop is an error too.
		switch {
		case ctx.Err() != nil:
			yield(genai.Event{}, upstreamError(ctx, "ConverseStream", "model "+model, ctx.Err()))
		case !stopped:
			yield(genai.Event{}, genai.Errorf(genai.EUPSTREAM, "Bedrock model %s: the stream ended before the answer was complete", model))
		case tools.unfinished() != nil:
			yield(genai.Event{}, tools.unfinished())
		case forced != "" && !called:
			yield(genai.Event{}, genai.Errorf(genai.EBADANSWER, "the model did not answer in the requested JSON format (it did not call the tool %q that makes it)", forced))
		case forced != "" && done.StopReason == string(types.StopReasonToolUse):
			done.StopReason = string(types.StopReasonEndTurn)
			yield(done, nil)
		default:
			yield(done, nil)
		}
	}
}

// ownProtocol gives a ConverseStream call a protocol instance of its own. smithy-go's
// event-stream codec keeps decoding state in the protocol, which the client shares
// between calls, so concurrent streams on one client race on it (caught by -race) even
// when, as here, the SDK's reader only meets the end of an empty body.
func ownProtocol(o *bedrockruntime.Options) {
	o.Protocol = restjson1.New(schemas.AmazonBedrockFrontendService)
}

// Chat asks Bedrock's Converse for a whole answer. Errors are as for Stream.
func (m *ChatModel) Chat(ctx context.Context, req *genai.ChatRequest) (*genai.ChatResponse, error) {
	c, err := m.converse(req)
	if err != nil {
		return nil, err
	}
	out, err := m.client.Converse(ctx, c)
	if err != nil {
		return nil, toolChoiceError(req, *c.ModelId, upstreamError(ctx, "Converse", "model "+*c.ModelId, err))
	}
	resp := &genai.ChatResponse{
		Model:      *c.ModelId,
		StopReason: string(out.StopReason),
		Usage:      usage(out.Usage),
	}
	if msg, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		if resp.Content, resp.Text, err = answerContent(*c.ModelId, msg.Value.Content); err != nil {
			return nil, err
		}
	}
	if resp.StopReason == genai.StopGuardrail && out.Trace != nil {
		logIntervention(ctx, *c.ModelId, out.Trace)
	}
	if name := formatTool(req, *c.ModelId); name != "" {
		if err := formatAnswer(resp, name); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// converse translates a chat request to Bedrock's Converse input, filling in the
// configured defaults. The same fields make a ConverseStream input.
func (m *ChatModel) converse(req *genai.ChatRequest) (*bedrockruntime.ConverseInput, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	if err := validateDocuments(req); err != nil {
		return nil, err
	}
	model := req.Model
	if model == "" {
		model = m.opts.DefaultModel
	}
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = m.opts.DefaultMaxTokens
	}
	in := &bedrockruntime.ConverseInput{
		ModelId:  aws.String(model),
		Messages: make([]types.Message, len(req.Messages)),
		InferenceConfig: &types.InferenceConfiguration{
			MaxTokens:     aws.Int32(int32(maxTokens)),
			StopSequences: req.StopSequences,
		},
	}
	if req.Temperature != nil {
		in.InferenceConfig.Temperature = aws.Float32(float32(*req.Temperature))
	}
	if req.TopP != nil {
		in.InferenceConfig.TopP = aws.Float32(float32(*req.TopP))
	}
	if req.System != "" {
		in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: req.System}}
	}
	documents := 0
	for i, msg := range req.Messages {
		blocks := make([]types.ContentBlock, len(msg.Content))
		for j, b := range msg.Content {
			switch b.Type {
			case genai.BlockText:
				blocks[j] = &types.ContentBlockMemberText{Value: b.Text}
			case genai.BlockThinking:
				blocks[j] = thinkingBlock(b.Thinking)
			case genai.BlockToolUse, genai.BlockToolResult:
				var err error
				if blocks[j], err = toolBlock(b, fmt.Sprintf("messages[%d].content[%d]", i, j)); err != nil {
					return nil, err
				}
			case genai.BlockDocument:
				documents++
				blocks[j] = documentBlock(b.Document, documents)
			case genai.BlockImage:
				format, ok := imageFormats[b.Image.Format]
				if !ok {
					return nil, genai.Errorf(genai.EMEDIATYPE, "messages[%d].content[%d]: image format %q is not png, jpeg, gif or webp", i, j, b.Image.Format)
				}
				blocks[j] = &types.ContentBlockMemberImage{Value: types.ImageBlock{
					Format: format,
					Source: &types.ImageSourceMemberBytes{Value: b.Image.Data},
				}}
			}
		}
		in.Messages[i] = types.Message{Role: types.ConversationRole(msg.Role), Content: blocks}
	}
	var err error
	if in.ToolConfig, err = toolConfig(req, structuredOutputs(model)); err != nil {
		return nil, err
	}
	if err := applyFormat(req, in); err != nil {
		return nil, err
	}
	req, maxTokens = withDefaultThinking(req, model, m.opts.DefaultThinkingBudget, maxTokens)
	in.InferenceConfig.MaxTokens = aws.Int32(int32(maxTokens))
	if err := validateThinking(req, maxTokens); err != nil {
		return nil, err
	}
	applyThinking(req, in)
	applyCache(req, in)
	in.GuardrailConfig = m.opts.Guardrail.config()
	return in, nil
}

var imageFormats = map[string]types.ImageFormat{
	"png":  types.ImageFormatPng,
	"jpeg": types.ImageFormatJpeg,
	"jpg":  types.ImageFormatJpeg,
	"gif":  types.ImageFormatGif,
	"webp": types.ImageFormatWebp,
}

func usage(u *types.TokenUsage) genai.Usage {
	if u == nil {
		return genai.Usage{}
	}
	return genai.Usage{
		InputTokens:      int(aws.ToInt32(u.InputTokens)),
		OutputTokens:     int(aws.ToInt32(u.OutputTokens)),
		CacheReadTokens:  int(aws.ToInt32(u.CacheReadInputTokens)),
		CacheWriteTokens: int(aws.ToInt32(u.CacheWriteInputTokens)),
	}
}

// Ping checks that Bedrock Runtime answers this client, without running a model: it
// sends Converse an empty conversation for the default model, which Bedrock refuses
// with a ValidationException once it has checked the request's signature and
// permissions. That refusal, or throttling (Bedrock answered; a busy account is not
// this server's fault), is success. Anything else — no connection, no answer before
// ctx ends, refused credentials, a server error — is returned, mapped as for Chat. It
// makes one attempt, no retries: a caller polls it.
func (m *ChatModel) Ping(ctx context.Context) error {
	model := m.opts.DefaultModel
	_, err := m.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model)},
		func(o *bedrockruntime.Options) { o.Retryer = aws.NopRetryer{} })
	if err == nil {
		return nil
	}
	mapped := upstreamError(ctx, "Converse", "model "+model, err)
	switch genai.ErrorCode(mapped) {
	case genai.EINVALID, genai.ETHROTTLED:
		return nil
	}
	return mapped
}
