package genai

import (
	"context"
	"encoding/json"
	"strings"
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

// ValidToolGroupName reports whether name can name a group of server tools: a valid tool
// name, or two joined by one ':' ("mcp:NAME", the tools of an MCP server).
func ValidToolGroupName(name string) bool {
	kind, rest, found := strings.Cut(name, ":")
	return len(name) <= MaxToolNameLength && ValidToolName(kind) && (!found || ValidToolName(rest))
}
