package genai_test

import (
	"strings"
	"testing"

	"genai"
)

// server_tools names built-in groups and MCP servers' groups, "mcp:NAME"; anything else
// is refused naming the entry.
func TestServerToolGroupNames(t *testing.T) {
	for _, name := range []string{"knowledge_base", "mcp:everything", "mcp:my-server_2"} {
		req, _, err := genai.ParseChatRequest([]byte(`{"messages":[{"role":"user","content":"hi"}],"server_tools":["` + name + `"]}`))
		if err != nil || len(req.ServerTools) != 1 || req.ServerTools[0] != name {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", "mcp:", ":x", "mcp:a:b", "mcp:a b"} {
		_, _, err := genai.ParseChatRequest([]byte(`{"messages":[{"role":"user","content":"hi"}],"server_tools":["` + name + `"]}`))
		if genai.ErrorCode(err) != genai.EINVALID || !strings.Contains(err.Error(), "server_tools[0]") {
			t.Errorf("%q: %v", name, err)
		}
	}
}
