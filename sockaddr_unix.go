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
		return inetAddr(network, net.IP(sa.Addr[:]).To16(), sa.Port, 0)
	case *unix.SockaddrInet6:
		return inetAddr(network, append(net.IP(nil), sa.Addr[:]...), sa.Port, sa.ZoneId)
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: network}
	}
	return nil
}

// inetAddr is a *net.TCPAddr or, for udp networks, a *net.UDPAddr.
func inetAddr(network string, ip net.IP, port int, zoneID uint32) net.Addr {
	zone := ""
	if zoneID != 0 {
		if ifi, err := net.InterfaceByIndex(int(zoneID)); err == nil {
			zone = ifi.Name
		}
	}
	if len(network) >= 3 && network[:3] == "udp" {
		return &net.UDPAddr{IP: ip, Port: port, Zone: zone}
	}
	return &net.TCPAddr{IP: ip, Port: port, Zone: zone}
}

// fromRaw decodes a raw sockaddr the kernel wrote (a recvmsg's source).
func fromRaw(network string, b []byte) net.Addr {
	if len(b) < 2 {
		return nil
	}
	switch rawFamily(b) {
	case unix.AF_INET:
		if len(b) >= 8 {
			return inetAddr(network, net.IPv4(b[4], b[5], b[6], b[7]), int(b[2])<<8|int(b[3]), 0)
		}
	case unix.AF_INET6:
		if len(b) >= 28 {
			ip := append(net.IP(nil), b[8:24]...)
			zone := *(*uint32)(unsafe.Pointer(&b[24]))
			return inetAddr(network, ip, int(b[2])<<8|int(b[3]), zone)
		}
	case unix.AF_UNIX:
		path := b[2:]
		for i, c := range path {
			if c == 0 && i > 0 {
				path = path[:i]
				break
			}
		}
		if len(path) > 0 && path[0] == 0 {
			path = append([]byte{'@'}, path[1:]...)
		}
		return &net.UnixAddr{Name: string(path), Net: network}
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
