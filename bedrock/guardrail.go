package bedrock

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// Guardrail is an Amazon Bedrock guardrail applied to every Converse and ConverseStream
// call: its id (or ARN) and version, and, for streams, whether the guardrail holds the
// answer's text until it has checked it ("sync", the default: nothing unchecked reaches
// the client) or checks it while it streams ("async": faster, but text the guardrail
// would block may reach the client before the intervention ends the answer).
type Guardrail struct {
	ID, Version string
	StreamMode  string // "sync" or "async"
}

func (g *Guardrail) config() *types.GuardrailConfiguration {
	if g == nil {
		return nil
	}
	return &types.GuardrailConfiguration{GuardrailIdentifier: aws.String(g.ID), GuardrailVersion: aws.String(g.Version)}
}

func (g *Guardrail) streamConfig() *types.GuardrailStreamConfiguration {
	if g == nil {
		return nil
	}
	mode := types.GuardrailStreamProcessingModeSync
	if g.StreamMode == "async" {
		mode = types.GuardrailStreamProcessingModeAsync
	}
	return &types.GuardrailStreamConfiguration{GuardrailIdentifier: aws.String(g.ID), GuardrailVersion: aws.String(g.Version), StreamProcessingMode: mode}
}
