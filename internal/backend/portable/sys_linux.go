package portable

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// noWaitSupported: preadv2(RWF_NOWAIT) exists here (Linux 4.14 and later;
// older kernels refuse the flag and readNoWait stops trying).
const noWaitSupported = true

// halfLong is half the bits of a long: preadv2 takes the offset as two
// longs, pos_l and pos_h, joined as ((pos_h << halfLong) << halfLong) | pos_l.
const halfLong = unsafe.Sizeof(uintptr(0)) * 4

// readNoWait reads p at off (off < 0: the file position) only if the data
// is in the page cache: ok reports that res is the operation's result.
// Otherwise (not cached, end of file to be confirmed, the file or the
// kernel refusing the flag) a worker does the read.
func readNoWait(fd int, p []byte, off int64, fs *fileState) (res int32, ok bool) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	lo, hi := uintptr(off), uintptr(uint64(off)>>halfLong>>halfLong)
	n, _, errno := syscall.Syscall6(unix.SYS_PREADV2, uintptr(fd), uintptr(unsafe.Pointer(&iov)), 1, lo, hi, unix.RWF_NOWAIT)
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

func fsync(fd int) error     { return unix.Fsync(fd) }
func fdatasync(fd int) error { return unix.Fdatasync(fd) }

func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }

// accept takes a connection from the listening fd: accept4 with the
// record's flags (SOCK_CLOEXEC from the library).
func accept(fd, flags int) (int, error) {
	nfd, _, err := unix.Accept4(fd, flags)
	return nfd, err
}
