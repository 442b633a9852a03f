//go:build unix

package portable

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// TryNow does a blocking call's operation at once, in the calling
// goroutine, when the kernel need not wait for it (core.DirectDoer): a
// read of a regular file's cached data (preadv2 with RWF_NOWAIT, Linux
// only), or a read, write, receive or send on a pollable descriptor,
// which this driver made non-blocking (see attachPollable). Otherwise
// (ok false) the operation is submitted: to the workers or the netpoller.
// A regular file's write is never tried: TryNow reports EOPNOTSUPP, the
// kernel's answer for ext4's buffered writes under RWF_NOWAIT, so that
// the caller makes it itself. Like the page-cache fast path in Submit, it
// is all off with Options.NoWait false (AIO_PORTABLE_NOWAIT=0).
func (d *Driver) TryNow(kind core.Kind, fd int, handle any, buf []byte, off int64, flags int) (int32, bool) {
	fs, _ := handle.(*fileState)
	if !d.noWait || fs == nil || len(buf) == 0 {
		return 0, false
	}
	if !fs.pollable {
		switch {
		case fs.blocking:
		case kind == core.KindRead && !fs.noWaitRefused.Load():
			// readNoWait, with its system call made in this frame.
			iov := unix.Iovec{Base: &buf[0]}
			iov.SetLen(len(buf))
			n, errno := preadNoWait(fd, &iov, off)
			return noWaitResult(n, errno, fs)
		case kind == core.KindWrite:
			// A regular file's write cannot be tried without waiting here:
			// say so, and the caller writes in its own thread (see the aio
			// package's mechanism.go) instead of handing it to a worker.
			return -int32(unix.EOPNOTSUPP), false
		}
		return 0, false
	}
	switch kind {
	case core.KindRead, core.KindWrite:
		if off >= 0 {
			return 0, false // a position on a stream: let the submission say why not
		}
		flags = 0
	case core.KindRecv, core.KindSend:
	default:
		return 0, false
	}
	n, errno := TransferNow(kind, fd, buf, flags)
	switch errno {
	case 0:
		return int32(n), true
	case unix.EAGAIN, unix.EINTR:
		return 0, false
	}
	return -int32(errno), true
}

// noWaitResult is readNoWait's result for the count or the errno of its
// preadv2 (see preadNoWait).
func noWaitResult(n uintptr, errno syscall.Errno, fs *fileState) (res int32, ok bool) {
	switch errno {
	case 0:
		// 0 would mean end of file; a worker's pread confirms it, so a
		// NOWAIT quirk can never turn into a false EOF.
		return int32(n), n > 0
	case unix.EOPNOTSUPP, unix.EINVAL, unix.ENOSYS:
		fs.noWaitRefused.Store(true) // this file system or kernel cannot
	}
	return 0, false
}
