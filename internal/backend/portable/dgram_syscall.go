//go:build (linux && !386 && !s390x) || freebsd || netbsd || dragonfly

package portable

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dgramSupported: KindSendmsg and KindRecvmsg exist here.
const dgramSupported = true

// recvfrom receives into p, the source's raw sockaddr (the layout of
// <sys/socket.h> here) into from, and returns the byte count and the
// address length as the kernel reports it (on Linux, the full length,
// which exceeds len(from) if the address was truncated). x/sys would
// decode the address into a unix.Sockaddr, losing what it cannot decode
// and failing (after the datagram was consumed) on families it does not
// know; the raw call hands the bytes over as they are.
//
// The kernel writes into from only when a datagram is received: a call
// that fails (EAGAIN) leaves it untouched.
func recvfrom(fd int, p, from []byte, flags int) (n, fromLen int, err error) {
	fl := uint32(min(len(from), 1<<30)) // socklen_t
	r, _, errno := syscall.Syscall6(unix.SYS_RECVFROM, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(flags),
		uintptr(unsafe.Pointer(unsafe.SliceData(from))), uintptr(unsafe.Pointer(&fl)))
	if errno != 0 {
		return 0, 0, errno
	}
	if len(from) == 0 {
		fl = 0 // no room was offered: no address, whatever the kernel says
	}
	return int(r), int(fl), nil
}

// sendto sends p to the raw sockaddr to (empty: the connected peer).
func sendto(fd int, p, to []byte, flags int) (int, error) {
	r, _, errno := syscall.Syscall6(unix.SYS_SENDTO, uintptr(fd),
		uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(flags),
		uintptr(unsafe.Pointer(unsafe.SliceData(to))), uintptr(len(to)))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
