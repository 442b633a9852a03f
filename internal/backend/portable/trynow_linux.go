package portable

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// nowTraps are the system calls of transferNow's kinds.
var nowTraps = [...]uintptr{
	core.KindRead:  unix.SYS_READ,
	core.KindWrite: unix.SYS_WRITE,
	core.KindRecv:  unix.SYS_RECVFROM,
	core.KindSend:  unix.SYS_SENDTO,
}

// TransferNow makes a read, write, recv or send of a non-empty buf once
// on the non-blocking fd, as Attempt does, with no layer between: the
// count, or the errno (EAGAIN: it would wait). It is a raw system call,
// which allocates nothing (no error boxed, no source address decoded).
//
// It is small enough to be inlined (keep it so), and calls
// syscall.Syscall6 itself (unix.Syscall6 adds an assembly stub and an
// ABI wrapper): every frame between a caller and its system call costs
// the caller a mispredicted return once the kernel has run, about 10 ns
// each on a 2-core VM, where a frame costs 1.5 ns with no system call
// beneath it.
func TransferNow(kind core.Kind, fd int, buf []byte, flags int) (n uintptr, errno syscall.Errno) {
	n, _, errno = syscall.Syscall6(nowTraps[kind], uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)), uintptr(flags), 0, 0)
	return
}
