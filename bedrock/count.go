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
// system prompt, messages, tools and model fields a Chat call would send. A request our
// validation refuses fails with its EINVALID error, unsent; one Bedrock refuses to count
// (a ValidationException: a model it does not count for) fails with an error wrapping
// genai.ErrCountUnsupported, naming Bedrock's reason; other errors are mapped as for Chat.
func (m *ChatModel) CountTokens(ctx context.Context, req *genai.ChatRequest) (int, error) {
	c, err := m.converse(req)
	if err != nil {
		return 0, err
	}
	in := &bedrockruntime.CountTokensInput{
		ModelId: c.ModelId,
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages:                     c.Messages,
			System:                       c.System,
			ToolConfig:                   c.ToolConfig,
			AdditionalModelRequestFields: c.AdditionalModelRequestFields,
		}},
	}
	out, err := m.client.CountTokens(ctx, in)
	if base, ok := foundationModel(*c.ModelId); ok && err != nil && countUnsupported(err) {
		// A cross-region profile runs its foundation model, whose tokenizer counts the
		// same; CountTokens has been seen to refuse the profile's id but not the model's.
		in.ModelId = aws.String(base)
		out, err = m.client.CountTokens(ctx, in)
	}
	if err != nil {
		if countUnsupported(err) {
			return 0, fmt.Errorf("bedrock: CountTokens for model %s: %w (%v)", *c.ModelId, genai.ErrCountUnsupported, err)
		}
		return 0, upstreamError(ctx, "CountTokens", "model "+*c.ModelId, err)
	}
	if out.InputTokens == nil {
		return 0, genai.Errorf(genai.EUPSTREAM, "Bedrock CountTokens for model %s: the answer has no inputTokens", *c.ModelId)
	}
	return int(aws.ToInt32(out.InputTokens)), nil
}

// countUnsupported reports whether err is Bedrock refusing to count a request that our
// validation passed: a ValidationException, such as "The provided model doesn't support
// counting tokens." for a model it has no count for, or its refusal of a cross-region
// inference profile id that Converse takes. Bedrock has no error code of its own for
// these; since a count is advice (the chat call that follows reports a request's real
// faults), any ValidationException here means "estimate instead".
func countUnsupported(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && strings.EqualFold(apiErr.ErrorCode(), "ValidationException")
}

// geoPrefixes are the prefixes of cross-region inference profile ids
// ("us.anthropic.claude-…"), before the foundation model's id.
var geoPrefixes = []string{"us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global."}

// foundationModel returns the foundation model id of a cross-region inference profile
// id, and false for any other id (a foundation model, an ARN).
func foundationModel(model string) (string, bool) {
	for _, p := range geoPrefixes {
		if base, ok := strings.CutPrefix(model, p); ok && base != "" {
			return base, true
		}
	}
	return "", false
}
