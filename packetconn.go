package aio

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/waitforit/aio/internal/core"
)

var errMissingAddress = errors.New("missing address")

// PacketConn is a datagram socket (UDP or unixgram) whose I/O goes through
// a Ring. It implements net.PacketConn (and, through Conn, Read and Write
// for a peer set with connect). Deadlines and contexts are cancel-and-wait,
// as for Conn.
//
// Buffer ownership: ReadFrom, WriteTo and their Context forms return only
// after the kernel is done with the buffer.
type PacketConn struct {
	*Conn
	family int
	unlink string // the unixgram socket file this conn created
	// from receives each datagram's source address. Reads are serialised
	// by readMu and wait for their completion, so it is reused, never
	// touched by the kernel while the caller has it.
	from [rawSockaddrSize]byte
}

// ReadFrom reads one datagram into p and returns its size and source. A
// datagram larger than p is truncated to len(p).
func (pc *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	return pc.ReadFromContext(context.Background(), p)
}

// ReadFromContext is ReadFrom that also ends when ctx does: the receive is
// cancelled and waited for; a datagram that arrived anyway is returned.
func (pc *PacketConn) ReadFromContext(ctx context.Context, p []byte) (int, net.Addr, error) {
	c := pc.Conn
	if err := ctx.Err(); err != nil {
		return 0, nil, c.opError("read", err)
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.f.poll == nil && c.rd.passed() {
		return 0, nil, c.opError("read", os.ErrDeadlineExceeded)
	}
	from := pc.from[:]
	res, n, err := c.io(ctx, core.KindRecvmsg, p[:min(len(p), maxIO)], 0, from, &c.rd)
	if err != nil {
		return 0, nil, c.opError("read", err)
	}
	return int(res), fromRaw(c.network, from[:min(n, len(from))]), nil
}

// WriteTo sends p as one datagram to addr.
func (pc *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	return pc.WriteToContext(context.Background(), p, addr)
}

// WriteToContext is WriteTo that also ends when ctx does.
func (pc *PacketConn) WriteToContext(ctx context.Context, p []byte, addr net.Addr) (int, error) {
	c := pc.Conn
	fail := func(err error) (int, error) {
		return 0, &net.OpError{Op: "write", Net: c.network, Source: c.laddr, Addr: addr, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	to, err := pc.rawTo(addr)
	if err != nil {
		return fail(err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.f.poll == nil && c.wd.passed() {
		return fail(os.ErrDeadlineExceeded)
	}
	res, _, err := c.io(ctx, core.KindSendmsg, p, msgNoSignal, to, &c.wd)
	if err != nil {
		return fail(err)
	}
	return int(res), nil
}

// Close closes the socket after every operation on it has completed, and
// removes a unixgram socket file it created.
func (pc *PacketConn) Close() error {
	err := pc.Conn.Close()
	if pc.unlink != "" && err == nil {
		os.Remove(pc.unlink)
	}
	return err
}

var _ net.PacketConn = (*PacketConn)(nil)
