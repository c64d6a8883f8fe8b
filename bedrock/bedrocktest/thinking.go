package bedrocktest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Extended thinking, as Claude on Converse does it: additionalModelRequestFields
// {"thinking":{"type":"enabled","budget_tokens":N}} turns it on; the answer starts with a
// reasoningContent block (its text streamed as reasoningContent deltas, then its
// signature), which the client must send back unchanged in later turns — above all in
// the assistant turn of a tool call whose result it sends. Claude's rules are checked as
// Bedrock does: a budget of at least 1024 tokens, below maxTokens; temperature 1 or
// unset; no tool choice that forces a call; a thinking model; signatures intact.

// ThinkingModels are parts of the model ids that take extended thinking.
var ThinkingModels = []string{"claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4-5"}

// ReasoningContentBlock is a reasoningContent block of a Message or an answer.
type ReasoningContentBlock struct {
	ReasoningText *struct {
		Text      string `json:"text"`
		Signature string `json:"signature,omitempty"`
	} `json:"reasoningText,omitempty"`
	RedactedContent []byte `json:"redactedContent,omitempty"`
}

// Reasoning is the thinking a Reply starts with: Text and its Signature, or Redacted
// (encrypted) content.
type Reasoning struct {
	Text      string
	Signature string
	Redacted  []byte
}

// Signature returns the signature this server gives a thinking text, so that a test can
// tell a signature sent back intact from one that was changed or lost.
func Signature(text string) string {
	sum := sha256.Sum256([]byte("bedrocktest thinking:" + text))
	return "sig_" + hex.EncodeToString(sum[:16])
}

// thinkingConfig is the request's thinking setting, from additionalModelRequestFields.
type thinkingConfig struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens"`
}

// thinking returns the request's thinking setting, or nil when it is off.
func (r *Request) thinking() *thinkingConfig {
	var fields struct {
		Thinking *thinkingConfig `json:"thinking"`
	}
	json.Unmarshal(r.AdditionalModelRequestFields, &fields)
	if fields.Thinking == nil || fields.Thinking.Type != "enabled" {
		return nil
	}
	return fields.Thinking
}

// Thinking reports the request's thinking budget, 0 when thinking is off.
func (r *Request) Thinking() int {
	if t := r.thinking(); t != nil {
		return t.BudgetTokens
	}
	return 0
}

// Betas returns the request's anthropic_beta flags.
func (r *Request) Betas() []string {
	var fields struct {
		Betas []string `json:"anthropic_beta"`
	}
	json.Unmarshal(r.AdditionalModelRequestFields, &fields)
	return fields.Betas
}

func validateThinking(req *Request) string {
	for i, m := range req.Messages {
		for j, b := range m.Content {
			rc := b.ReasoningContent
			if rc == nil {
				continue
			}
			if m.Role != "assistant" {
				return fmt.Sprintf("messages.%d.content.%d: reasoningContent is only allowed in assistant messages", i, j)
			}
			if rc.ReasoningText != nil && rc.ReasoningText.Signature != Signature(rc.ReasoningText.Text) {
				return fmt.Sprintf("messages.%d.content.%d.reasoningContent.reasoningText.signature: Invalid `signature` in `thinking` block", i, j)
			}
		}
	}
	t := req.thinking()
	if t == nil {
		return ""
	}
	thinks := false
	for _, f := range ThinkingModels {
		thinks = thinks || strings.Contains(req.ModelID, f)
	}
	switch {
	case !thinks:
		return "The model returned the following errors: thinking: Extra inputs are not permitted"
	case t.BudgetTokens < 1024:
		return "The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
	case req.InferenceConfig == nil || req.InferenceConfig.MaxTokens == nil || *req.InferenceConfig.MaxTokens <= t.BudgetTokens:
		return "The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`"
	case req.InferenceConfig.Temperature != nil && *req.InferenceConfig.Temperature != 1:
		return "The model returned the following errors: `temperature` may only be set to 1 when thinking is enabled"
	case req.ToolConfig != nil && req.ToolConfig.ToolChoice != nil && (req.ToolConfig.ToolChoice.Any != nil || req.ToolConfig.ToolChoice.Tool != nil):
		return "The model returned the following errors: Thinking may not be enabled when `tool_choice` forces tool use."
	}
	// The assistant turn whose tool calls the last user turn answers must start with
	// its thinking, as it was received.
	if n := len(req.Messages); n >= 2 && len(req.lastToolResults()) > 0 {
		if a := req.Messages[n-2]; a.Role == "assistant" && a.Content[0].ReasoningContent == nil {
			return fmt.Sprintf("The model returned the following errors: messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%s`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.", n-2, blockKind(a.Content[0]))
		}
	}
	return ""
}

func blockKind(b ContentBlock) string {
	switch {
	case b.ToolUse != nil:
		return "tool_use"
	case b.Image != nil:
		return "image"
	}
	return "text"
}

// withThinking adds to r, the reply to req, the thinking a thinking request starts
// with: "Thinking about: <last user text>." (or about the tool results), signed.
func withThinking(req *Request, r Reply) Reply {
	if req.thinking() == nil || r.Reasoning != nil {
		return r
	}
	about := req.LastUserText()
	if res := req.lastToolResults(); len(res) > 0 {
		about = fmt.Sprintf("%d tool results", len(res))
	}
	text := "Thinking about: " + about + "."
	r.Reasoning = &Reasoning{Text: text, Signature: Signature(text)}
	return r
}

// reasoningBlock is the answer's reasoningContent block of r.
func reasoningBlock(r *Reasoning) ContentBlock {
	rc := &ReasoningContentBlock{RedactedContent: r.Redacted}
	if r.Redacted == nil {
		rc.ReasoningText = &struct {
			Text      string `json:"text"`
			Signature string `json:"signature,omitempty"`
		}{r.Text, r.Signature}
	}
	return ContentBlock{ReasoningContent: rc}
}

type reasoningDeltaEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Delta             struct {
		ReasoningContent struct {
			Text            *string `json:"text,omitempty"`
			Signature       *string `json:"signature,omitempty"`
			RedactedContent []byte  `json:"redactedContent,omitempty"`
		} `json:"reasoningContent"`
	} `json:"delta"`
}

// streamReasoning streams r as content block 0: its text a word at a time, then its
// signature (or its redacted content in one delta), then the block's stop.
func streamReasoning(ew *eventWriter, r *Reasoning) error {
	var deltas []reasoningDeltaEvent
	if r.Redacted != nil {
		var d reasoningDeltaEvent
		d.Delta.ReasoningContent.RedactedContent = r.Redacted
		deltas = append(deltas, d)
	} else {
		for _, w := range strings.SplitAfter(r.Text, " ") {
			var d reasoningDeltaEvent
			d.Delta.ReasoningContent.Text = &w
			deltas = append(deltas, d)
		}
		var d reasoningDeltaEvent
		sig := r.Signature
		d.Delta.ReasoningContent.Signature = &sig
		deltas = append(deltas, d)
	}
	for i := range deltas {
		if err := ew.event("contentBlockDelta", &deltas[i]); err != nil {
			return err
		}
	}
	return ew.event("contentBlockStop", blockStopEvent{})
}
