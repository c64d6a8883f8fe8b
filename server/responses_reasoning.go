package server

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"genai"
)

// Extended thinking on the Responses API: "reasoning": {"effort"} turns it on, and the
// model's reasoning comes as reasoning items — its text as one summary_text part (the
// whole reasoning, as Claude gives it, not a summary), and the block itself, text and
// signature, in encrypted_content, which a client sends back in its input so that the
// model can go on after a function call (Claude needs the thinking of a tool turn).

// respReasoningItem is an output item of type "reasoning".
type respReasoningItem struct {
	Type             string            `json:"type"` // "reasoning"
	ID               string            `json:"id"`
	Summary          []respSummaryText `json:"summary"`
	EncryptedContent string            `json:"encrypted_content"`
	Status           string            `json:"status,omitempty"`
}

type respSummaryText struct {
	Type string `json:"type"` // "summary_text"
	Text string `json:"text"`
}

// respReasoningConfig is the request's "reasoning": effort turns thinking on with the
// budgets of /v1/chat/completions' reasoning_effort; summary is taken ("auto",
// "concise" or "detailed": the summary is the whole reasoning, whichever).
type respReasoningConfig struct {
	Effort  *string `json:"effort"`
	Summary *string `json:"summary"`
}

// reasoningEncryptedPrefix marks this server's encrypted_content. It is not encrypted:
// it carries the provider's signed (or redacted) block, which the provider checks.
const reasoningEncryptedPrefix = "genai-thinking-v1:"

func encodeThinking(t *genai.Thinking) string {
	data, _ := json.Marshal(struct {
		Text      string `json:"text,omitempty"`
		Signature string `json:"signature,omitempty"`
		Redacted  []byte `json:"redacted,omitempty"`
	}{t.Text, t.Signature, t.Redacted})
	return reasoningEncryptedPrefix + base64.StdEncoding.EncodeToString(data)
}

func decodeThinking(s, path string) (*genai.Thinking, error) {
	rest, ok := strings.CutPrefix(s, reasoningEncryptedPrefix)
	data, err := base64.StdEncoding.DecodeString(rest)
	var t struct {
		Text      string `json:"text"`
		Signature string `json:"signature"`
		Redacted  []byte `json:"redacted"`
	}
	if !ok || err != nil || json.Unmarshal(data, &t) != nil || t.Signature == "" && t.Redacted == nil {
		return nil, genai.Errorf(genai.EINVALID, "%s.encrypted_content: not the encrypted_content this server gave; send the reasoning item back as it came", path)
	}
	return &genai.Thinking{Text: t.Text, Signature: t.Signature, Redacted: t.Redacted}, nil
}

// parseReasoningItem reads a reasoning item of the input into its thinking block.
func parseReasoningItem(item json.RawMessage, path string) (genai.ContentBlock, error) {
	var r struct {
		respReasoningItem
		Content json.RawMessage `json:"content"`
	}
	if err := genai.DecodeStrict(item, path, &r); err != nil {
		return genai.ContentBlock{}, err
	}
	if r.EncryptedContent == "" {
		return genai.ContentBlock{}, genai.Errorf(genai.EINVALID, "%s.encrypted_content: required; send the reasoning item back as this server gave it, or continue with previous_response_id", path)
	}
	t, err := decodeThinking(r.EncryptedContent, path)
	if err != nil {
		return genai.ContentBlock{}, err
	}
	return genai.ContentBlock{Type: genai.BlockThinking, Thinking: t}, nil
}

// parseReasoningConfig reads "reasoning" into a thinking budget.
func parseReasoningConfig(raw json.RawMessage) (budget int, off bool, err error) {
	if !present(raw) {
		return 0, false, nil
	}
	var c respReasoningConfig
	if err := genai.DecodeStrict(raw, "reasoning", &c); err != nil {
		return 0, false, err
	}
	if s := c.Summary; s != nil && *s != "auto" && *s != "concise" && *s != "detailed" {
		return 0, false, genai.Errorf(genai.EINVALID, "reasoning.summary: must be \"auto\", \"concise\" or \"detailed\", got %q", *s)
	}
	if c.Effort == nil {
		return 0, false, nil
	}
	if *c.Effort == "none" {
		return 0, true, nil
	}
	b, err := reasoningBudget(*c.Effort)
	if err != nil {
		return 0, false, genai.Errorf(genai.EINVALID, "reasoning.effort: %s", strings.TrimPrefix(genai.ErrorMessage(err), "reasoning_effort: "))
	}
	return b, false, nil
}

// addThinking writes a piece of reasoning to the open reasoning item, opening one first
// if none is; a signature or a redacted block ends the item.
func (b *respBuilder) addThinking(t *genai.ThinkingEvent) error {
	if err := b.closeMessage(); err != nil {
		return err
	}
	if b.reasoning == nil {
		b.reasoning = &respReasoningItem{Type: "reasoning", ID: newID("rs_"), Summary: []respSummaryText{}, Status: "in_progress"}
		var err error
		if b.reasoningIndex, err = b.addItem(b.reasoning); err != nil {
			return err
		}
		if t.Redacted == nil {
			if err := b.send("response.reasoning_summary_part.added", b.reasoningIDs(map[string]any{"part": respSummaryText{"summary_text", ""}})); err != nil {
				return err
			}
		}
	}
	b.thought = genai.AppendThinking(b.thought, t)
	if t.Text != "" {
		if err := b.send("response.reasoning_summary_text.delta", b.reasoningIDs(map[string]any{"delta": t.Text})); err != nil {
			return err
		}
	}
	if t.Signature == "" && t.Redacted == nil {
		return nil
	}
	return b.closeReasoning()
}

func (b *respBuilder) reasoningIDs(m map[string]any) map[string]any {
	return withFields(m, "item_id", b.reasoning.ID, "output_index", b.reasoningIndex, "summary_index", 0)
}

// closeReasoning ends the open reasoning item, if any.
func (b *respBuilder) closeReasoning() error {
	item := b.reasoning
	if item == nil || len(b.thought) == 0 {
		return nil
	}
	block := b.thought[len(b.thought)-1].Thinking
	item.EncryptedContent, item.Status = encodeThinking(block), "completed"
	b.answer = append(b.answer, genai.ContentBlock{Type: genai.BlockThinking, Thinking: block})
	if block.Redacted == nil {
		part := respSummaryText{"summary_text", block.Text}
		item.Summary = []respSummaryText{part}
		if err := b.send("response.reasoning_summary_text.done", b.reasoningIDs(map[string]any{"text": block.Text})); err != nil {
			return err
		}
		if err := b.send("response.reasoning_summary_part.done", b.reasoningIDs(map[string]any{"part": part})); err != nil {
			return err
		}
	}
	b.reasoning = nil
	return b.send("response.output_item.done", map[string]any{"output_index": b.reasoningIndex, "item": item})
}
