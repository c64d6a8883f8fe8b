package genai

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// MaxServerTools bounds ChatRequest.ServerTools.
const MaxServerTools = 8

// ToolRunner is a tool the server runs itself — a search of the knowledge base or of the
// notes, a tool of an MCP server — so that a model can act without the client's help.
// The agent loop offers Tool to the model and calls Run for each call the model makes;
// it does not know where a tool comes from.
//
// Run calls the tool with input, a JSON object the model wrote (check it: a model can
// get a schema wrong), under ctx, which ends when the request does or the call's time
// is up. An error goes back to the model as an error result; it must name what was
// wrong in words safe to show.
type ToolRunner interface {
	Tool() Tool
	Run(ctx context.Context, input json.RawMessage) (*ToolOutput, error)
}

// ToolOutput is what a ToolRunner returns: the result's content for the model, and the
// sources it drew on, numbered from 1, for the caller to show as citations. IsError marks
// content that tells the model the tool failed (an MCP result's isError), so that the
// model sees the failure with all of its content rather than a bare message.
type ToolOutput struct {
	Content   []ContentBlock
	Citations []Citation
	IsError   bool
}

// The states of an MCPServer.
const (
	MCPStarting  = "starting"  // connecting for the first time
	MCPConnected = "connected" // its tools are offered
	MCPFailing   = "failing"   // down: Error says why; it is restarted with backoff
)

// MCPServer is the state of an MCP server whose tools the agent may use, as /api/config
// shows it.
type MCPServer struct {
	Name string `json:"name"`
	// Group is what a request's server_tools names to turn the tools on: "mcp:" + Name.
	Group     string `json:"group"`
	Transport string `json:"transport"` // "stdio" or "http"
	State     string `json:"state"`     // MCPStarting, MCPConnected or MCPFailing
	// Error says why a failing server failed; it is restarted at RetryAt. Restarts
	// counts the restarts so far.
	Error    string     `json:"error,omitempty"`
	RetryAt  *time.Time `json:"retry_at,omitempty"`
	Restarts int        `json:"restarts"`
	// Tools are the tools offered now, by the names the model sees.
	Tools []ToolInfo `json:"tools"`
}

// ToolInfo names a tool and says what it does, for people choosing tools.
type ToolInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// validGroupName reports whether name can name a group of server tools: a tool name
// (^[a-zA-Z0-9_-]{1,64}$), optionally after the prefix "mcp:" of an MCP server's group.
func validGroupName(name string) bool {
	rest, _ := strings.CutPrefix(name, "mcp:")
	return ValidToolName(rest)
}

type toolCallKey struct{}

// WithToolCallID returns ctx carrying the id of the tool call a ToolRunner's Run serves
// (the model's ToolUse.ID), for what observes the call, such as a trace.
func WithToolCallID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, toolCallKey{}, id)
}

// ToolCallID returns the id of the tool call ctx was made for by WithToolCallID, or "".
func ToolCallID(ctx context.Context) string {
	id, _ := ctx.Value(toolCallKey{}).(string)
	return id
}
