//go:build unix && !linux

package portable

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// TransferNow makes a read, write, recv or send of a non-empty buf once
// on the non-blocking fd, as Attempt does: the count, or the errno
// (EAGAIN: it would wait). It goes through x/sys's wrappers: on macOS and OpenBSD the
// system call numbers are no stable ABI and libc is the way in (as Go
// itself goes), and Solaris, illumos and AIX have no syscall(2) at all.
// None of these calls allocates: the errors are errnos, and no source
// address is decoded. EAGAIN means not done: the operation is submitted.
func TransferNow(kind core.Kind, fd int, buf []byte, flags int) (uintptr, syscall.Errno) {
	var n int
	var err error
	switch kind {
	case core.KindRead:
		n, err = unix.Read(fd, buf)
	case core.KindWrite:
		n, err = unix.Write(fd, buf)
	case core.KindRecv:
		if flags != 0 {
			// unix.Recvfrom would decode (and allocate) the source
			// address of a connected datagram socket: the submission
			// receives it.
			return 0, unix.EAGAIN
		}
		n, err = unix.Read(fd, buf) // recv(2) without flags is read(2)
	case core.KindSend:
		n, err = unix.SendmsgN(fd, buf, nil, nil, flags)
	}
	if err != nil {
		errno, ok := err.(syscall.Errno)
		if !ok {
			errno = unix.EAGAIN // not an errno: leave it to the submission
		}
		return 0, errno
	}
	return uintptr(n), 0
}
