package aio_test

import (
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nowaitReader makes BenchmarkReadAt's floor (see there).
var nowaitReader = func(f *os.File) interface {
	ReadAt([]byte, int64) (int, error)
} {
	return preadv2Nowait{int(f.Fd())}
}

type preadv2Nowait struct{ fd int }

func (r preadv2Nowait) ReadAt(p []byte, off int64) (int, error) {
	iov := unix.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	n, _, errno := syscall.Syscall6(unix.SYS_PREADV2, uintptr(r.fd), uintptr(unsafe.Pointer(&iov)), 1, uintptr(off), uintptr(uint64(off)>>32), unix.RWF_NOWAIT)
	runtime.KeepAlive(&iov)
	if errno != 0 {
		return int(n), os.NewSyscallError("preadv2", errno)
	}
	return int(n), nil
}
