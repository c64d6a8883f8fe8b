package bedrock

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// Guardrail is an Amazon Bedrock guardrail applied to every Converse and ConverseStream
// call: its id (or ARN) and version, and, for streams, whether the guardrail holds the
// answer's text until it has checked it ("sync", the default: nothing unchecked reaches
// the client) or checks it while it streams ("async": faster, but text the guardrail
// would block may reach the client before the intervention ends the answer).
//
// With Trace, Bedrock traces the guardrail's assessment of each call, and an
// intervention's trace is logged (info level, with the model), so an operator can see
// which policy blocked what.
type Guardrail struct {
	ID, Version string
	StreamMode  string // "sync" or "async"
	Trace       bool
}

func (g *Guardrail) trace() types.GuardrailTrace {
	if g.Trace {
		return types.GuardrailTraceEnabled
	}
	return types.GuardrailTraceDisabled
}

// logIntervention logs the trace of an answer a guardrail intervened in.
func logIntervention(ctx context.Context, model string, trace any) {
	data, err := json.Marshal(trace)
	if err != nil || string(data) == "null" {
		return
	}
	slog.InfoContext(ctx, "guardrail intervened", "model", model, "trace", string(data))
}

func (g *Guardrail) config() *types.GuardrailConfiguration {
	if g == nil {
		return nil
	}
	return &types.GuardrailConfiguration{GuardrailIdentifier: aws.String(g.ID), GuardrailVersion: aws.String(g.Version), Trace: g.trace()}
}

func (g *Guardrail) streamConfig() *types.GuardrailStreamConfiguration {
	if g == nil {
		return nil
	}
	mode := types.GuardrailStreamProcessingModeSync
	if g.StreamMode == "async" {
		mode = types.GuardrailStreamProcessingModeAsync
	}
	return &types.GuardrailStreamConfiguration{GuardrailIdentifier: aws.String(g.ID), GuardrailVersion: aws.String(g.Version), StreamProcessingMode: mode, Trace: g.trace()}
}
