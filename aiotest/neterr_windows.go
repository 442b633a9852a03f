package aiotest

import (
	"errors"
	"syscall"

	"golang.org/x/sys/windows"
)

// isReset reports whether err says the connection was reset or aborted
// by the other end.
func isReset(err error) bool {
	return errors.Is(err, windows.WSAECONNRESET) || errors.Is(err, windows.WSAECONNABORTED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED)
}

// isRefused reports whether err says nobody listened at the address.
func isRefused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, syscall.ECONNREFUSED)
}

// relisten calls listen again on a listening socket, with backlog n.
func relisten(fd uintptr, n int) error { return syscall.Listen(syscall.Handle(fd), n) }
