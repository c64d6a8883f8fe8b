package bedrocktest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Structured outputs, as Converse does them: outputConfig.textFormat holds a JSON Schema
// (as a string) that the answer's text must follow. Only some models take it, and
// Bedrock wants every object of the schema closed with "additionalProperties": false.

// OutputConfig is the outputConfig of a Request.
type OutputConfig struct {
	TextFormat *struct {
		Type      string `json:"type"`
		Structure struct {
			JSONSchema *struct {
				Schema      string  `json:"schema"`
				Name        *string `json:"name"`
				Description *string `json:"description"`
			} `json:"jsonSchema"`
		} `json:"structure"`
	} `json:"textFormat"`
}

// StructuredOutputModels are parts of the model ids that take outputConfig.textFormat:
// Claude Haiku 4.5, Sonnet 4.5 and 4.6, Opus 4.5 and 4.6, as Bedrock's documentation
// lists them.
var StructuredOutputModels = []string{"claude-haiku-4-5", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-5", "claude-opus-4-6"}

// schema returns the request's output schema, decoded, or nil.
func (r *Request) schema() map[string]any {
	c := r.OutputConfig
	if c == nil || c.TextFormat == nil || c.TextFormat.Structure.JSONSchema == nil {
		return nil
	}
	var s map[string]any
	json.Unmarshal([]byte(c.TextFormat.Structure.JSONSchema.Schema), &s)
	return s
}

func validateOutputConfig(req *Request) string {
	c := req.OutputConfig
	if c == nil {
		return ""
	}
	if c.TextFormat == nil {
		return "outputConfig: textFormat is required"
	}
	if c.TextFormat.Type != "json_schema" {
		return fmt.Sprintf("outputConfig.textFormat.type: %q is not json_schema", c.TextFormat.Type)
	}
	js := c.TextFormat.Structure.JSONSchema
	if js == nil || js.Schema == "" {
		return "outputConfig.textFormat.structure.jsonSchema.schema: required"
	}
	if modelFamily(req.ModelID) == "" {
		return "This model doesn't support the outputConfig.textFormat field. Remove outputConfig and try again."
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(js.Schema), &schema); err != nil {
		return "outputConfig.textFormat.structure.jsonSchema.schema: not a JSON object: " + err.Error()
	}
	if path := openObject(schema, "schema"); path != "" {
		return fmt.Sprintf("Invalid schema: for 'object' type, 'additionalProperties' must be explicitly set to false (at %s)", path)
	}
	return ""
}

// modelFamily returns the entry of StructuredOutputModels that model is of, or "".
func modelFamily(model string) string {
	for _, f := range StructuredOutputModels {
		if strings.Contains(model, f) {
			return f
		}
	}
	return ""
}

// openObject returns the path of an object schema in s without
// "additionalProperties": false, or "".
func openObject(s map[string]any, path string) string {
	if s["type"] == "object" && s["additionalProperties"] != false {
		return path
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, k := range sortedKeys(props) {
			if p, ok := props[k].(map[string]any); ok {
				if bad := openObject(p, path+".properties."+k); bad != "" {
					return bad
				}
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		return openObject(items, path+".items")
	}
	return ""
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatReply is EchoReply's answer to a request with an output schema: JSON that
// follows it, deterministic so tests can be exact — each property of an object (in
// sorted order) holds, by its type, the last user text (string), 42 (number, integer),
// true (boolean), [] (array), the first of its enum, or a nested object made the same
// way. The JSON streams in pieces of 8 bytes. It returns false when the request has no
// output schema.
func FormatReply(req *Request) (Reply, bool) {
	s := req.schema()
	if s == nil {
		return Reply{}, false
	}
	data, _ := json.Marshal(valueFor(s, req.LastUserText()))
	var tokens []string
	for len(data) > 8 {
		tokens, data = append(tokens, string(data[:8])), data[8:]
	}
	return Reply{Tokens: append(tokens, string(data))}, true
}

func valueFor(s map[string]any, text string) any {
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	switch s["type"] {
	case "string":
		return text
	case "number", "integer":
		return 42
	case "boolean":
		return true
	case "array":
		return []any{}
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		for _, k := range sortedKeys(props) {
			p, _ := props[k].(map[string]any)
			out[k] = valueFor(p, text)
		}
		return out
	}
	return nil
}
