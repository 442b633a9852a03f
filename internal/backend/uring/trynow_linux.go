package uring

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// TryNow does a read, write, receive or send at once, in the calling
// goroutine and without the ring, if the kernel can do it without
// waiting (core.DirectDoer): preadv2/pwritev2 with RWF_NOWAIT (cached
// file data, a pipe with data or room), recvfrom/sendto with
// MSG_DONTWAIT. It reports false when the operation would have to wait;
// then it goes through the ring, which waits without holding a thread.
//
// Why: an operation through the ring costs a hand-off to the ring's
// owner, a completion and a hand-off back to the waiting goroutine on
// top of the kernel's work, several times a cached pread.
//
// It touches nothing of the ring: a File holds no ring reference while
// it runs (see aio's File.tryNow). Sockets and pipes whose description is
// aio's never come here (their blocking calls take the readiness path);
// an adopted blocking socket does, and MSG_DONTWAIT leaves its flags
// alone.
func (d *Driver) TryNow(kind core.Kind, fd int, _ any, buf []byte, off int64, flags int) (int32, bool) {
	if len(buf) == 0 {
		return 0, false
	}
	var n uintptr
	var errno unix.Errno
	switch kind {
	case core.KindRead, core.KindWrite:
		trap := uintptr(unix.SYS_PREADV2)
		if kind == core.KindWrite {
			trap = unix.SYS_PWRITEV2
		}
		iov := unix.Iovec{Base: &buf[0]}
		iov.SetLen(len(buf))
		// off -1: the file position, or a stream.
		n, _, errno = syscall.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, uintptr(off), uintptr(uint64(off)>>32), unix.RWF_NOWAIT)
		runtime.KeepAlive(&iov)
	case core.KindRecv, core.KindSend:
		trap := uintptr(unix.SYS_RECVFROM)
		if kind == core.KindSend {
			trap = unix.SYS_SENDTO
		}
		n, _, errno = syscall.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
	default:
		return 0, false
	}
	runtime.KeepAlive(buf)
	switch errno {
	case 0:
		if n == 0 && kind == core.KindRead {
			// End of file, or of a pipe's stream: let the ring confirm
			// it, so that no RWF_NOWAIT quirk can ever fake an EOF.
			return 0, false
		}
		return int32(n), true
	case unix.EAGAIN, unix.EINTR:
		return 0, false // would wait
	case unix.EOPNOTSUPP:
		// RWF_NOWAIT is not supported for this file (ext4's buffered
		// writes): the ring can still do the operation, and will have to.
		return -int32(unix.EOPNOTSUPP), false
	case unix.EINVAL:
		return 0, false // let the ring report it, if it is an error there too
	}
	return -int32(errno), true
}
