package portable

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noWaitSupported: preadv2(RWF_NOWAIT) exists here (Linux 4.14 and later;
// older kernels refuse the flag and readNoWait stops trying).
const noWaitSupported = true

// readNoWait reads p at off (off < 0: the file position) only if the data
// is in the page cache: ok reports that res is the operation's result.
// Otherwise (not cached, end of file to be confirmed, the file or the
// kernel refusing the flag) a worker does the read.
func readNoWait(fd int, p []byte, off int64, fs *fileState) (res int32, ok bool) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	n, errno := preadNoWait(fd, &iov, off)
	return noWaitResult(n, errno, fs)
}

// preadNoWait makes readNoWait's system call, preadv2 of iov with
// RWF_NOWAIT. It is small enough to be inlined (keep it so), into TryNow
// too: every frame a call returns through after its system call costs
// the caller (see TransferNow).
//
// preadv2 takes the offset as two longs, pos_l and pos_h, joined as
// ((pos_h << half a long's bits) << half a long's bits) | pos_l: the high
// 32 bits on a 32-bit system, ignored on a 64-bit one.
func preadNoWait(fd int, iov *unix.Iovec, off int64) (n uintptr, errno syscall.Errno) {
	n, _, errno = syscall.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(iov)), 1, uintptr(off), uintptr(uint64(off)>>32), unix.RWF_NOWAIT)
	return
}

func fsync(fd int) error     { return unix.Fsync(fd) }
func fdatasync(fd int) error { return unix.Fdatasync(fd) }

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// accept takes a connection from the listening fd: accept4 with the
// record's flags (SOCK_CLOEXEC from the library).
func accept(fd, flags int) (int, error) {
	nfd, _, err := unix.Accept4(fd, flags)
	return nfd, err
}
