package genai_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"genai"
)

const weatherTool = `{"name":"get_weather","description":"Weather of a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}`

// toolRoundTrip is a conversation with a call and its result, as a client sends it back.
func toolRoundTrip(result string) string {
	return `{"tools":[` + weatherTool + `],"tool_choice":{"type":"auto"},"messages":[
	  {"role":"user","content":"Weather in Paris?"},
	  {"role":"assistant","content":[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{ "city" : "Paris" }}]},
	  {"role":"user","content":[` + result + `]}]}`
}

func TestParseChatRequestTools(t *testing.T) {
	img := imageBlock("image/png", pngBytes)
	req, _, err := genai.ParseChatRequest([]byte(toolRoundTrip(
		`{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"{\"temp\":21}"},` + img + `],"is_error":false},{"type":"text","text":"thanks"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Tools) != 1 || req.Tools[0].Name != "get_weather" || req.Tools[0].Description != "Weather of a city" ||
		string(req.Tools[0].InputSchema) != `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}` {
		t.Errorf("tools: %+v", req.Tools)
	}
	if req.ToolChoice == nil || req.ToolChoice.Type != genai.ToolChoiceAuto {
		t.Errorf("tool_choice: %+v", req.ToolChoice)
	}
	use := req.Messages[1].Content[1]
	if use.Type != genai.BlockToolUse || use.ToolUse.ID != "toolu_1" || use.ToolUse.Name != "get_weather" || string(use.ToolUse.Input) != `{"city":"Paris"}` {
		t.Errorf("tool_use: %+v %+v", use, use.ToolUse)
	}
	if got := req.Messages[1].Text(); got != "Let me look." {
		t.Errorf("Text() = %q: a tool call is not text", got)
	}
	res := req.Messages[2].Content[0]
	if res.Type != genai.BlockToolResult || res.ToolResult.ToolUseID != "toolu_1" || res.ToolResult.IsError ||
		len(res.ToolResult.Content) != 2 || res.ToolResult.Content[0].Text != `{"temp":21}` || res.ToolResult.Content[1].Image.Format != "png" {
		t.Errorf("tool_result: %+v %+v", res, res.ToolResult)
	}
	if got := req.Messages[2].Text(); got != "thanks" {
		t.Errorf("Text() = %q: a tool result is not text", got)
	}

	req, _, err = genai.ParseChatRequest([]byte(toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","content":"no such city","is_error":true}`)))
	if err != nil {
		t.Fatal(err)
	}
	if r := req.Messages[2].Content[0].ToolResult; !r.IsError || r.Content[0].Text != "no such city" {
		t.Errorf("string content / is_error: %+v", r)
	}
	for _, choice := range []string{`{"type":"any"}`, `{"type":"none"}`, `{"type":"tool","name":"get_weather"}`, `{"type":"auto","disable_parallel_tool_use":false}`} {
		body := `{"tools":[` + weatherTool + `],"tool_choice":` + choice + `,"messages":[{"role":"user","content":"a"}]}`
		if _, _, err := genai.ParseChatRequest([]byte(body)); err != nil {
			t.Errorf("tool_choice %s: %v", choice, err)
		}
	}
	body := `{"tools":[` + weatherTool + `],"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"messages":[{"role":"user","content":"a"}]}`
	if req, _, err := genai.ParseChatRequest([]byte(body)); err != nil || !req.ToolChoice.DisableParallel {
		t.Errorf("disable_parallel_tool_use: true must reach the provider: %+v, %v", req, err)
	}
}

