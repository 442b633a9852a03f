//go:build !windows

package aiotest

import (
	"errors"
	"syscall"
)

// isReset reports whether err says the connection was reset or aborted
// by the other end.
// (Linux reports a reset that finds the socket in CLOSE_WAIT as EPIPE:
// a dial whose connection the closing listener reset before the dialer
// looked at it.)
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}

// isRefused reports whether err says nobody listened at the address.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// relisten calls listen(2) again on a listening socket, with backlog n.
func relisten(fd uintptr, n int) error { return syscall.Listen(int(fd), n) }
