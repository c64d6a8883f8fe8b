//go:build unix && !linux

package mcp

import "syscall"

// childAttributes puts a stdio server in a process group of its own, so that Close can
// end it with whatever it started. Only Linux can have the kernel kill it when genai
// dies by SIGKILL; here a server must exit when its stdin closes, as MCP servers do.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills what is left of the process group pgid.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}
