package aio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

const (
	afINET       = windows.AF_INET
	afINET6      = windows.AF_INET6
	msgNoSignal  = 0 // Windows raises no signal on a broken connection
	shutRD       = windows.SHUT_RD
	shutWR       = windows.SHUT_WR
	sockCloexec  = 0 // the driver makes accepted sockets not inheritable
	sockNonblock = 0 // overlapped sockets never block
)

func (c *Conn) setNoDelay() {
	if c.network[:3] == "tcp" {
		windows.SetsockoptInt(windows.Handle(c.f.fd), windows.IPPROTO_TCP, windows.TCP_NODELAY, 1)
	}
}

// sysSocket makes an overlapped, not inheritable socket.
func sysSocket(family, typ int) (windows.Handle, error) {
	proto := windows.IPPROTO_TCP
	if typ == windows.SOCK_DGRAM {
		proto = windows.IPPROTO_UDP
	}
	s, err := windows.WSASocket(int32(family), int32(typ), int32(proto), nil, 0,
		windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	return s, nil
}

// Listen announces on a local address, like net.Listen, for "tcp", "tcp4"
// and "tcp6". The returned net.Listener is a *Listener.
func (r *Ring) Listen(network, address string) (net.Listener, error) {
	fail := func(err error) (net.Listener, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if r.refs.Closing() {
		return fail(net.ErrClosed)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fail(net.UnknownNetworkError(network))
	}
	ta, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return fail(err)
	}
	s, _, err := bindInet(network, ta.AddrPort(), windows.SOCK_STREAM)
	if err != nil {
		return fail(err)
	}
	if err := windows.Listen(s, windows.SOMAXCONN); err != nil {
		windows.Closesocket(s)
		return fail(os.NewSyscallError("listen", err))
	}
	l, err := r.newListener(int(s), network, localAddr(network, int(s)))
	if err != nil {
		return fail(err)
	}
	return l, nil
}

// bindInet makes a socket of type typ bound to ap, choosing the family as
// Go does (see net_unix.go).
func bindInet(network string, ap netip.AddrPort, typ int) (s windows.Handle, family int, err error) {
	six := network[len(network)-1] == '6'
	four := network[len(network)-1] == '4'
	family = windows.AF_INET
	dual := false
	switch {
	case six || ap.Addr().Is6() && !ap.Addr().Is4In6():
		family = windows.AF_INET6
	case !four && !ap.Addr().IsValid():
		family, dual = windows.AF_INET6, true
	}
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		if family == windows.AF_INET6 {
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
		}
	}
	s, err = sysSocket(family, typ)
	if err != nil && dual {
		family, dual = windows.AF_INET, false
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		s, err = sysSocket(family, typ)
	}
	if err != nil {
		return 0, 0, err
	}
	if family == windows.AF_INET6 {
		v6only := 1
		if dual {
			v6only = 0
		}
		windows.SetsockoptInt(s, windows.IPPROTO_IPV6, windows.IPV6_V6ONLY, v6only)
	}
	if err := windows.Bind(s, toSockaddr(family, ap)); err != nil {
		windows.Closesocket(s)
		return 0, 0, os.NewSyscallError("bind", err)
	}
	return s, family, nil
}

// ListenPacket announces on a local address, like net.ListenPacket, for
// "udp", "udp4" and "udp6". The returned net.PacketConn is a *PacketConn.
func (r *Ring) ListenPacket(network, address string) (net.PacketConn, error) {
	fail := func(err error) (net.PacketConn, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if r.refs.Closing() {
		return fail(net.ErrClosed)
	}
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return fail(net.UnknownNetworkError(network))
	}
	ua, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return fail(err)
	}
	s, family, err := bindInet(network, ua.AddrPort(), windows.SOCK_DGRAM)
	if err != nil {
		return fail(err)
	}
	c, err := r.newConn(int(s), network, localAddr(network, int(s)), nil)
	if err != nil {
		return fail(err)
	}
	c.dgram = true
	return &PacketConn{Conn: c, family: family}, nil
}

// rawTo encodes a destination for the socket's family.
func (pc *PacketConn) rawTo(addr net.Addr) ([]byte, error) {
	switch a := addr.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		if pc.family == windows.AF_INET && !ap.Addr().Unmap().Is4() {
			return nil, windows.WSAEAFNOSUPPORT
		}
		if pc.family == windows.AF_INET6 && ap.Addr().Is4() {
			ap = netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
		}
		return rawInet(pc.family, ap), nil
	case nil:
		return nil, errMissingAddress
	}
	return nil, windows.WSAEAFNOSUPPORT
}

// rawSockaddrSize is room for any source address (SOCKADDR_STORAGE).
const rawSockaddrSize = 128

