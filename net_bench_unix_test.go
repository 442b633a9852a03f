//go:build unix

package aio_test

import (
	"context"
	"io"
	"net"
	"syscall"
)

// rawListen and rawDial make BenchmarkEcho's floor: net's sockets, read
// and written through their RawConn.
var (
	rawListen = func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		return rawListener{ln}, nil
	}
	rawDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newRawConnRW(c)
	}
)

// rawListener accepts net's connections as rawConnRWs.
type rawListener struct{ net.Listener }

func (l rawListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newRawConnRW(c)
}

// rawConnRW is a net.Conn whose Read and Write go through its RawConn
// (see rawRW).
type rawConnRW struct {
	net.Conn
	raw *rawRW
}

func newRawConnRW(c net.Conn) (net.Conn, error) {
	sc, ok := c.(interface {
		syscall.Conn
		io.Closer
	})
	if !ok {
		c.Close()
		return nil, syscall.EINVAL
	}
	raw, err := rawRWOf(sc)
	if err != nil {
		c.Close()
		return nil, err
	}
	return rawConnRW{Conn: c, raw: raw}, nil
}

func (x rawConnRW) Read(p []byte) (int, error)  { return x.raw.Read(p) }
func (x rawConnRW) Write(p []byte) (int, error) { return x.raw.Write(p) }
