//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime returns the user and system CPU time the process has used so
// far, all threads together (getrusage(RUSAGE_SELF)).
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// ctxSwitches returns the context switches of the process so far,
// voluntary and involuntary, all threads together (getrusage(RUSAGE_SELF):
// on Linux that includes io_uring's worker and SQPOLL threads, which are
// threads of the process).
func ctxSwitches() (uint64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return uint64(ru.Nvcsw) + uint64(ru.Nivcsw), true
}
