package aio

import (
	"context"
	"net"
	"os"
	"sync"
	"time"

	"github.com/waitforit/aio/internal/core"
)

// Listener is a stream listener (TCP or unix) accepting through a Ring. It
// implements net.Listener, with SetDeadline and AcceptContext.
//
// A connection that an accept wins after its cancel was requested goes to
// the caller still waiting for it; if the listener is being closed, nobody
// is, and the library closes the connection (it is never leaked).
type Listener struct {
	f        *File
	network  string
	addr     net.Addr
	acceptMu sync.Mutex // one accept at a time, as in Go's net
	dl       deadline
	unlink   string // the unix socket file this listener created
	closed   sync.Once
}

func (r *Ring) newListener(fd int, network string, addr net.Addr) (*Listener, error) {
	f, err := r.newFile(fd, "")
	if err != nil {
		return nil, err
	}
	l := &Listener{f: f, network: network, addr: addr}
	l.dl.table = r.table
	return l, nil
}

func (l *Listener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: l.network, Source: nil, Addr: l.addr, Err: err}
}

// Accept waits for and returns the next connection.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptContext(context.Background()) }

// AcceptContext is Accept that also ends when ctx does: the accept is
// cancelled and waited for. A connection accepted anyway is returned.
func (l *Listener) AcceptContext(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, l.opError(err)
	}
	l.acceptMu.Lock()
	defer l.acceptMu.Unlock()
	if l.dl.passed() {
		return nil, l.opError(os.ErrDeadlineExceeded)
	}
	c := &Conn{f: l.f} // borrow Conn.io for the accept itself
	res, _, err := c.io(ctx, core.KindAccept, nil, sockCloexec, nil, &l.dl)
	if err != nil {
		return nil, l.opError(err)
	}
	fd := int(res)
	if l.f.refs.Closing() {
		// Won after Close asked to cancel it: nobody is left to take it.
		closeFD(fd)
		return nil, l.opError(net.ErrClosed)
	}
	conn, err := l.f.ring.newConn(fd, l.network, localAddr(l.network, fd), remoteAddr(l.network, fd))
	if err != nil {
		return nil, l.opError(err)
	}
	conn.setNoDelay()
	return conn, nil
}

// Close stops listening: a blocked Accept returns an error matching
// net.ErrClosed once the kernel has completed it.
func (l *Listener) Close() error {
	l.dl.stop()
	err := l.f.Close()
	l.closed.Do(func() {
		if l.unlink != "" {
			os.Remove(l.unlink)
		}
	})
	if err != nil {
		return &net.OpError{Op: "close", Net: l.network, Addr: l.addr, Err: net.ErrClosed}
	}
	return nil
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// SetDeadline sets the deadline for Accept, including one in flight.
func (l *Listener) SetDeadline(t time.Time) error {
	if l.f.refs.Closing() {
		return &net.OpError{Op: "set", Net: l.network, Addr: l.addr, Err: net.ErrClosed}
	}
	l.dl.set(t)
	return nil
}

var _ net.Listener = (*Listener)(nil)
