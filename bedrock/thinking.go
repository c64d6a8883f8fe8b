package bedrock

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"genai"
)

// Extended thinking on Claude through Converse: the budget goes in
// additionalModelRequestFields ({"thinking":{"type":"enabled","budget_tokens":N}}), the
// reasoning comes back as reasoningContent blocks, and those go back to Bedrock exactly
// as they came (text and signature, or redacted bytes) in later turns.

// interleavedModels are parts of the ids of the Claude models that think between tool
// calls (interleaved thinking), which Bedrock turns on with an anthropic_beta flag.
var interleavedModels = []string{"claude-sonnet-4", "claude-opus-4", "claude-haiku-4-5"}

// interleavedBeta is the flag of interleaved thinking.
const interleavedBeta = "interleaved-thinking-2025-05-14"

// thinkingModels are parts of the ids of the Claude models that take extended thinking.
var thinkingModels = []string{"claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4-5"}

// withDefaultThinking returns req with the default budget when it applies: req names no
// budget and did not turn thinking off, model thinks, and nothing in req is what Claude
// refuses with thinking (a temperature other than 1, a forced tool, a JSON answer made
// by a forced tool). The token limit grows by the budget, so the answer keeps its room.
func withDefaultThinking(req *genai.ChatRequest, model string, budget, maxTokens int) (*genai.ChatRequest, int) {
	if budget == 0 || req.ThinkingBudget != 0 || req.ThinkingOff || !containsAny(model, thinkingModels) {
		return req, maxTokens
	}
	if t := req.Temperature; t != nil && *t != 1 {
		return req, maxTokens
	}
	if c := req.ToolChoice; c != nil && (c.Type == genai.ToolChoiceAny || c.Type == genai.ToolChoiceTool) {
		return req, maxTokens
	}
	if req.ResponseFormat != nil && formatTool(req, model) != "" {
		return req, maxTokens
	}
	r := *req
	r.ThinkingBudget = budget
	return &r, maxTokens + budget
}

// validateThinking checks Claude's rules for a request with thinking on: temperature
// unset or 1, no tool choice that forces a call, a token limit above the budget.
func validateThinking(req *genai.ChatRequest, maxTokens int) error {
	if req.ThinkingBudget == 0 {
		return nil
	}
	if t := req.Temperature; t != nil && *t != 1 {
		return genai.Errorf(genai.EINVALID, "temperature: Claude takes only 1, or none, with thinking on; got %v", *t)
	}
	if c := req.ToolChoice; c != nil && (c.Type == genai.ToolChoiceAny || c.Type == genai.ToolChoiceTool) {
		return genai.Errorf(genai.EINVALID, "tool_choice: Claude cannot be forced to call a tool with thinking on; use \"auto\" or turn thinking off")
	}
	if req.ResponseFormat != nil && formatTool(req, "") != "" && !nativeFormat(req.ResponseFormat, req.Model) {
		return genai.Errorf(genai.EINVALID, "response_format: on this model the JSON answer is made by a forced tool, which Claude cannot take with thinking on; turn thinking off or use a model with structured outputs")
	}
	if maxTokens <= req.ThinkingBudget {
		return genai.Errorf(genai.EINVALID, "max_tokens: must be greater than thinking.budget_tokens (%d), got %d", req.ThinkingBudget, maxTokens)
	}
	return nil
}

// applyThinking sets in's additionalModelRequestFields for req's thinking budget.
func applyThinking(req *genai.ChatRequest, in *bedrockruntime.ConverseInput) {
	if req.ThinkingBudget == 0 {
		return
	}
	fields := map[string]any{"thinking": map[string]any{"type": "enabled", "budget_tokens": req.ThinkingBudget}}
	model := aws.ToString(in.ModelId)
	if in.ToolConfig != nil && containsAny(model, interleavedModels) {
		fields["anthropic_beta"] = []string{interleavedBeta}
	}
	in.AdditionalModelRequestFields = document.NewLazyDocument(fields)
}

func containsAny(s string, parts []string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// thinkingBlock maps a thinking block of the history to Converse's, unchanged.
func thinkingBlock(t *genai.Thinking) types.ContentBlock {
	if t.Redacted != nil {
		return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberRedactedContent{Value: t.Redacted}}
	}
	return &types.ContentBlockMemberReasoningContent{Value: &types.ReasoningContentBlockMemberReasoningText{
		Value: types.ReasoningTextBlock{Text: aws.String(t.Text), Signature: aws.String(t.Signature)},
	}}
}

// answerThinking maps an answer's reasoningContent block to the domain's.
func answerThinking(b *types.ContentBlockMemberReasoningContent) *genai.Thinking {
	switch v := b.Value.(type) {
	case *types.ReasoningContentBlockMemberReasoningText:
		return &genai.Thinking{Text: aws.ToString(v.Value.Text), Signature: aws.ToString(v.Value.Signature)}
	case *types.ReasoningContentBlockMemberRedactedContent:
		return &genai.Thinking{Redacted: v.Value}
	}
	return nil
}
