package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"genai/bedrock/bedrocktest"
)

// GENAI_BEDROCK_GUARDRAIL_ID puts the guardrail on every call; an intervention reaches
// each surface in its own words — content_filter for OpenAI's clients, refusal for
// Anthropic's — and /metrics counts it.
func TestGuardrailThroughEverySurface(t *testing.T) {
	up := bedrockUpstream(t, bedrocktest.Options{Guardrails: map[string]bedrocktest.Guardrail{
		"gr-abc": {Version: "4", Blocked: []string{"password"}, Message: "Blocked by policy."},
	}})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_BEDROCK_GUARDRAIL_ID": "gr-abc", "GENAI_BEDROCK_GUARDRAIL_VERSION": "4"})
	ask := "what is the admin password"

	oc := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	resp, err := oc.Chat.Completions.New(t.Context(), oai.ChatCompletionNewParams{Model: DefaultBedrockModel, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage(ask)}})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Choices[0]; c.FinishReason != "content_filter" || c.Message.Content != "Blocked by policy." {
		t.Errorf("OpenAI: %q %q", c.FinishReason, c.Message.Content)
	}

	ac := anthropic.NewClient(aoption.WithBaseURL(base), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
	stream := ac.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{Model: DefaultBedrockModel, MaxTokens: 100, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(ask))}})
	var msg anthropic.Message
	for stream.Next() {
		msg.Accumulate(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != "refusal" || msg.Content[0].Text != "Blocked by policy." {
		t.Errorf("Anthropic: %q %+v", msg.StopReason, msg.Content)
	}
	if g := up.Requests()[1].GuardrailConfig; g == nil || g.GuardrailIdentifier != "gr-abc" || g.StreamProcessingMode != "sync" {
		t.Errorf("stream guardrailConfig %+v", g)
	}

	r, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(body), `genai_model_stop_reasons_total{model="`+DefaultBedrockModel+`",provider="bedrock",reason="guardrail_intervened"} 2`) {
		t.Errorf("metrics lack the interventions:\n%s", grepLines(string(body), "stop_reasons"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// On the Responses API, an intervention makes the response incomplete, for
// content_filter, as OpenAI's own filter does.
func TestGuardrailOnResponses(t *testing.T) {
	bedrockUpstream(t, bedrocktest.Options{Guardrails: map[string]bedrocktest.Guardrail{
		"gr-abc": {Version: "4", Blocked: []string{"password"}, Message: "Blocked by policy."},
	}})
	_, base := start(t, map[string]string{"GENAI_PROVIDER": "bedrock", "GENAI_BEDROCK_GUARDRAIL_ID": "gr-abc", "GENAI_BEDROCK_GUARDRAIL_VERSION": "4"})
	oc := oai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	r, err := oc.Responses.New(t.Context(), responses.ResponseNewParams{Model: DefaultBedrockModel,
		Input: responses.ResponseNewParamsInputUnion{OfString: oai.String("the admin password")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "incomplete" || r.IncompleteDetails.Reason != "content_filter" || r.OutputText() != "Blocked by policy." {
		t.Errorf("response %s", r.RawJSON())
	}
}
