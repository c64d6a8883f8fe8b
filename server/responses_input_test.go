package server

import (
	"strings"
	"testing"

	"genai"
)

// Each field or item the Responses API decoder does not take is refused by name, with
// the rule, never dropped.
func TestParseResponseRequestRefusals(t *testing.T) {
	const png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	for _, c := range []struct{ body, field, rule string }{
		{`{"input":"hi","reasoning":{"effort":"extreme"}}`, "reasoning.effort", "must be"},
		{`{"input":"hi","reasoning":{"summary":"verbose"}}`, "reasoning.summary", "must be"},
		{`{"input":"hi","reasoning":{"effort":"low","generate_summary":"auto"}}`, "reasoning.generate_summary", "not supported"},
		{`{"input":[{"type":"reasoning","id":"rs_1","summary":[]}]}`, "input[0].encrypted_content", "required"},
		{`{"input":[{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAAAB"}]}`, "input[0].encrypted_content", "not the encrypted_content"},
		{`{}`, "input", "required"},
		{`{"input":[]}`, "input", "at least one item"},
		{`{"input":[{"type":"item_reference","id":"x"}]}`, "input[0].type", `"item_reference" is not supported`},
		{`{"input":[{"role":"tool","content":"x"}]}`, "input[0].role", `"tool" is not`},
		{`{"input":[{"role":"user","content":"x","name":"bob"}]}`, "input[0].name", "not supported"},
		{`{"input":[{"role":"user","content":[{"type":"input_text","text":"x","cache_control":{}}]}]}`, "input[0].content[0].cache_control", "not supported"},
		{`{"input":[{"role":"user","content":[{"type":"output_text","text":"x"}]}]}`, "input[0].content[0].type", "assistant"},
		{`{"input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, "input[0].content[0].file_id", "keeps no uploaded files"},
		{`{"input":[{"role":"user","content":[{"type":"input_image","image_url":"https://example.com/a.png"}]}]}`, "input[0].content[0].image_url", "data URL"},
		{`{"input":[{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]}`, "input[0].content[0].file_id", "files are not supported"},
		{`{"input":[{"role":"user","content":[{"type":"input_image","image_url":"` + png + `","detail":"high"}]}]}`, "input[0].content[0].detail", `only "auto"`},
		{`{"input":[{"role":"system","content":[{"type":"input_image","image_url":"` + png + `"}]}]}`, "input[0].content[0]", "only in user messages"},
		{`{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":"[1]"}]}`, "input[0].arguments", "JSON object"},
		{`{"input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id", "required"},
		{`{"input":[{"type":"function_call_output","call_id":"c"}]}`, "input[0].output", "required"},
		{`{"input":[{"type":"mcp_call","id":"mcp_1","server_label":"notes","name":"search_notes","arguments":"{}","foo":1}]}`, "input[0].foo", "not supported"},
		{`{"input":"hi","tools":[{"type":"web_search"}]}`, "tools[0].type", `only "function"`},
		{`{"input":"hi","tools":[{"type":"function","name":"f","defer_loading":true}]}`, "tools[0].defer_loading", "not supported"},
		{`{"input":"hi","tool_choice":"any"}`, "tool_choice", `"any" is not`},
		{`{"input":"hi","tool_choice":{"type":"allowed_tools"}}`, "tool_choice.type", "only"},
		{`{"input":"hi","max_output_tokens":0}`, "max_output_tokens", "from 1"},
		{`{"input":"hi","previous_response_id":""}`, "previous_response_id", "response id"},
		{`{"input":"hi","metadata":{"k":"` + strings.Repeat("v", 513) + `"}}`, "metadata", "over 512"},
		{`{"input":"hi","text":{"format":{"type":"json_object"}}}`, "text", "only"},
		{`{"input":"hi","truncation":"auto"}`, "truncation", "only"},
		{`{"input":"hi","include":["file_search_call.results"]}`, "include[0]", "not supported"},
		{`{"input":[{"role":"user","content":[{"type":"input_file","file_url":"https://example.com/a.pdf"}]}]}`, "input[0].content[0].file_url", "not supported"},
		{`{"input":[{"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_data":"not a data url"}]}]}`, "input[0].content[0].file_data", "data URL"},
	} {
		_, err := parseResponseRequest([]byte(c.body))
		msg := genai.ErrorMessage(err)
		if genai.ErrorCode(err) != genai.EINVALID || !strings.HasPrefix(msg, c.field+": ") || !strings.Contains(msg, c.rule) {
			t.Errorf("%s\n  got %v, want %s: …%s…", c.body, err, c.field, c.rule)
		}
	}
}

// What the decoder takes becomes the conversation: system and developer messages the
// system prompt, a function call joined to the assistant's text, its output and the
// user's next words one user turn, output items sent back as input taken.
func TestParseResponseRequestConversation(t *testing.T) {
	p, err := parseResponseRequest([]byte(`{"input":[
		{"role":"developer","content":"be brief"},
		{"role":"user","content":"Paris"},
		{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Calling.","annotations":[],"logprobs":[]}]},
		{"type":"function_call","id":"fc_1","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},
		{"type":"function_call_output","call_id":"c1","output":"18 C"},
		{"role":"user","content":[{"type":"input_text","text":"and tomorrow?"}]}],
		"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object"},"strict":true}],
		"tool_choice":{"type":"function","name":"get_weather"},"parallel_tool_calls":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.system != "be brief" || len(p.input) != 3 {
		t.Fatalf("system %q, %d messages", p.system, len(p.input))
	}
	a, u := p.input[1], p.input[2]
	if a.Role != genai.RoleAssistant || len(a.Content) != 2 || a.Content[1].ToolUse.ID != "c1" || string(a.Content[1].ToolUse.Input) != `{"city":"Paris"}` {
		t.Errorf("assistant turn %+v", a)
	}
	if u.Role != genai.RoleUser || len(u.Content) != 2 || u.Content[0].ToolResult.ToolUseID != "c1" || u.Content[1].Text != "and tomorrow?" {
		t.Errorf("user turn %+v", u)
	}
	if c := p.req.ToolChoice; c == nil || c.Type != genai.ToolChoiceTool || c.Name != "get_weather" || !c.DisableParallel {
		t.Errorf("tool choice %+v", c)
	}
	if len(p.tools) != 1 || !p.tools[0].Strict {
		t.Errorf("tools echo %+v", p.tools)
	}
}
