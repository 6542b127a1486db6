//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package localstack

import (
	"os"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) { _ = p.Kill() }