// DialContext connects to the address on the named network, like
// net.Dialer.DialContext, for "tcp", "tcp4", "tcp6", "udp", "udp4" and
// "udp6". A stream's connect (ConnectEx) goes through the ring: if ctx
// ends first it is cancelled and waited for, and a connection that was
// established anyway is returned. The returned net.Conn is a *Conn.
func (r *Ring) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	fail := func(addr net.Addr, err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(nil, err)
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fail(nil, net.UnknownNetworkError(network))
	}
	return r.dialInet(ctx, network, address)
}

func (r *Ring) dial(ctx context.Context, network string, family int, sa []byte, raddr net.Addr) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	typ := windows.SOCK_STREAM
	if network[:3] == "udp" {
		typ = windows.SOCK_DGRAM
	}
	s, err := sysSocket(family, typ)
	if err != nil {
		return fail(err)
	}
	c, err := r.newConn(int(s), network, nil, raddr)
	if err != nil {
		windows.Closesocket(s)
		return fail(err)
	}
	c.dgram = typ == windows.SOCK_DGRAM
	if _, _, err := c.io(ctx, core.KindConnect, sa, 0, nil, nil); err != nil {
		c.f.Close()
		if errors.Is(err, net.ErrClosed) && r.refs.Closing() {
			err = fmt.Errorf("aio: ring closed: %w", net.ErrClosed)
		}
		return fail(err)
	}
	c.laddr = localAddr(network, int(s))
	c.raddr = remoteAddr(network, int(s))
	c.setNoDelay()
	return c, nil
}

// rawInet encodes a raw SOCKADDR_IN/SOCKADDR_IN6 for the ring's calls,
// which take the address by pointer.
func rawInet(family int, ap netip.AddrPort) []byte {
	port := ap.Port()
	if family == windows.AF_INET {
		b := make([]byte, 16)
		b[0], b[1] = byte(windows.AF_INET), byte(windows.AF_INET>>8)
		b[2], b[3] = byte(port>>8), byte(port)
		a := ap.Addr().Unmap().As4()
		copy(b[4:8], a[:])
		return b
	}
	b := make([]byte, 28)
	b[0], b[1] = byte(windows.AF_INET6), byte(windows.AF_INET6>>8)
	b[2], b[3] = byte(port>>8), byte(port)
	a := ap.Addr().As16()
	copy(b[8:24], a[:])
	if z := ap.Addr().Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			*(*uint32)(unsafe.Pointer(&b[24])) = uint32(ifi.Index)
		}
	}
	return b
}

// fromRaw decodes a raw sockaddr the kernel wrote (a recvfrom's source).
func fromRaw(network string, b []byte) net.Addr {
	if len(b) < 2 {
		return nil
	}
	switch int(b[0]) | int(b[1])<<8 {
	case windows.AF_INET:
		if len(b) >= 8 {
			return inetAddr(network, net.IPv4(b[4], b[5], b[6], b[7]), int(b[2])<<8|int(b[3]), 0)
		}
	case windows.AF_INET6:
		if len(b) >= 28 {
			ip := append(net.IP(nil), b[8:24]...)
			zone := *(*uint32)(unsafe.Pointer(&b[24]))
			return inetAddr(network, ip, int(b[2])<<8|int(b[3]), zone)
		}
	}
	return nil
}

// toSockaddr is the windows.Sockaddr for bind.
func toSockaddr(family int, ap netip.AddrPort) windows.Sockaddr {
	if family == windows.AF_INET {
		return &windows.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	}
	return &windows.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func fromSockaddr(network string, sa windows.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *windows.SockaddrInet4:
		return inetAddr(network, net.IP(sa.Addr[:]).To16(), sa.Port, 0)
	case *windows.SockaddrInet6:
		return inetAddr(network, append(net.IP(nil), sa.Addr[:]...), sa.Port, sa.ZoneId)
	}
	return nil
}

// inetAddr makes the net.Addr for network: *net.TCPAddr or *net.UDPAddr.
func inetAddr(network string, ip net.IP, port int, zoneID uint32) net.Addr {
	zone := ""
	if zoneID != 0 {
		if ifi, err := net.InterfaceByIndex(int(zoneID)); err == nil {
			zone = ifi.Name
		}
	}
	if network[:3] == "udp" {
		return &net.UDPAddr{IP: ip, Port: port, Zone: zone}
	}
	return &net.TCPAddr{IP: ip, Port: port, Zone: zone}
}

func localAddr(network string, fd int) net.Addr {
	if sa, err := windows.Getsockname(windows.Handle(fd)); err == nil {
		return fromSockaddr(network, sa)
	}
	return nil
}

func remoteAddr(network string, fd int) net.Addr {
	if sa, err := windows.Getpeername(windows.Handle(fd)); err == nil {
		return fromSockaddr(network, sa)
	}
	return nil
}
