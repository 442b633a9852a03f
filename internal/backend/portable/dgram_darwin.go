package portable

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// dgramSupported: KindSendmsg and KindRecvmsg exist here.
const dgramSupported = true

// recvfrom is as in dgram_syscall.go, through libSystem: macOS's system
// call numbers are no stable ABI (Go itself calls libSystem), and x/sys
// reaches recvfrom(2) only through unix.Recvfrom, which decodes the
// source address. The address is written back into from as the kernel
// writes it (struct sockaddr_in, sockaddr_in6 or sockaddr_un, length byte
// first), no further than len(from), and fromLen is the length written,
// as the BSD kernels report it. A source x/sys cannot decode is reported
// as none (fromLen 0): the datagram was received all the same.
func recvfrom(fd int, p, from []byte, flags int) (n, fromLen int, err error) {
	n, sa, err := unix.Recvfrom(fd, p, flags)
	if err != nil {
		if n >= 0 {
			return n, 0, nil // received; only the source could not be decoded
		}
		return 0, 0, err
	}
	return n, putSockaddr(from, sa), nil
}

// sendto sends p to the raw sockaddr to (empty: the connected peer).
func sendto(fd int, p, to []byte, flags int) (int, error) {
	var sa unix.Sockaddr
	if len(to) > 0 {
		var err error
		if sa, err = parseSockaddr(to); err != nil {
			return 0, err
		}
	}
	return unix.SendmsgN(fd, p, nil, sa, flags)
}

// putSockaddr writes sa into b in the layout of <sys/socket.h>, no
// further than len(b), and returns how many bytes it wrote: 0 for none
// (no address, or a family the library does not use).
func putSockaddr(b []byte, sa unix.Sockaddr) int {
	var raw unix.RawSockaddrAny
	var size uintptr
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(&raw))
		size = unsafe.Sizeof(*r)
		r.Len, r.Family = uint8(size), unix.AF_INET
		putNetPort(&r.Port, sa.Port)
		r.Addr = sa.Addr
	case *unix.SockaddrInet6:
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(&raw))
		size = unsafe.Sizeof(*r)
		r.Len, r.Family = uint8(size), unix.AF_INET6
		putNetPort(&r.Port, sa.Port)
		r.Addr, r.Scope_id = sa.Addr, sa.ZoneId
	case *unix.SockaddrUnix:
		r := (*unix.RawSockaddrUnix)(unsafe.Pointer(&raw))
		if len(sa.Name) > len(r.Path) {
			return 0 // cannot be: x/sys decoded it from a sockaddr_un
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&r.Path[0])), len(r.Path)), sa.Name)
		size = unsafe.Offsetof(r.Path) + uintptr(len(sa.Name)) // an unnamed sender: the header alone
		r.Len, r.Family = uint8(size), unix.AF_UNIX
	default:
		return 0
	}
	return copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&raw)), size))
}

// putNetPort stores port in network byte order.
func putNetPort(p *uint16, port int) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}
