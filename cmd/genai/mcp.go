package main

import (
	"context"
	"fmt"
	"os"

	"genai"
	"genai/agent"
	"genai/mcp"
)

// mcpServer is genai as an MCP server: the knowledge base's tools, ingestion of text
// documents when the knowledge base is local, the notes' tools, and the documents as
// resources. The same server runs at /mcp and on stdio ("genai mcp").
func (m *Main) mcpServer(kb genai.KnowledgeBase, docs genai.DocumentService) *mcp.Server {
	opts := mcp.ServerOptions{Version: version, Logger: m.Logger, Stateless: m.Config.MCPStateless}
	if docs != nil {
		opts.Documents = docs
	}
	opts.Tools = func() []genai.ToolRunner {
		tools := agent.KnowledgeBaseTools(kb, docs)
		if docs != nil {
			tools = append(tools, agent.IngestTools(docs)...)
		}
		return append(tools, agent.NoteTools(m.notes)...)
	}
	return mcp.NewServer(opts)
}

// mcpCommand runs "genai mcp": the MCP server on standard input and output, for a
// desktop assistant that launches it. Standard output carries the protocol alone: logs
// go to standard error, and anything else that writes to os.Stdout is sent there too.
func mcpCommand(ctx context.Context, args []string, getenv func(string) string) error {
	m := NewMain()
	if err := m.ParseFlags(args, getenv); err != nil {
		return err
	}
	out := os.Stdout
	os.Stdout = os.Stderr
	var err error
	if m.notes, err = m.openNotes(ctx); err != nil {
		return err
	}
	defer m.notes.Store.Close()
	// No chat model: the tools retrieve, and need none.
	kb, docs, err := m.knowledgeBase(ctx, m.notes, nil, "")
	if err != nil {
		return err
	}
	m.Logger.Info("genai MCP server on stdio", "store", m.Config.Store, "knowledge_base", m.Config.KB, "data_dir", m.Config.DataDir)
	if err := m.mcpServer(kb, docs).Serve(ctx, os.Stdin, out); err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	return nil
}
