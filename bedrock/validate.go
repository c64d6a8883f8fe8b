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
// blank text block, and temperature from 0 to 1.
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
	if t := req.Temperature; t != nil && (math.IsNaN(*t) || *t > 1) {
		return genai.Errorf(genai.EINVALID, "temperature: must be from 0 to 1 on Bedrock, got %v", *t)
	}
	return nil
}
