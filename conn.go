package aio

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/waitforit/aio/internal/core"
)

// Conn is a stream socket (TCP or unix) whose I/O goes through a Ring. It
// implements net.Conn; deadlines are cancel-and-wait: when one passes,
// the operation in flight is cancelled and still waited for, and the call
// returns an error matching os.ErrDeadlineExceeded (a net.Error whose
// Timeout() is true), or the bytes that arrived anyway.
//
// Buffer ownership: Read, Write and their Context forms return only after
// the kernel is done with the buffer, whatever ended them.
type Conn struct {
	connHot
	_ [cacheLine - unsafe.Sizeof(connHot{})%cacheLine]byte // pd starts a line

	// pd is the readiness state of a socket made by aio, in the Conn's
	// own allocation (f.poll then points here), so that a blocking call
	// finds it without following another pointer. With many connections
	// each one's memory has left the CPU's caches by its next call, and
	// each pointer a call follows is a cache miss: at 1,000 loopback
	// connections, Read and Write that reached a pollFD of its own
	// through the File made about 5% fewer round trips (aiobench's
	// tcp-echo-1000 and scripts/floors/echogo, binaries alternated; its
	// -hops 8 prices eight such misses a call at 3-13%). Unused (f.poll
	// nil) where the descriptor has no readiness path.
	pd pollFD

	network string
	laddr   net.Addr
	raddr   net.Addr
	rd, wd  deadline
}

// cacheLine is the size that the layouts of Conn and pollDir assume.
const cacheLine = 64

// connHot are the fields of a Conn that every call uses first, on one
// cache line (see pollDir and TestConnLayout).
type connHot struct {
	f       *File      // the descriptor, its references and the ring
	poll    *pollFD    // f.poll (&pd or nil), here so that a call need not load f
	ring    *Ring      // f.ring, likewise
	readMu  sync.Mutex // one read at a time, as in Go's net
	writeMu sync.Mutex // one write at a time, so writes are never interleaved
	dgram   bool       // a datagram socket: a 0-byte read is an empty datagram, not EOF
}

func (r *Ring) newConn(fd int, network string, laddr, raddr net.Addr) (*Conn, error) {
	c := &Conn{network: network, laddr: laddr, raddr: raddr}
	f, err := r.newFileAt(fd, "", madeByAio, &c.pd)
	if err != nil {
		return nil, err
	}
	c.f, c.poll, c.ring = f, f.poll, r
	c.rd.table, c.wd.table = r.table, r.table
	return c, nil
}

func (c *Conn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: c.network, Source: c.laddr, Addr: c.raddr, Err: err}
}

// io runs one socket operation honestly (see Ring.await) under the
// direction's deadline. The result is the kernel's; err is set for
// failures and says why a cancelled operation was cancelled. addr is the
// raw sockaddr of a sendmsg, or the room for a recvmsg's source, whose
// length is returned.
func (c *Conn) io(ctx context.Context, kind core.Kind, p []byte, flags int, addr []byte, dl *deadline) (int32, int, error) {
	if c.f.poll != nil && kind != core.KindShutdown {
		// The readiness path (see mechanism.go): deadlines are the
		// netpoller's own.
		res, addrLen, err := c.f.pollDo(ctx, kind, p, flags, addr, net.ErrClosed)
		if errno, ok := err.(syscall.Errno); ok {
			err = os.NewSyscallError(kind.String(), errno)
		}
		return res, addrLen, err
	}
	return c.ioDriver(ctx, kind, p, flags, addr, dl)
}

// ioDriver is io through the driver, out of io's frame (see
// File.WriteContext).
func (c *Conn) ioDriver(ctx context.Context, kind core.Kind, p []byte, flags int, addr []byte, dl *deadline) (int32, int, error) {
	if kind == core.KindRecv || kind == core.KindSend {
		if res, ok := c.f.tryNow(kind, p, 0, flags); ok {
			if res >= 0 {
				return res, 0, nil
			}
			return res, 0, os.NewSyscallError(kind.String(), syscall.Errno(-res))
		}
	}
	return c.ioRing(ctx, &sockOp{kind: kind, p: p, flags: flags, addr: addr}, dl)
}

// sockOp is one operation Conn.ioRing submits to the ring.
type sockOp struct {
	kind  core.Kind
	p     []byte
	flags int
	addr  []byte

	// KindSendFile's: the file, the offset in it, the count.
	src    int
	off, n int64
}

