//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// ensureFileLimit makes sure the process may hold need descriptors,
// raising RLIMIT_NOFILE's soft limit towards the hard one if it must (Go
// raises it at start on most systems already). Not enough is a
// notApplicable.
func ensureFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // unknown: let the run find out
	}
	if uint64(lim.Cur) >= need {
		return nil
	}
	if uint64(lim.Max) >= need {
		raised := lim
		raised.Cur = raised.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			return nil
		}
	}
	return &notApplicable{reason: fmt.Sprintf("needs %d file descriptors; RLIMIT_NOFILE is %d (hard %d): raise it with ulimit -n", need, lim.Cur, lim.Max)}
}
