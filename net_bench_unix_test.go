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

// rawConnRW is a net.Conn whose Read and Write go through its RawConn,
// as rawRW does for an os.File.
type rawConnRW struct {
	net.Conn
	rc   syscall.RawConn
	p    []byte
	n    int
	err  error
	rdFn func(fd uintptr) bool
	wrFn func(fd uintptr) bool
}

func newRawConnRW(c net.Conn) (*rawConnRW, error) {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	x := &rawConnRW{Conn: c, rc: rc}
	x.rdFn = func(fd uintptr) bool {
		x.n, x.err = syscall.Read(int(fd), x.p)
		return x.err != syscall.EAGAIN
	}
	x.wrFn = func(fd uintptr) bool {
		x.n, x.err = syscall.Write(int(fd), x.p)
		return x.err != syscall.EAGAIN
	}
	return x, nil
}

func (x *rawConnRW) Read(p []byte) (int, error) {
	x.p = p
	if err := x.rc.Read(x.rdFn); err != nil {
		return 0, err
	}
	if x.err == nil && x.n == 0 {
		return 0, io.EOF
	}
	return x.n, x.err
}

func (x *rawConnRW) Write(p []byte) (int, error) {
	x.p = p
	if err := x.rc.Write(x.wrFn); err != nil {
		return 0, err
	}
	return x.n, x.err
}
