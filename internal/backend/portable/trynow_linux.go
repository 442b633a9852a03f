package portable

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// transferNow makes the read, write, recv or send of TryNow once on the
// non-blocking fd: a raw system call, which allocates nothing (no error
// boxed, no source address decoded). EAGAIN means not done: the
// operation is submitted.
func transferNow(kind core.Kind, fd int, buf []byte, flags int) (int, syscall.Errno) {
	var trap uintptr
	switch kind {
	case core.KindRead:
		trap = unix.SYS_READ
	case core.KindWrite:
		trap = unix.SYS_WRITE
	case core.KindRecv:
		trap = unix.SYS_RECVFROM
	case core.KindSend:
		trap = unix.SYS_SENDTO
	}
	n, _, errno := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(flags), 0, 0)
	return int(n), errno
}
