package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"genai/bedrock/bedrocktest"
	"genai/mcp"
	"genai/mcptest"
)

// The chat page lists the MCP servers under the tool switch: a connected one with its
// tools, a failing one with the reason. Turning a server on lets the model call its
// tools; the call and its result show as the knowledge base's do.
func TestBrowserChatUsesAnMCPServer(t *testing.T) {
	cmd, args := mcptest.Everything(t)
	client := mcp.StartClient([]mcp.ServerConfig{
		{Name: "everything", Command: cmd, Args: args},
		{Name: "silent", Command: "sleep", Args: []string{"600"}},
	}, mcp.ClientOptions{StartTimeout: 2 * time.Second})
	t.Cleanup(func() { client.Close() })
	a := newApp(t, appOptions{upstream: &bedrocktest.Options{}, serverTools: client.Groups(), mcpServers: client.Status})
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if st := client.Status(); st[0].State == "connected" && st[1].State == "failing" {
			break
		}
	}
	a.do("open the chat page", chromedp.Navigate(a.url+"/"), chromedp.WaitVisible(chromedp.ID("prompt")))
	const row = `document.querySelector('#mcp-tools .mcp-server[data-name="%s"]')`
	everything, silent := strings.ReplaceAll(row, "%s", "everything"), strings.ReplaceAll(row, "%s", "silent")
	a.waitFor("the MCP servers", `!document.getElementById('mcp-tools').hidden && `+everything+` && `+silent)
	if got := eval[string](a, everything+`.querySelector('.mcp-state').textContent`); !strings.HasSuffix(got, " tools") {
		t.Errorf("the connected server's state %q", got)
	}
	tools := eval[[]string](a, `[...`+everything+`.querySelectorAll('.mcp-tool')].map((e) => e.textContent)`)
	if len(tools) < 10 || tools[0] != "echo" || eval[string](a, everything+`.querySelector('.mcp-tool').title`) != "everything__echo: Echoes back the input string" {
		t.Errorf("the server's tools %v", tools)
	}
	if got := eval[string](a, silent+`.querySelector('.mcp-state').textContent`); got != "failing: did not start: no answer within 2s; retrying" {
		t.Errorf("the failing server's state %q", got)
	}

	a.do("turn on the server's tools", chromedp.Click(chromedp.CSS(`#mcp-tools .mcp-server[data-name="everything"] input`)))
	a.send("hello over MCP")
	a.waitAnswerDone()
	a.waitFor("the tool call's line", lastAnswer+`.querySelector('.tool-call .tool-name')?.textContent === 'everything__echo' && `+
		lastAnswer+`.querySelector('.tool-call .tool-state')?.textContent === 'done'`)
	a.do("open the call", chromedp.Click(chromedp.CSS(`#log .msg.assistant:last-child .tool-summary`)))
	if got := eval[string](a, lastAnswer+`.querySelector('.tool-call .tool-result').textContent`); got != "Echo: hello over MCP" {
		t.Errorf("tool result %q", got)
	}
	if got := eval[string](a, lastAnswer+`.querySelector('.msg-body').textContent`); !strings.Contains(got, "Tool tooluse_1_0 returned Echo: hello over MCP.") {
		t.Errorf("answer %q", got)
	}
	if tc := a.upstream.Requests()[0].ToolConfig; tc == nil || tc.Tools[0].ToolSpec.Name != "everything__echo" {
		t.Errorf("the model was offered %+v", tc)
	}
	a.screenshot("chat-mcp")
}