// start submits op on the connection's socket.
func (c *Conn) start(op *sockOp) (*core.Record, error) {
	if op.kind != core.KindSendFile {
		return c.f.start(op.kind, op.p, 0, op.flags, op.addr, nil)
	}
	if err := c.f.check(op.kind, nil); err != nil {
		return nil, err
	}
	rec, err := c.f.record(op.kind, nil, op.off, 0, nil, nil)
	if err != nil {
		return nil, err
	}
	rec.Src, rec.Len = op.src, op.n
	return c.f.submit(rec)
}

// ioRing is Conn.io's ring path: the operation submitted and waited for
// (cancelled by ctx, the deadline or a Close), retried where the kernel
// says to.
func (c *Conn) ioRing(ctx context.Context, op *sockOp, dl *deadline) (int32, int, error) {
	kind := op.kind
	for {
		rec, err := c.start(op)
		if err != nil {
			if err == os.ErrClosed {
				err = net.ErrClosed
			}
			return 0, 0, err
		}
		var fired bool
		if dl != nil {
			dl.begin(rec, rec.Gen())
		}
		// (Whether a deadline may cancel it matters only to the simulator.)
		armed := dl != nil && c.f.ring.table.Hinter != nil && dl.armed()
		res, ctxErr := c.f.ring.awaitCancellable(ctx, rec, armed)
		if dl != nil {
			fired = dl.end()
		}
		addrLen := rec.AddrLen
		c.f.ring.table.Put(rec)
		if res >= 0 {
			return res, addrLen, nil
		}
		if res == -int32(syscall.EINTR) {
			if ctx.Err() == nil && !fired && !c.f.closing() {
				continue
			}
			// Interrupted before it transferred anything, and the context
			// or the deadline has ended, or Close has begun, meanwhile: a
			// cancel by that.
			res = -int32(syscall.ECANCELED)
			if ctxErr == nil {
				ctxErr = ctx.Err()
			}
		}
		if kind == core.KindAccept && res == -int32(syscall.ECONNABORTED) {
			// The connection died before it was accepted: accept the
			// next one, as Go's net does. If the caller has gone, the
			// accept it waits for is cancelled: nothing was accepted.
			if ctx.Err() == nil && !fired {
				continue
			}
			res = -int32(syscall.ECANCELED)
			if ctxErr == nil {
				ctxErr = ctx.Err()
			}
		}
		if res == -int32(syscall.ECANCELED) && fired && ctxErr == nil {
			ctxErr = os.ErrDeadlineExceeded
		}
		err = c.f.ring.errnoErr(res, ctxErr, &c.f.refs, net.ErrClosed)
		if errno, ok := err.(syscall.Errno); ok {
			err = os.NewSyscallError(kind.String(), errno)
		}
		return res, 0, err
	}
}

// Read reads from the connection, as net.Conn: (0, io.EOF) once the peer
// has closed its side.
func (c *Conn) Read(p []byte) (int, error) {
	if c.poll != nil && len(p) > 0 && !c.ring.refs.Closing() {
		return c.pollRead(context.Background(), p) // ReadContext's, a frame shallower
	}
	return c.ReadContext(context.Background(), p)
}

// ReadContext is Read that also ends when ctx does: the receive in flight
// is cancelled and waited for, and either the bytes that arrived anyway or
// an error matching ctx's error (and ErrCanceled) is returned.
func (c *Conn) ReadContext(ctx context.Context, p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, c.opError("read", err)
	}
	if c.poll != nil && len(p) > 0 && !c.ring.refs.Closing() {
		return c.pollRead(ctx, p)
	}
	return c.readDriver(ctx, p)
}

// pollRead is a read on the readiness path (see mechanism.go), called by
// Read itself rather than through ReadContext: each frame between a call
// and its system call costs it (see File.WriteContext).
func (c *Conn) pollRead(ctx context.Context, p []byte) (int, error) {
	c.readMu.Lock()
	res, _, cause := c.poll.call(ctx, dirRead, core.KindRecv, p[:min(len(p), maxIO)], 0, nil, nil, nil)
	c.readMu.Unlock()
	if res > 0 && cause == nil {
		return int(res), nil
	}
	return 0, c.pollReadEnd(res, cause)
}

// readDriver is ReadContext off the readiness path (the driver's, or a
// closed ring's), out of its frame.
func (c *Conn) readDriver(ctx context.Context, p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	return c.readLocked(ctx, p)
}

// pollReadEnd is the error of a receive on the readiness path that
// moved no bytes (res 0: the end of the stream, or an empty datagram) or
// failed (see File.pollErr), made out of ReadContext's frame.
//
//go:noinline
func (c *Conn) pollReadEnd(res int32, cause error) error {
	if res == 0 && cause == nil {
		if c.dgram {
			return nil
		}
		return io.EOF
	}
	return c.opError("read", c.pollCallErr(core.KindRecv, res, cause))
}

