//go:build darwin || aix || solaris || illumos

package aio

import (
	"syscall"

	"golang.org/x/sys/unix"
)

const sockCloexec = 0

func sysSocket(family, typ, proto int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, typ, proto)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

// sockNonblock: no accept4 here; the new socket is made non-blocking
// after the accept, when its File is made (see Ring.prepareFD).
const sockNonblock = 0
