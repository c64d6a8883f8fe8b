package genai

import (
	"context"
	"encoding/json"
	"slices"
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
// sources it drew on, numbered from 1, for the caller to show as citations.
type ToolOutput struct {
	Content   []ContentBlock
	Citations []Citation
}

// validateServerTools checks r.ServerTools: at most MaxServerTools group names, each a
// tool-style name named once. Whether the server has the group is the server's to say.
func (r *ChatRequest) validateServerTools() error {
	if len(r.ServerTools) > MaxServerTools {
		return Errorf(EINVALID, "server_tools: at most %d, got %d", MaxServerTools, len(r.ServerTools))
	}
	for i, name := range r.ServerTools {
		if !ValidToolName(name) || slices.Contains(r.ServerTools[:i], name) {
			return Errorf(EINVALID, "server_tools[%d]: %q is not a tool group name, or is named twice", i, name)
		}
	}
	return nil
}