func TestParseChatRequestRejectsTools(t *testing.T) {
	user := `"messages":[{"role":"user","content":"a"}]`
	tool := func(name, schema string) string {
		return `{"name":"` + name + `","input_schema":` + schema + `}`
	}
	ok := tool("f", `{"type":"object"}`)
	for _, tc := range []struct{ name, body, code, msg string }{
		{"bad name", `{"tools":[` + tool("get weather", `{"type":"object"}`) + `],` + user + `}`, genai.EINVALID, `tools[0].name: "get weather" must match`},
		{"long name", `{"tools":[` + tool(strings.Repeat("a", 65), `{"type":"object"}`) + `],` + user + `}`, genai.EINVALID, "tools[0].name:"},
		{"empty name", `{"tools":[` + tool("", `{"type":"object"}`) + `],` + user + `}`, genai.EINVALID, "tools[0].name:"},
		{"duplicate", `{"tools":[` + ok + `,` + ok + `],` + user + `}`, genai.EINVALID, `tools[1].name: "f" is defined twice`},
		{"no schema", `{"tools":[{"name":"f"}],` + user + `}`, genai.EINVALID, "tools[0].input_schema: required"},
		{"schema not object", `{"tools":[` + tool("f", `[1]`) + `],` + user + `}`, genai.EINVALID, "tools[0].input_schema: must be a JSON object"},
		{"schema type", `{"tools":[` + tool("f", `{"type":"string"}`) + `],` + user + `}`, genai.EINVALID, `tools[0].input_schema.type: must be "object", got "string"`},
		{"schema no type", `{"tools":[` + tool("f", `{"properties":{}}`) + `],` + user + `}`, genai.EINVALID, `tools[0].input_schema.type: must be "object", got nothing`},
		{"server tool", `{"tools":[{"type":"web_search_20250305","name":"web_search"}],` + user + `}`, genai.EINVALID, `tools[0].type: "web_search_20250305" is not supported`},
		{"tools not array", `{"tools":{},` + user + `}`, genai.EINVALID, "tools: expected an array"},
		{"name type", `{"tools":[{"name":5,"input_schema":{"type":"object"}}],` + user + `}`, genai.EINVALID, "tools[0].name: expected a string"},
		{"choice unknown tool", `{"tools":[` + ok + `],"tool_choice":{"type":"tool","name":"g"},` + user + `}`, genai.EINVALID, `tool_choice.name: "g" is not one of the tools`},
		{"choice type", `{"tools":[` + ok + `],"tool_choice":{"type":"required"},` + user + `}`, genai.EINVALID, `tool_choice.type: must be "auto", "any", "tool" or "none"`},
		{"choice any no tools", `{"tool_choice":{"type":"any"},` + user + `}`, genai.EINVALID, `tool_choice.type: "any" needs tools`},
		{"choice no type", `{"tools":[` + ok + `],"tool_choice":{},` + user + `}`, genai.EINVALID, "tool_choice.type: required"},
		{"choice name with auto", `{"tools":[` + ok + `],"tool_choice":{"type":"auto","name":"f"},` + user + `}`, genai.EINVALID, "tool_choice.name: only with type"},
		{"choice unknown field", `{"tools":[` + ok + `],"tool_choice":{"type":"auto","x":1},` + user + `}`, genai.EINVALID, "tool_choice.x: not supported"},
		{"tool_use from user", `{"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}`, genai.EINVALID, "messages[0].content[0]: tool_use blocks are allowed only in assistant messages"},
		{"tool_result from assistant", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, genai.EINVALID, "messages[1].content[0]: tool_result blocks are allowed only in user messages"},
		{"result without call", toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_9","content":"x"}`), genai.EINVALID, `messages[2].content[0].tool_use_id: "toolu_9" is not a tool_use of the assistant message before it`},
		{"result not right after", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]},{"role":"assistant","content":"ok"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, genai.EINVALID, "messages[4].content[0].tool_use_id"},
		{"tool_use no id", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`, genai.EINVALID, "messages[1].content[0].id: required"},
		{"tool_use input array", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}]}`, genai.EINVALID, "messages[1].content[0].input: must be a JSON object"},
		{"tool_use no input", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f"}]}]}`, genai.EINVALID, "messages[1].content[0].input: required"},
		{"tool_use bad name", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"a b","input":{}}]}]}`, genai.EINVALID, "messages[1].content[0].name:"},
		{"tool_use duplicate id", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}},{"type":"tool_use","id":"t","name":"f","input":{}}]}]}`, genai.EINVALID, `messages[1].content[1].id: "t" is used twice`},
		{"tool_use unknown field", `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"cache_control":{}}]}]}`, genai.EINVALID, "messages[1].content[0].cache_control: not supported"},
		{"result no id", toolRoundTrip(`{"type":"tool_result","content":"x"}`), genai.EINVALID, "messages[2].content[0].tool_use_id: required"},
		{"result nested tool_use", toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"tool_use","id":"x","name":"f","input":{}}]}`), genai.EINVALID, `messages[2].content[0].content[0].type: "tool_use" is not "text" or "image"`},
		{"result content type", toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","content":5}`), genai.EINVALID, "messages[2].content[0].content: expected a string or an array"},
		{"result is_error type", toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","is_error":"yes"}`), genai.EINVALID, "messages[2].content[0].is_error: expected a bool"},
		{"result bad image", toolRoundTrip(`{"type":"tool_result","tool_use_id":"toolu_1","content":[` + imageBlock("image/png", []byte("nope")) + `]}`), genai.EMEDIATYPE, "messages[2].content[0].content[0].source.data: bytes are not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := genai.ParseChatRequest([]byte(tc.body))
			if genai.ErrorCode(err) != tc.code || !strings.Contains(genai.ErrorMessage(err), tc.msg) {
				t.Errorf("got %v; want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
}

// Images inside tool results count towards the request's limit.
func TestValidateCountsToolResultImages(t *testing.T) {
	im := genai.ContentBlock{Type: genai.BlockImage, Image: &genai.Image{Format: "png", Data: pngBytes}}
	var content []genai.ContentBlock
	for range genai.MaxImages + 1 {
		content = append(content, im)
	}
	req := &genai.ChatRequest{Messages: []genai.Message{
		genai.TextMessage(genai.RoleUser, "a"),
		{Role: genai.RoleAssistant, Content: []genai.ContentBlock{{Type: genai.BlockToolUse, ToolUse: &genai.ToolUse{ID: "t", Name: "f", Input: []byte(`{}`)}}}},
		{Role: genai.RoleUser, Content: []genai.ContentBlock{{Type: genai.BlockToolResult, ToolResult: &genai.ToolResult{ToolUseID: "t", Content: content}}}},
	}}
	if err := req.Validate(); genai.ErrorCode(err) != genai.ETOOLARGE {
		t.Errorf("got %v, want too_large for %d images", err, genai.MaxImages+1)
	}
	_ = base64.StdEncoding
}
