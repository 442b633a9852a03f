package aio

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// resolveInet turns host:port into addresses to try, IPv4 first (loopback
// names resolve to both; either works).
func resolveInet(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
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
	ipNet := "ip" + network[3:] // tcp4 -> ip4, udp -> ip
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

// dialInet connects to host:port, trying each address it resolves to in
// turn (IPv4 first) until one answers or ctx ends; the error is the
// first address's.
func (r *Ring) dialInet(ctx context.Context, network, address string) (net.Conn, error) {
	addrs, err := resolveInet(ctx, network, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var first error
	for _, ap := range addrs {
		family := afINET6
		if ap.Addr().Is4() {
			family = afINET
		}
		c, err := r.dial(ctx, network, family, rawInet(family, ap), inetAddr(network, ap.Addr().AsSlice(), int(ap.Port()), 0))
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
	if first == nil {
		first = &net.OpError{Op: "dial", Net: network, Err: errNoAddress}
	}
	return nil, first
}

var errNoAddress = errors.New("no suitable address found")
