//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package localstack

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an advisory lock on f without waiting: exclusive for the
// stack that owns the directory, shared for a command that only checks
// that the owner is alive. It reports false when another process holds a
// conflicting lock. The lock ends with the process, however it ends.
func tryLock(f *os.File, exclusive bool) (bool, error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !exclusive {
		// Only a check: let it go at once.
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	}
	return true, nil
}
