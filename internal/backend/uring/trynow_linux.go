package uring

import (
	"runtime"
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
// Why: an operation through the ring costs an io_uring_enter, a
// completion and a hand-off to the waiting goroutine on top of the
// kernel's work, about twice a cached pread; and one that waits in the
// kernel (a socket receive) completes through task work on the thread
// that submitted it, in Go any thread, often one asleep in a futex that
// the kernel must wake for it, contending for the ring's lock.
//
// Sends, and writes to streams (off -1: pipes, sockets as files), are
// tried only while the kernel holds at least busyKernel of the ring's
// requests: with a few, a send through the ring was faster.
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
			if off < 0 && d.inKernel() < busyKernel {
				return 0, false // a stream (a pipe): as a send
			}
			trap = unix.SYS_PWRITEV2
		}
		iov := unix.Iovec{Base: &buf[0]}
		iov.SetLen(len(buf))
		// off -1: the file position, or a stream.
		n, _, errno = unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, uintptr(off), uintptr(uint64(off)>>32), unix.RWF_NOWAIT)
		runtime.KeepAlive(&iov)
	case core.KindRecv, core.KindSend:
		trap := uintptr(unix.SYS_RECVFROM)
		if kind == core.KindSend {
			if d.inKernel() < busyKernel {
				return 0, false
			}
			trap = unix.SYS_SENDTO
		}
		n, _, errno = unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
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

// busyKernel is how many requests the kernel must hold for a send to skip
// the ring. With many sockets waiting in the ring (an echo server with 64
// connections), submitters contend for the ring's lock with the task work
// of those receives and a direct send was 1.3-1.5x faster end to end;
// with a few, a send through the ring was the faster one (one
// connection's ping-pong: 0.75x against 0.6x of Go's net).
const busyKernel = 8
