package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"genai/bedrock/bedrocktest"
)

// Extended thinking on the Responses API, with a function tool: reasoning.effort turns
// it on; the reasoning streams as a reasoning item (summary text deltas), checked by the
// SDK's strict accumulator, and carries the signed block in encrypted_content. Sent back
// in the input with the call's output, statelessly, the conversation goes on (Bedrock
// refuses a tool turn without its thinking); by previous_response_id it goes on too.
func TestResponsesReasoningWithTools(t *testing.T) {
	up, client, _, _ := responsesServer(t, bedrocktest.Options{})
	ctx := context.Background()
	const model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
	params := responses.ResponseNewParams{Model: model, Tools: []responses.ToolUnionParam{weatherTool},
		Reasoning: shared.ReasoningParam{Effort: shared.ReasoningEffortLow},
		Input:     responses.ResponseNewParamsInputUnion{OfString: oai.String("Paris")}}
	types, r := checkStream(t, client.Responses.NewStreaming(ctx, params))
	if len(r.Output) != 3 || r.Output[0].Type != "reasoning" || r.Output[2].Type != "function_call" {
		t.Fatalf("output %s (events %v)", r.RawJSON(), types)
	}
	reasoning := r.Output[0].AsReasoning()
	if len(reasoning.Summary) != 1 || reasoning.Summary[0].Text != "Thinking about: Paris." || !strings.HasPrefix(reasoning.EncryptedContent, "genai-thinking-v1:") {
		t.Errorf("reasoning item %s", reasoning.RawJSON())
	}
	if !strings.Contains(strings.Join(types, " "), "response.reasoning_summary_text.delta") {
		t.Errorf("events %v", types)
	}
	if got := up.Requests()[0].Thinking(); got != 2048 {
		t.Errorf("budget sent %d", got)
	}

	// Stateless: the output items go back as input, as they came, with the call's output.
	call := r.Output[2].AsFunctionCall()
	input := []json.RawMessage{json.RawMessage(`{"role":"user","content":"Paris"}`)}
	for _, item := range r.Output {
		input = append(input, json.RawMessage(item.RawJSON()))
	}
	input = append(input, json.RawMessage(`{"type":"function_call_output","call_id":"`+call.CallID+`","output":"rain"}`))
	params.Store = oai.Bool(false)
	answer, err := client.Responses.New(ctx, params, option.WithJSONSet("input", input))
	if apiErr := (*oai.Error)(nil); errors.As(err, &apiErr) {
		t.Fatalf("%v: %s", err, apiErr.Message)
	} else if err != nil {
		t.Fatal(err)
	}
	if want := "Tool " + call.CallID + " returned rain."; answer.OutputText() != want {
		t.Errorf("stateless answer %q, want %q", answer.OutputText(), want)
	}

	// By previous_response_id: the stored turn keeps its thinking.
	params.Store = oai.Bool(true)
	params.PreviousResponseID = oai.String(r.ID)
	out := responses.ResponseInputItemParamOfFunctionCallOutput("rain")
	out.OfFunctionCallOutput.CallID = oai.String(call.CallID)
	params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{out}}
	answer, err = client.Responses.New(ctx, params)
	if apiErr := (*oai.Error)(nil); errors.As(err, &apiErr) {
		t.Fatalf("%v: %s", err, apiErr.Message)
	} else if err != nil {
		t.Fatal(err)
	}
	if want := "Tool " + call.CallID + " returned rain."; answer.OutputText() != want {
		t.Errorf("continued answer %q, want %q", answer.OutputText(), want)
	}
}
