// Package mcp connects genai to the Model Context Protocol through the official Go SDK,
// both ways: as a server (server*.go), the tools genai runs itself (genai.ToolRunner:
// the knowledge base, the notes) and the knowledge base's documents offered to any MCP
// client over Streamable HTTP or stdio; as a client (client*.go), the tools of other
// MCP servers offered to genai's agent as genai.ToolRunner values.
package mcp