// pollCallErr is the error of a call of kind on the readiness path that
// failed with res, or whose wait ended for cause, as io reports it.
func (c *Conn) pollCallErr(kind core.Kind, res int32, cause error) error {
	err := c.f.pollErr(res, cause, net.ErrClosed)
	if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(kind.String(), errno)
	}
	return err
}

// readLocked is ReadContext's receive, with readMu held.
func (c *Conn) readLocked(ctx context.Context, p []byte) (int, error) {
	if c.f.poll == nil && c.rd.passed() {
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	if len(p) == 0 {
		return 0, nil
	}
	res, _, err := c.io(ctx, core.KindRecv, p[:min(len(p), maxIO)], 0, nil, &c.rd)
	if err != nil {
		return 0, c.opError("read", err)
	}
	if res == 0 && !c.dgram {
		return 0, io.EOF
	}
	return int(res), nil
}

// Write writes all of p, as net.Conn. If a deadline or ctx ends it early,
// n counts the bytes the kernel took.
func (c *Conn) Write(p []byte) (int, error) { return c.WriteContext(context.Background(), p) }

// WriteContext is Write that also ends when ctx does (cancel, then wait).
func (c *Conn) WriteContext(ctx context.Context, p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, c.opError("write", err)
	}
	if c.poll != nil && !c.ring.refs.Closing() {
		// The readiness path, made here (see ReadContext).
		c.writeMu.Lock()
		n := 0
		for {
			res, _, cause := c.poll.call(ctx, dirWrite, core.KindSend, p[n:min(len(p), n+maxIO)], msgNoSignal, nil, nil, nil)
			if res < 0 || cause != nil {
				c.writeMu.Unlock()
				return n, c.opError("write", c.pollCallErr(core.KindSend, res, cause))
			}
			n += int(res)
			if n == len(p) || c.dgram { // a datagram goes whole or not at all
				c.writeMu.Unlock()
				return n, nil
			}
			if err := ctx.Err(); err != nil {
				c.writeMu.Unlock()
				return n, c.opError("write", err)
			}
		}
	}
	return c.writeDriver(ctx, p)
}

// writeDriver is WriteContext off the readiness path (see readDriver).
func (c *Conn) writeDriver(ctx context.Context, p []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.writeLocked(ctx, p)
}

// writeLocked is WriteContext's sends, with writeMu held.
func (c *Conn) writeLocked(ctx context.Context, p []byte) (int, error) {
	n := 0
	for {
		if c.f.poll == nil && c.wd.passed() {
			return n, c.opError("write", os.ErrDeadlineExceeded)
		}
		res, _, err := c.io(ctx, core.KindSend, p[n:min(len(p), n+maxIO)], msgNoSignal, nil, &c.wd)
		n += int(max(res, 0))
		if err != nil {
			return n, c.opError("write", err)
		}
		if n == len(p) || c.dgram { // a datagram goes whole or not at all
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return n, c.opError("write", err)
		}
	}
}

// Close cancels every operation in flight on the connection, waits for
// all of them, then closes the socket. Blocked calls return errors
// matching net.ErrClosed.
func (c *Conn) Close() error {
	c.rd.stop()
	c.wd.stop()
	if err := c.f.Close(); err != nil {
		if err, ok := err.(interface{ Unwrap() error }); ok && err.Unwrap() == os.ErrClosed {
			return c.opError("close", net.ErrClosed)
		}
		return c.opError("close", err)
	}
	return nil
}

// CloseRead shuts down the reading side of the connection.
func (c *Conn) CloseRead() error { return c.shutdown(shutRD, "close") }

// CloseWrite shuts down the writing side: the peer reads io.EOF.
func (c *Conn) CloseWrite() error { return c.shutdown(shutWR, "close") }

func (c *Conn) shutdown(how int, op string) error {
	if _, _, err := c.io(context.Background(), core.KindShutdown, nil, how, nil, nil); err != nil {
		return c.opError(op, err)
	}
	return nil
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for Read calls, including one in
// flight: a time in the past cancels it at once. The zero time clears it.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.f.refs.Closing() {
		return c.opError("set", net.ErrClosed)
	}
	if c.f.poll != nil {
		c.f.poll.setUserDeadline(dirRead, t)
		return nil
	}
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the deadline for Write calls, as SetReadDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.f.refs.Closing() {
		return c.opError("set", net.ErrClosed)
	}
	if c.f.poll != nil {
		c.f.poll.setUserDeadline(dirWrite, t)
		return nil
	}
	c.wd.set(t)
	return nil
}

var _ net.Conn = (*Conn)(nil)
