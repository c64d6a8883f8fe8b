package genai

import (
	"encoding/json"
	"fmt"
)

// MarshalConversation returns the stored form of a conversation (a stored response's
// system text and messages) that every ResponseStore keeps: JSON with names of its own,
// so that renaming a Go field does not make stored responses unreadable, and that keeps
// every block exactly (a thinking block's signature included).
func MarshalConversation(system string, messages []Message) ([]byte, error) {
	b, err := json.Marshal(storedConversation{System: system, Messages: toStored(messages)})
	if err != nil {
		return nil, fmt.Errorf("conversation: %w", err)
	}
	return b, nil
}

// UnmarshalConversation reads what MarshalConversation returned.
func UnmarshalConversation(raw []byte) (system string, messages []Message, err error) {
	var c storedConversation
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", nil, fmt.Errorf("conversation: %w", err)
	}
	return c.System, fromStored(c.Messages), nil
}

// The stored form of a conversation: the domain's values with JSON names of their own,
// so that renaming a Go field does not make stored responses unreadable.
type (
	storedConversation struct {
		System   string          `json:"system,omitempty"`
		Messages []storedMessage `json:"messages"`
	}
	storedMessage struct {
		Role    string        `json:"role"`
		Content []storedBlock `json:"content"`
	}
	storedBlock struct {
		Type       string            `json:"type"`
		Text       string            `json:"text,omitempty"`
		Image      *storedImage      `json:"image,omitempty"`
		ToolUse    *storedToolUse    `json:"tool_use,omitempty"`
		ToolResult *storedToolResult `json:"tool_result,omitempty"`
		Thinking   *storedThinking   `json:"thinking,omitempty"`
	}
	// storedThinking keeps a thinking block exactly, signature or redacted bytes: the
	// provider refuses a continuation whose tool turn lost them.
	storedThinking struct {
		Text      string `json:"text,omitempty"`
		Signature string `json:"signature,omitempty"`
		Redacted  []byte `json:"redacted,omitempty"`
	}
	storedImage struct {
		Format string `json:"format"`
		Data   []byte `json:"data"`
	}
	storedToolUse struct {
		ID    string          `json:"id"`
		Name  string          `json:"name"`
		Input json.RawMessage `json:"input"`
	}
	storedToolResult struct {
		ToolUseID string        `json:"tool_use_id"`
		Content   []storedBlock `json:"content"`
		IsError   bool          `json:"is_error,omitempty"`
	}
)

func toStored(msgs []Message) []storedMessage {
	out := make([]storedMessage, len(msgs))
	for i, m := range msgs {
		out[i] = storedMessage{Role: string(m.Role), Content: toStoredBlocks(m.Content)}
	}
	return out
}

func toStoredBlocks(blocks []ContentBlock) []storedBlock {
	out := make([]storedBlock, len(blocks))
	for i, b := range blocks {
		s := storedBlock{Type: string(b.Type), Text: b.Text}
		if b.Image != nil {
			s.Image = &storedImage{b.Image.Format, b.Image.Data}
		}
		if u := b.ToolUse; u != nil {
			s.ToolUse = &storedToolUse{u.ID, u.Name, u.Input}
		}
		if res := b.ToolResult; res != nil {
			s.ToolResult = &storedToolResult{res.ToolUseID, toStoredBlocks(res.Content), res.IsError}
		}
		if t := b.Thinking; t != nil {
			s.Thinking = &storedThinking{t.Text, t.Signature, t.Redacted}
		}
		out[i] = s
	}
	return out
}

func fromStored(msgs []storedMessage) []Message {
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = Message{Role: Role(m.Role), Content: fromStoredBlocks(m.Content)}
	}
	return out
}

func fromStoredBlocks(blocks []storedBlock) []ContentBlock {
	out := make([]ContentBlock, len(blocks))
	for i, s := range blocks {
		b := ContentBlock{Type: BlockType(s.Type), Text: s.Text}
		if s.Image != nil {
			b.Image = &Image{Format: s.Image.Format, Data: s.Image.Data}
		}
		if u := s.ToolUse; u != nil {
			b.ToolUse = &ToolUse{ID: u.ID, Name: u.Name, Input: u.Input}
		}
		if res := s.ToolResult; res != nil {
			b.ToolResult = &ToolResult{ToolUseID: res.ToolUseID, Content: fromStoredBlocks(res.Content), IsError: res.IsError}
		}
		if t := s.Thinking; t != nil {
			b.Thinking = &Thinking{Text: t.Text, Signature: t.Signature, Redacted: t.Redacted}
		}
		out[i] = b
	}
	return out
}
