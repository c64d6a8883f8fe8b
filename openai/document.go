package openai

import (
	"context"
	"fmt"

	"genai"
)

// documentsAsText returns msgs with each document block replaced by a text block of
// its extracted text, labelled "Document <name>:\n" (a document without a name is
// called by its number), since Chat Completions endpoints take no document files.
// msgs itself is not changed; without documents it is returned as it is.
func (m *ChatModel) documentsAsText(ctx context.Context, msgs []genai.Message) ([]genai.Message, error) {
	var out []genai.Message
	n := 0
	for i, msg := range msgs {
		for j, b := range msg.Content {
			if b.Type != genai.BlockDocument {
				continue
			}
			n++
			if m.documentText == nil {
				return nil, genai.Errorf(genai.EINVALID, "messages[%d].content[%d]: documents are not supported by this OpenAI-compatible provider, which has no text extractor", i, j)
			}
			text, err := m.documentText(ctx, b.Document)
			if err != nil {
				return nil, err
			}
			if out == nil {
				out = cloneMessages(msgs)
			}
			name := b.Document.Name
			if name == "" {
				name = fmt.Sprint(n)
			}
			out[i].Content[j] = genai.ContentBlock{Type: genai.BlockText, Text: "Document " + name + ":\n" + text, Cache: b.Cache}
		}
	}
	if out == nil {
		return msgs, nil
	}
	return out, nil
}

// cloneMessages copies msgs and their content slices, so blocks can be replaced
// without changing the caller's request.
func cloneMessages(msgs []genai.Message) []genai.Message {
	out := make([]genai.Message, len(msgs))
	for i, m := range msgs {
		out[i] = genai.Message{Role: m.Role, Content: append([]genai.ContentBlock(nil), m.Content...)}
	}
	return out
}
