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
	msgNoSignal = unix.MSG_NOSIGNAL
	shutRD      = unix.SHUT_RD
	shutWR      = unix.SHUT_WR
)

func (c *Conn) setNoDelay() {
	if c.network != "unix" {
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
		ap := ta.AddrPort()
		family := unix.AF_INET
		dual := false
		if network == "tcp6" || ap.Addr().Is6() && !ap.Addr().Is4In6() {
			family = unix.AF_INET6
		} else if network == "tcp" && !ap.Addr().IsValid() {
			family, dual = unix.AF_INET6, true // [::]:port also takes IPv4, as Go does
			ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
		}
		if !ap.Addr().IsValid() {
			ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
			if family == unix.AF_INET6 {
				ap = netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port())
			}
		}
		fd, err := sysSocket(family, unix.SOCK_STREAM, 0)
		if err != nil && dual {
			family, dual = unix.AF_INET, false // no IPv6 here
			ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
			fd, err = sysSocket(family, unix.SOCK_STREAM, 0)
		}
		if err != nil {
			return fail(os.NewSyscallError("socket", err))
		}
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if family == unix.AF_INET6 {
			v6only := 1
			if dual {
				v6only = 0
			}
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only)
		}
		if err := unix.Bind(fd, toSockaddr(family, ap)); err != nil {
			unix.Close(fd)
			return fail(os.NewSyscallError("bind", err))
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
	case "tcp", "tcp4", "tcp6":
		addrs, err := resolveTCP(ctx, network, address)
		if err != nil {
			return fail(nil, err)
		}
		var first error
		for _, ap := range addrs {
			family := unix.AF_INET6
			if ap.Addr().Is4() {
				family = unix.AF_INET
			}
			c, err := r.dial(ctx, network, family, rawInet(family, ap), net.TCPAddrFromAddrPort(ap))
			if err == nil {
				return c, nil
			}
			if first == nil {
				first = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		return nil, first
	case "unix":
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
	fd, err := sysSocket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		return fail(os.NewSyscallError("socket", err))
	}
	c, err := r.newConn(fd, network, nil, raddr)
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	if _, err := c.io(ctx, core.KindConnect, sa, 0, nil); err != nil {
		c.f.Close()
		if errors.Is(err, net.ErrClosed) && r.refs.Closing() {
			err = fmt.Errorf("aio: ring closed: %w", net.ErrClosed)
		}
		return fail(err)
	}
	c.laddr = localAddr(network, fd)
	if network != "unix" {
		c.raddr = remoteAddr(network, fd)
	}
	c.setNoDelay()
	return c, nil
}

// resolveTCP turns host:port into addresses to try, IPv4 first for "tcp"
// (loopback names resolve to both; either works).
func resolveTCP(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, portStr)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = "localhost"
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip, uint16(port))}, nil
	}
	ipNet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return nil, err
	}
	var v4, v6 []netip.AddrPort
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if ap.Addr().Is4() {
			v4 = append(v4, ap)
		} else {
			v6 = append(v6, ap)
		}
	}
	return append(v4, v6...), nil
}
