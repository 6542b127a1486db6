//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package localstack

import (
	"errors"
	"os"
)

func tryLock(*os.File, bool) (bool, error) {
	return false, errors.New("the local stack runs on Linux and macOS only")
}
