package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// tryNow does a socket send, or a receive whose caller asked for it
// (Record.TryNow), at once, without the ring, if the kernel can do it
// without waiting (MSG_DONTWAIT), as Go's net does before it waits for
// readiness. It reports false when the operation would have to wait:
// then it goes through the ring, which waits without a thread.
//
// Why: a socket operation that waits in io_uring completes through task
// work on the thread that submitted it, which in Go is any thread,
// often one asleep in a futex that the kernel must wake just for that,
// while it contends for the ring's lock with submitters. A 64-byte send
// on a connected socket almost never waits; a receive often finds its
// data already there under load.
func tryNow(r *core.Record) (res int32, ok bool) {
	var trap uintptr
	switch r.Kind {
	case core.KindRecv:
		trap = unix.SYS_RECVFROM
	case core.KindSend:
		trap = unix.SYS_SENDTO
	default:
		return 0, false
	}
	var p unsafe.Pointer
	if len(r.Buf) > 0 {
		p = unsafe.Pointer(&r.Buf[0])
	}
	n, _, errno := unix.Syscall6(trap, uintptr(r.FD), uintptr(p), uintptr(len(r.Buf)), uintptr(r.Flags|unix.MSG_DONTWAIT), 0, 0)
	switch errno {
	case 0:
		r.Immediate = true
		return int32(n), true
	case unix.EAGAIN, unix.EINTR:
		return 0, false
	}
	r.Immediate = true
	return -int32(errno), true
}

// busyKernel is how many requests the kernel must hold for a send to skip
// the ring. With many sockets waiting in the ring (an echo server with 64
// connections), submitters contend for the ring's lock with the task work
// of those receives and a direct send is 1.3-1.5x faster end to end; with
// a few, a send through the ring is the faster one (one connection's
// ping-pong: 0.75x against 0.6x of Go's net).
const busyKernel = 8
