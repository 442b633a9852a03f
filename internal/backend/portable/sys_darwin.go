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

// fsync flushes to stable storage as os.File.Sync does on Darwin:
// F_FULLFSYNC (fsync(2) leaves data in the drive's cache), falling back to
// fsync where the file system does not support it (SMB mounts).
func fsync(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
	if err == unix.ENOTSUP {
		err = unix.Fsync(fd)
	}
	return err
}

func fdatasync(fd int) error { return fsync(fd) }

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

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
