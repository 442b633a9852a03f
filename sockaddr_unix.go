//go:build unix

package aio

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawInet encodes a raw sockaddr_in/sockaddr_in6 for connect(2) through
// the ring, which takes the address by pointer.
func rawInet(family int, ap netip.AddrPort) []byte {
	port := ap.Port()
	if family == unix.AF_INET {
		var sa unix.RawSockaddrInet4
		setHeader(unsafe.Pointer(&sa), unix.AF_INET, unsafe.Sizeof(sa))
		putPort(&sa.Port, port)
		sa.Addr = ap.Addr().Unmap().As4()
		return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))...)
	}
	var sa unix.RawSockaddrInet6
	setHeader(unsafe.Pointer(&sa), unix.AF_INET6, unsafe.Sizeof(sa))
	putPort(&sa.Port, port)
	sa.Addr = ap.Addr().As16()
	if z := ap.Addr().Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			sa.Scope_id = uint32(ifi.Index)
		}
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))...)
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// rawUnix encodes a sockaddr_un for path (abstract when it starts with @).
func rawUnix(path string) ([]byte, error) {
	var sa unix.RawSockaddrUnix
	if len(path) >= len(sa.Path) {
		return nil, unix.EINVAL
	}
	setHeader(unsafe.Pointer(&sa), unix.AF_UNIX, unsafe.Sizeof(sa))
	for i := 0; i < len(path); i++ {
		sa.Path[i] = int8(path[i])
	}
	n := int(unsafe.Offsetof(sa.Path)) + len(path) + 1
	if len(path) > 0 && path[0] == '@' {
		sa.Path[0] = 0
		n-- // abstract names are not NUL-terminated
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(&sa)), n)...), nil
}

// toSockaddr is the unix.Sockaddr for bind(2).
func toSockaddr(family int, ap netip.AddrPort) unix.Sockaddr {
	if family == unix.AF_INET {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	if z := ap.Addr().Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return sa
}

// fromSockaddr converts what getsockname/getpeername return to a net.Addr
// of the kind the network uses.
func fromSockaddr(network string, sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: network}
	}
	return nil
}

func localAddr(network string, fd int) net.Addr {
	if sa, err := unix.Getsockname(fd); err == nil {
		return fromSockaddr(network, sa)
	}
	return nil
}

func remoteAddr(network string, fd int) net.Addr {
	if sa, err := unix.Getpeername(fd); err == nil {
		return fromSockaddr(network, sa)
	}
	return nil
}
