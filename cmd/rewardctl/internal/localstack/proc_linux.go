package localstack

import (
	"os"
	"syscall"
)

// childAttr puts the emulators in a process group of their own, so that
// they are stopped by the stack (in order) rather than by a terminal's
// Ctrl-C, and has the kernel signal them should the stack die without
// stopping them (SIGKILL).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// killGroup kills a child and everything in its process group.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
