package bedrock

import (
	"encoding/json"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"genai"
)

// Structured answers (genai.ResponseFormat) on Bedrock. A JSON schema goes to the
// models that take Converse's outputConfig.textFormat (Bedrock's structured outputs);
// for every other model, and for json_object (which has no schema to constrain the
// model with), the answer is made by a forced tool whose input schema is the schema:
// the model must call it, and the call's input is the answer's text.

// structuredOutputModels are parts of the model ids that take outputConfig.textFormat,
// as Bedrock's documentation lists them (Claude Haiku 4.5, Sonnet 4.5 and 4.6, Opus 4.5
// and 4.6); inference profiles ("us.", "global.") contain them too.
var structuredOutputModels = []string{"claude-haiku-4-5", "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-opus-4-5", "claude-opus-4-6"}

// answerTool is the forced tool's name for json_object.
const answerTool = "json_answer"

// structuredOutputs reports whether model takes outputConfig and strict tools.
func structuredOutputs(model string) bool {
	for _, m := range structuredOutputModels {
		if strings.Contains(model, m) {
			return true
		}
	}
	return false
}

// nativeFormat reports whether model answers f by outputConfig rather than a tool.
func nativeFormat(f *genai.ResponseFormat, model string) bool {
	return f != nil && f.Type == genai.FormatJSONSchema && structuredOutputs(model)
}

// formatTool returns the name of the forced tool that makes req's answer on model, or
// "" when none does.
func formatTool(req *genai.ChatRequest, model string) string {
	f := req.ResponseFormat
	switch {
	case f == nil || nativeFormat(f, model):
		return ""
	case f.Type == genai.FormatJSONSchema:
		return f.Name
	}
	return answerTool
}

// applyFormat sets in's outputConfig, or its forced tool, for req's response format.
func applyFormat(req *genai.ChatRequest, in *bedrockruntime.ConverseInput) error {
	f := req.ResponseFormat
	if f == nil {
		return nil
	}
	model := aws.ToString(in.ModelId)
	if nativeFormat(f, model) {
		var schema map[string]any
		if err := json.Unmarshal(f.Schema, &schema); err != nil {
			return genai.Errorf(genai.EINVALID, "response_format.json_schema.schema: %v", err)
		}
		closeObjects(schema)
		data, _ := json.Marshal(schema)
		js := types.JsonSchemaDefinition{Schema: aws.String(string(data)), Name: aws.String(f.Name)}
		if f.Description != "" {
			js.Description = aws.String(f.Description)
		}
		in.OutputConfig = &types.OutputConfig{TextFormat: &types.OutputFormat{
			Type:      types.OutputFormatTypeJsonSchema,
			Structure: &types.OutputFormatStructureMemberJsonSchema{Value: js},
		}}
		return nil
	}
	if len(req.Tools) > 0 || in.ToolConfig != nil {
		return genai.Errorf(genai.EINVALID, "response_format: model %s on Bedrock makes a JSON answer with a forced tool, so the request cannot also use tools; remove tools or response_format, or use a model with structured outputs (%s)", model, strings.Join(structuredOutputModels, ", "))
	}
	name, schema, desc := answerTool, json.RawMessage(`{"type":"object"}`), "Give the answer as a JSON object."
	if f.Type == genai.FormatJSONSchema {
		name, schema, desc = f.Name, f.Schema, "Give the answer in this JSON format."
		if f.Description != "" {
			desc = f.Description
		}
	}
	doc, err := documentOf(schema, "response_format.json_schema.schema")
	if err != nil {
		return err
	}
	in.ToolConfig = &types.ToolConfiguration{
		Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
			Name: aws.String(name), Description: aws.String(desc),
			InputSchema: &types.ToolInputSchemaMemberJson{Value: doc},
		}}},
		ToolChoice: &types.ToolChoiceMemberTool{Value: types.SpecificToolChoice{Name: aws.String(name)}},
	}
	return nil
}

// closeObjects sets "additionalProperties": false on every object schema in s that does
// not say otherwise, as Bedrock's structured outputs require of every object.
func closeObjects(s map[string]any) {
	if s["type"] == "object" {
		if _, set := s["additionalProperties"]; !set {
			s["additionalProperties"] = false
		}
	}
	for _, key := range []string{"properties", "$defs", "definitions"} {
		if m, ok := s[key].(map[string]any); ok {
			for _, v := range m {
				if sub, ok := v.(map[string]any); ok {
					closeObjects(sub)
				}
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if sub, ok := s[key].(map[string]any); ok {
			closeObjects(sub)
		}
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf", "prefixItems"} {
		if list, ok := s[key].([]any); ok {
			for _, v := range list {
				if sub, ok := v.(map[string]any); ok {
					closeObjects(sub)
				}
			}
		}
	}
}

// formatAnswer turns a whole answer made by the forced tool name into the answer the
// request asked for: the call's input as its text. A model that did not call the tool
// broke the format.
func formatAnswer(resp *genai.ChatResponse, name string) error {
	for _, b := range resp.Content {
		if b.Type == genai.BlockToolUse && b.ToolUse.Name == name {
			text := string(b.ToolUse.Input)
			resp.Content = []genai.ContentBlock{{Type: genai.BlockText, Text: text}}
			resp.Text, resp.StopReason = text, string(types.StopReasonEndTurn)
			return nil
		}
	}
	return genai.Errorf(genai.EBADANSWER, "the model did not answer in the requested JSON format (it did not call the tool %q that makes it)", name)
}
