package bedrock

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"genai"
)

var _ genai.TokenCounter = (*ChatModel)(nil)

// CountTokens asks Bedrock Runtime's CountTokens how many input tokens req would take on
// its model (the request's, or the default): the Converse-shaped input, with the same
// system prompt, messages, tools and model fields a Chat call would send. A model
// Bedrock does not count for (it answers a ValidationException saying so) fails with an
// error wrapping genai.ErrCountUnsupported; other errors are mapped as for Chat.
func (m *ChatModel) CountTokens(ctx context.Context, req *genai.ChatRequest) (int, error) {
	c, err := m.converse(req)
	if err != nil {
		return 0, err
	}
	out, err := m.client.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: c.ModelId,
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages:                     c.Messages,
			System:                       c.System,
			ToolConfig:                   c.ToolConfig,
			AdditionalModelRequestFields: c.AdditionalModelRequestFields,
		}},
	})
	if err != nil {
		if countUnsupported(err) {
			return 0, fmt.Errorf("bedrock: CountTokens for model %s: %w", *c.ModelId, genai.ErrCountUnsupported)
		}
		return 0, upstreamError(ctx, "CountTokens", "model "+*c.ModelId, err)
	}
	if out.InputTokens == nil {
		return 0, genai.Errorf(genai.EUPSTREAM, "Bedrock CountTokens for model %s: the answer has no inputTokens", *c.ModelId)
	}
	return int(aws.ToInt32(out.InputTokens)), nil
}

// countUnsupported reports whether err is Bedrock's refusal to count tokens for a model:
// a ValidationException "The provided model doesn't support counting tokens." Bedrock has
// no error code of its own for it, so the message is matched, loosely.
func countUnsupported(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || !strings.EqualFold(apiErr.ErrorCode(), "ValidationException") {
		return false
	}
	msg := strings.ToLower(apiErr.ErrorMessage())
	return strings.Contains(msg, "support counting tokens")
}
