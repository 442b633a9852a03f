//go:build unix

package aio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

const (
	afINET      = unix.AF_INET
	afINET6     = unix.AF_INET6
	msgNoSignal = unix.MSG_NOSIGNAL
	shutRD      = unix.SHUT_RD
	shutWR      = unix.SHUT_WR
)

func (c *Conn) setNoDelay() {
	if c.network[:3] == "tcp" {
		unix.SetsockoptInt(c.f.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
}

// Listen announces on a local address, like net.Listen, for "tcp",
// "tcp4", "tcp6" and "unix". The returned net.Listener is a *Listener.
func (r *Ring) Listen(network, address string) (net.Listener, error) {
	fail := func(err error) (net.Listener, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if r.refs.Closing() {
		return fail(net.ErrClosed)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		ta, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return fail(err)
		}
		fd, _, err := bindInet(network, ta.AddrPort(), unix.SOCK_STREAM)
		if err != nil {
			return fail(err)
		}
		if err := unix.Listen(fd, listenBacklog()); err != nil {
			unix.Close(fd)
			return fail(os.NewSyscallError("listen", err))
		}
		l, err := r.newListener(fd, network, localAddr(network, fd))
		if err != nil {
			return fail(err)
		}
		return l, nil
	case "unix":
		fd, err := sysSocket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			return fail(os.NewSyscallError("socket", err))
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: address}); err != nil {
			unix.Close(fd)
			return fail(os.NewSyscallError("bind", err))
		}
		if err := unix.Listen(fd, listenBacklog()); err != nil {
			unix.Close(fd)
			return fail(os.NewSyscallError("listen", err))
		}
		l, err := r.newListener(fd, network, &net.UnixAddr{Name: address, Net: network})
		if err != nil {
			return fail(err)
		}
		if address != "" && address[0] != '@' {
			l.unlink = address
		}
		return l, nil
	}
	return fail(net.UnknownNetworkError(network))
}

// bindInet makes a socket of type typ bound to ap, choosing the family as
// Go does: "…6" or an IPv6 address gives AF_INET6; a "tcp"/"udp" wildcard
// gives a dual-stack AF_INET6 socket where IPv6 exists; else AF_INET.
func bindInet(network string, ap netip.AddrPort, typ int) (fd, family int, err error) {
	six := network[len(network)-1] == '6'
	four := network[len(network)-1] == '4'
	family = unix.AF_INET
	dual := false
	switch {
	case six || ap.Addr().Is6() && !ap.Addr().Is4In6():
		family = unix.AF_INET6
	case !four && !ap.Addr().IsValid():
		family, dual = unix.AF_INET6, true // [::]:port also takes IPv4
	}
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		if family == unix.AF_INET6 {
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
		}
	}
	fd, err = sysSocket(family, typ, 0)
	if err != nil && dual { // no IPv6 here
		family, dual = unix.AF_INET, false
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
		fd, err = sysSocket(family, typ, 0)
	}
	if err != nil {
		return -1, 0, os.NewSyscallError("socket", err)
	}
	if typ == unix.SOCK_STREAM {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if family == unix.AF_INET6 {
		v6only := 1
		if dual {
			v6only = 0
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
	}
	if err := unix.Bind(fd, toSockaddr(family, ap)); err != nil {
		unix.Close(fd)
		return -1, 0, os.NewSyscallError("bind", err)
	}
	return fd, family, nil
}

// ListenPacket announces on a local address, like net.ListenPacket, for
// "udp", "udp4", "udp6" and "unixgram". The returned net.PacketConn is a
// *PacketConn.
func (r *Ring) ListenPacket(network, address string) (net.PacketConn, error) {
	fail := func(err error) (net.PacketConn, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if r.refs.Closing() {
		return fail(net.ErrClosed)
	}
	var fd, family int
	switch network {
	case "udp", "udp4", "udp6":
		ua, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return fail(err)
		}
		if fd, family, err = bindInet(network, ua.AddrPort(), unix.SOCK_DGRAM); err != nil {
			return fail(err)
		}
	case "unixgram":
		var err error
		if fd, err = sysSocket(unix.AF_UNIX, unix.SOCK_DGRAM, 0); err != nil {
			return fail(os.NewSyscallError("socket", err))
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: address}); err != nil {
			unix.Close(fd)
			return fail(os.NewSyscallError("bind", err))
		}
		family = unix.AF_UNIX
	default:
		return fail(net.UnknownNetworkError(network))
	}
	c, err := r.newConn(fd, network, localAddr(network, fd), nil)
	if err != nil {
		return fail(err)
	}
	c.dgram = true
	pc := &PacketConn{Conn: c, family: family}
	if network == "unixgram" && address != "" && address[0] != '@' {
		pc.unlink = address
	}
	return pc, nil
}

// rawTo encodes a destination for the socket's family.
func (pc *PacketConn) rawTo(addr net.Addr) ([]byte, error) {
	switch a := addr.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		if pc.family == unix.AF_INET && !ap.Addr().Unmap().Is4() {
			return nil, unix.EAFNOSUPPORT
		}
		if pc.family == unix.AF_INET6 && ap.Addr().Is4() {
			ap = netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
		}
		return rawInet(pc.family, ap), nil
	case *net.UnixAddr:
		if pc.family != unix.AF_UNIX { // refused here, not by the kernel after a submission
			return nil, unix.EAFNOSUPPORT
		}
		return rawUnix(a.Name)
	case nil:
		return nil, errMissingAddress
	}
	return nil, unix.EAFNOSUPPORT
}

// rawSockaddrSize is room for any source address a recvmsg may report.
const rawSockaddrSize = unix.SizeofSockaddrAny

func listenBacklog() int {
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if n, err := strconv.Atoi(string(b[:len(b)-1])); err == nil && n > 0 {
			return n
		}
	}
	return unix.SOMAXCONN
}

// DialContext connects to the address on the named network, like
// net.Dialer.DialContext, for "tcp", "tcp4", "tcp6" and "unix". The
// connect goes through the ring: if ctx ends first it is cancelled and
// waited for, and a connection that was established anyway is returned.
// The returned net.Conn is a *Conn.
func (r *Ring) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	fail := func(addr net.Addr, err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(nil, err)
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		return r.dialInet(ctx, network, address)
	case "unix", "unixgram":
		sa, err := rawUnix(address)
		if err != nil {
			return fail(nil, err)
		}
		return r.dial(ctx, network, unix.AF_UNIX, sa, &net.UnixAddr{Name: address, Net: network})
	}
	return fail(nil, net.UnknownNetworkError(network))
}

func (r *Ring) dial(ctx context.Context, network string, family int, sa []byte, raddr net.Addr) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err}
	}
	typ := unix.SOCK_STREAM
	if network == "unixgram" || network[:3] == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := sysSocket(family, typ, 0)
	if err != nil {
		return fail(os.NewSyscallError("socket", err))
	}
	c, err := r.newConn(fd, network, nil, raddr)
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	c.dgram = typ == unix.SOCK_DGRAM
	if _, _, err := c.io(ctx, core.KindConnect, sa, 0, nil, nil); err != nil {
		c.f.Close()
		if errors.Is(err, net.ErrClosed) && r.refs.Closing() {
			err = fmt.Errorf("aio: ring closed: %w", net.ErrClosed)
		}
		return fail(err)
	}
	c.laddr = localAddr(network, fd)
	if network != "unix" && network != "unixgram" {
		c.raddr = remoteAddr(network, fd)
	}
	c.setNoDelay()
	return c, nil
}
