//go:build unix && !linux && !darwin

package portable

import (
	"syscall"

	"golang.org/x/sys/unix"
)

const noWaitSupported = false

func readNoWait(fd int, p []byte, off int64, fs *fileState) (int32, bool) { return 0, false }

func preadNoWait(fd int, iov *unix.Iovec, off int64) (uintptr, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func fsync(fd int) error     { return unix.Fsync(fd) }
func fdatasync(fd int) error { return unix.Fsync(fd) } // not every Unix has fdatasync(2)

// dupCloexec duplicates fd close-on-exec; F_DUPFD_CLOEXEC is not on every
// Unix, so dup under ForkLock (no exec can copy the duplicate before it
// is marked).
func dupCloexec(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := unix.Dup(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	return nfd, err
}

// accept takes a connection from the listening fd, close-on-exec (there is
// no accept4 here, or x/sys lacks it: accept, then mark it under ForkLock).
func accept(fd, flags int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	return nfd, err
}
