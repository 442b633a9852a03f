//go:build linux && (386 || s390x)

package portable

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dgramSupported: KindSendmsg and KindRecvmsg exist here.
const dgramSupported = true

// socketcall(2) multiplexer numbers (linux/net.h). On 386 and s390x the
// direct recvfrom and sendto system calls only arrived in Linux 4.3;
// socketcall works on every kernel Go supports, as x/sys does it.
const (
	socketcallSendto   = 11
	socketcallRecvfrom = 12
)

// recvfrom is as in dgram_syscall.go.
func recvfrom(fd int, p, from []byte, flags int) (n, fromLen int, err error) {
	fl := uint32(min(len(from), 1<<30))
	args := [6]uintptr{uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(flags),
		uintptr(unsafe.Pointer(unsafe.SliceData(from))), uintptr(unsafe.Pointer(&fl))}
	r, _, errno := unix.Syscall(unix.SYS_SOCKETCALL, socketcallRecvfrom, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(p)
	runtime.KeepAlive(from)
	if errno != 0 {
		return 0, 0, errno
	}
	if len(from) == 0 {
		fl = 0
	}
	return int(r), int(fl), nil
}

// sendto is as in dgram_syscall.go.
func sendto(fd int, p, to []byte, flags int) (int, error) {
	args := [6]uintptr{uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(flags),
		uintptr(unsafe.Pointer(unsafe.SliceData(to))), uintptr(len(to))}
	r, _, errno := unix.Syscall(unix.SYS_SOCKETCALL, socketcallSendto, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(p)
	runtime.KeepAlive(to)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
