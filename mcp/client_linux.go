package mcp

import "syscall"

// childAttributes puts a stdio server in a process group of its own, so that Close can
// end it with whatever it started, and has the kernel kill it when genai dies, even by
// SIGKILL, which no cleanup of ours survives. Pdeathsig fires when the thread that
// started the child ends: Client.spawner starts them all on a thread that lives until
// Close.
func childAttributes() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills what is left of the process group pgid.
func killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}
