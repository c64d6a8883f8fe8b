package genai

// Extended thinking: a request gives the model a budget of tokens to reason in before
// it answers (ChatRequest.ThinkingBudget); the answer starts with the reasoning, in
// BlockThinking blocks that the client sends back unchanged in later turns (a provider
// checks the signature, and Claude needs the thinking of a turn that called tools to go
// on after the results).

// BlockThinking is the model's reasoning, in assistant messages.
const BlockThinking BlockType = "thinking"

// Limits of extended thinking.
const (
	MinThinkingBudget = 1024 // tokens, Claude's least budget
)

// Thinking is the content of a BlockThinking block: the reasoning's Text and the
// provider's Signature over it, or, for reasoning the provider encrypted, Redacted. Both
// go back to the provider exactly as they came.
type Thinking struct {
	Text      string
	Signature string
	Redacted  []byte
}

// ThinkingEvent is a streamed piece of reasoning: text as it arrives (Text), then the
// block's Signature, which ends it; or a whole Redacted block.
type ThinkingEvent struct {
	Text      string
	Signature string
	Redacted  []byte
}

// validateThinking checks the thinking budget against the token limit, and thinking
// blocks: only in assistant messages, each signed or redacted.
func (r *ChatRequest) validateThinking() error {
	if b := r.ThinkingBudget; b != 0 {
		if b < MinThinkingBudget || b > MaxOutputTokens {
			return Errorf(EINVALID, "thinking.budget_tokens: must be from %d to %d, got %d", MinThinkingBudget, MaxOutputTokens, b)
		}
		if r.MaxTokens != 0 && r.MaxTokens <= b {
			return Errorf(EINVALID, "max_tokens: must be greater than thinking.budget_tokens (%d), got %d", b, r.MaxTokens)
		}
	}
	for i, m := range r.Messages {
		for j, b := range m.Content {
			if b.Type != BlockThinking {
				continue
			}
			switch {
			case m.Role != RoleAssistant:
				return Errorf(EINVALID, "messages[%d].content[%d]: thinking blocks are allowed only in assistant messages", i, j)
			case b.Thinking == nil || b.Thinking.Signature == "" && b.Thinking.Redacted == nil:
				return Errorf(EINVALID, "messages[%d].content[%d].signature: required; send the thinking block back as it came", i, j)
			}
		}
	}
	return nil
}

// AppendThinking adds the streamed piece ev to blocks, the content of an answer being
// assembled: a redacted block whole; text to the open thinking block (the last block,
// when it is a thinking block not yet signed) or to a new one; a signature closing the
// open block.
func AppendThinking(blocks []ContentBlock, ev *ThinkingEvent) []ContentBlock {
	if ev.Redacted != nil {
		return append(blocks, ContentBlock{Type: BlockThinking, Thinking: &Thinking{Redacted: ev.Redacted}})
	}
	n := len(blocks)
	if n == 0 || blocks[n-1].Type != BlockThinking || blocks[n-1].Thinking.Signature != "" || blocks[n-1].Thinking.Redacted != nil {
		blocks = append(blocks, ContentBlock{Type: BlockThinking, Thinking: &Thinking{}})
		n++
	}
	t := blocks[n-1].Thinking
	t.Text += ev.Text
	t.Signature = ev.Signature
	return blocks
}
