package bedrock

import (
	"math"
	"strings"

	"genai"
)

// validate checks the rules Bedrock's Converse API and its Claude models set beyond the
// provider-neutral ones of genai.ChatRequest.Validate, so that a request Bedrock would
// refuse is refused here with the field named, before any call: model ids of Bedrock's
// characters (ids, inference profiles and ARNs), roles alternating from the user, no
// blank text block, every tool call answered by exactly one tool result in the next
// user message, no empty tool result, and temperature from 0 to 1.
func validate(req *genai.ChatRequest) error {
	if err := req.Validate(); err != nil {
		return err
	}
	for _, c := range req.Model {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-_:/", c)) {
			return genai.Errorf(genai.EINVALID, "model: %q is not a Bedrock model id: it has a character other than letters, digits and . - _ : /", req.Model)
		}
	}
	for i, m := range req.Messages {
		want := genai.RoleUser
		if i%2 == 1 {
			want = genai.RoleAssistant
		}
		if m.Role != want {
			return genai.Errorf(genai.EINVALID, "messages[%d].role: on Bedrock, roles must alternate starting with \"user\"; expected %q, got %q", i, want, m.Role)
		}
		for j, b := range m.Content {
			if b.Type == genai.BlockText && strings.TrimSpace(b.Text) == "" {
				return genai.Errorf(genai.EINVALID, "messages[%d].content[%d].text: must not be empty", i, j)
			}
		}
	}
	if c := req.ToolChoice; c != nil && c.DisableParallel {
		return genai.Errorf(genai.EINVALID, "tool_choice: Bedrock's Converse cannot forbid parallel tool calls; remove disable_parallel_tool_use / parallel_tool_calls: false")
	}
	if err := validateToolTurns(req.Messages); err != nil {
		return err
	}
	if t := req.Temperature; t != nil && (math.IsNaN(*t) || *t > 1) {
		return genai.Errorf(genai.EINVALID, "temperature: must be from 0 to 1 on Bedrock, got %v", *t)
	}
	return nil
}

// validateToolTurns checks what Converse demands of tool turns beyond the domain's rules
// (a result answers a call of the message before it): each toolUse of an assistant
// message has exactly one toolResult in the next message, each toolUse id is of
// Converse's characters, and each toolResult holds a block, as Converse's toolResult
// content is required and non-empty.
func validateToolTurns(msgs []genai.Message) error {
	for i, m := range msgs {
		var calls []string
		for j, b := range m.Content {
			switch b.Type {
			case genai.BlockToolUse:
				// Converse's toolUseId pattern, the same as a tool name's.
				if !genai.ValidToolName(b.ToolUse.ID) {
					return genai.Errorf(genai.EINVALID, "messages[%d].content[%d].id: %q on Bedrock must match ^[a-zA-Z0-9_-]{1,64}$", i, j, b.ToolUse.ID)
				}
				calls = append(calls, b.ToolUse.ID)
			case genai.BlockToolResult:
				if len(b.ToolResult.Content) == 0 {
					return genai.Errorf(genai.EINVALID, "messages[%d].content[%d].content: on Bedrock a tool result must hold at least one text or image block", i, j)
				}
			}
		}
		if len(calls) == 0 {
			continue
		}
		if i+1 == len(msgs) {
			return genai.Errorf(genai.EINVALID, "messages[%d]: on Bedrock each tool_use needs a tool_result in the next user message; none follows (tool_use ids %s)", i, strings.Join(calls, ", "))
		}
		answered := map[string]int{}
		for j, b := range msgs[i+1].Content {
			if b.Type == genai.BlockToolResult {
				if answered[b.ToolResult.ToolUseID]++; answered[b.ToolResult.ToolUseID] > 1 {
					return genai.Errorf(genai.EINVALID, "messages[%d].content[%d].tool_use_id: %q is answered twice; on Bedrock each tool_use takes exactly one tool_result", i+1, j, b.ToolResult.ToolUseID)
				}
			}
		}
		var missing []string
		for _, id := range calls {
			if answered[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return genai.Errorf(genai.EINVALID, "messages[%d].content: on Bedrock each tool_use of messages[%d] needs a tool_result here; missing for %s", i+1, i, strings.Join(missing, ", "))
		}
	}
	return nil
}
