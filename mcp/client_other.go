//go:build !unix

package mcp

import "syscall"

// childAttributes has nothing to add where there are no process groups: a server must
// exit when its stdin closes, as MCP servers do.
func childAttributes() *syscall.SysProcAttr { return nil }

func killGroup(int) {}
