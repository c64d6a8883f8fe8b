package bedrocktest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Guardrails, as Converse applies them: the request's guardrailConfig names a guardrail
// and its version (with streamProcessingMode on ConverseStream); an input the guardrail
// blocks is answered with the guardrail's blocked message and stop reason
// "guardrail_intervened", with the guardrail's trace when the request's trace is
// "enabled".

// Guardrail is a guardrail the server knows: the version it takes, the words of a user
// message that it blocks (case-insensitively), and the message it answers then.
type Guardrail struct {
	Version string
	Blocked []string
	Message string
}

// GuardrailConfig is the guardrailConfig of a Request.
type GuardrailConfig struct {
	GuardrailIdentifier  string `json:"guardrailIdentifier"`
	GuardrailVersion     string `json:"guardrailVersion"`
	Trace                string `json:"trace,omitempty"`
	StreamProcessingMode string `json:"streamProcessingMode,omitempty"`
}

func (s *Server) validateGuardrail(req *Request) string {
	g := req.GuardrailConfig
	if g == nil {
		return ""
	}
	known, ok := s.opts.Guardrails[g.GuardrailIdentifier]
	switch {
	case g.GuardrailIdentifier == "" || g.GuardrailVersion == "":
		return "guardrailConfig: guardrailIdentifier and guardrailVersion are required"
	case !ok || known.Version != g.GuardrailVersion:
		return "The guardrail identifier or version provided in the request does not exist."
	case g.StreamProcessingMode != "" && req.Operation != "ConverseStream":
		return "guardrailConfig.streamProcessingMode: only for ConverseStream"
	case g.StreamProcessingMode != "" && g.StreamProcessingMode != "sync" && g.StreamProcessingMode != "async":
		return fmt.Sprintf("guardrailConfig.streamProcessingMode: %q is not sync or async", g.StreamProcessingMode)
	}
	return ""
}

// guard returns the reply of a request its guardrail blocks, and whether it does.
func (s *Server) guard(req *Request) (Reply, bool) {
	g := req.GuardrailConfig
	if g == nil {
		return Reply{}, false
	}
	rule := s.opts.Guardrails[g.GuardrailIdentifier]
	text := strings.ToLower(req.LastUserText())
	for _, w := range rule.Blocked {
		if strings.Contains(text, strings.ToLower(w)) {
			r := Reply{Tokens: []string{rule.Message}, StopReason: "guardrail_intervened"}
			if g.Trace == "enabled" { // the assessment of the word policy, as Bedrock traces it
				r.trace, _ = json.Marshal(map[string]any{"guardrail": map[string]any{"inputAssessment": map[string]any{
					g.GuardrailIdentifier: map[string]any{"wordPolicy": map[string]any{"customWords": []any{
						map[string]any{"match": w, "action": "BLOCKED", "detected": true}}}}}}})
			}
			return r, true
		}
	}
	return Reply{}, false
}
