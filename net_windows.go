package aio

import (
	"context"
	"errors"
	"net"
)

const (
	msgNoSignal = 0
	shutRD      = 0
	shutWR      = 1
	sockCloexec = 0
)

func (c *Conn) setNoDelay() {}

// Listen is not yet available on Windows.
func (r *Ring) Listen(network, address string) (net.Listener, error) {
	return nil, &net.OpError{Op: "listen", Net: network, Err: errors.ErrUnsupported}
}

// DialContext is not yet available on Windows.
func (r *Ring) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: network, Err: errors.ErrUnsupported}
}

func localAddr(network string, fd int) net.Addr  { return nil }
func remoteAddr(network string, fd int) net.Addr { return nil }

const rawSockaddrSize = 128

func fromRaw(network string, b []byte) net.Addr { return nil }

func (pc *PacketConn) rawTo(addr net.Addr) ([]byte, error) { return nil, errors.ErrUnsupported }

// ListenPacket is not yet available on Windows.
func (r *Ring) ListenPacket(network, address string) (net.PacketConn, error) {
	return nil, &net.OpError{Op: "listen", Net: network, Err: errors.ErrUnsupported}
}
