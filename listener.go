package aio

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/waitforit/aio/internal/core"
)

// Listener is a stream listener (TCP or unix) accepting through a Ring. It
// implements net.Listener, with SetDeadline and AcceptContext.
//
// A connection that an accept wins after its cancel was requested goes to
// the caller still waiting for it; if the listener is being closed, nobody
// is, and the library closes the connection (it is never leaked).
//
// Where the backend has it (io_uring on Linux 5.19 and later), one
// multishot accept request serves every Accept: the kernel accepts
// connections as they arrive into a queue of at most acceptQueueMax that
// Accept takes from, without a submission per connection. Connections in
// that queue belong to the listener: Close closes them.
type Listener struct {
	f        *File
	network  string
	addr     net.Addr
	acceptMu sync.Mutex // one accept at a time, as in Go's net
	dl       deadline
	unlink   string // the unix socket file this listener created
	closed   sync.Once
	q        *acceptQueue // nil: one accept request per Accept
}

// acceptQueueMax bounds the connections a multishot accept takes ahead of
// Accept calls; at the bound the request is cancelled (the kernel's
// backlog holds the rest) and the next Accept that finds the queue empty
// starts a new one.
const acceptQueueMax = 256

// acceptQueue is a listener's multishot accept. Every descriptor in fds
// is the listener's until an Accept takes it; Close waits for the
// request's final completion (so nothing more can be queued) and closes
// what is left.
type acceptQueue struct {
	table   *core.Table
	mu      sync.Mutex
	fds     []int
	err     error         // the request ended with this error; for the next Accept
	armed   bool          // a request is in flight (or being submitted)
	got     bool          // the request in flight has yielded a socket
	capped  bool          // its cancel was requested because fds is full
	single  bool          // the kernel refused multishot: accept one at a time
	drained bool          // Close has closed what was queued
	ready   chan struct{} // capacity 1: fds, err or armed changed
	dlWake  chan struct{} // capacity 1: the deadline passed
}

// More takes one accepted socket (a CQE with IORING_CQE_F_MORE).
func (q *acceptQueue) More(rec *core.Record, res int32) {
	q.mu.Lock()
	if res >= 0 {
		q.fds = append(q.fds, int(res))
		q.got = true
		if len(q.fds) >= acceptQueueMax && !q.capped {
			q.capped = true
			// Not from here: this runs on the goroutine that reaps.
			go q.table.Cancel(rec, rec.Gen())
		}
	}
	q.mu.Unlock()
	q.signal()
}

// Complete takes the request's final result: a last socket, a cancel, or
// an error that the next Accept reports.
func (q *acceptQueue) Complete(rec *core.Record) {
	res := rec.Res
	q.table.Put(rec)
	q.mu.Lock()
	switch errno := syscall.Errno(-res); {
	case res >= 0:
		q.fds = append(q.fds, int(res))
	case errno == syscall.ECANCELED, errno == syscall.ECONNABORTED, errno == syscall.EINTR:
		// The next Accept that finds the queue empty starts a new request.
	case errno == syscall.EINVAL && !q.got:
		q.single = true // no multishot after all: accept one at a time
	default:
		q.err = os.NewSyscallError("accept", errno)
	}
	q.armed, q.got, q.capped = false, false, false
	q.mu.Unlock()
	q.signal()
}

func (q *acceptQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// drain closes the sockets nobody took. Called by Close once the request
// has completed.
func (q *acceptQueue) drain() {
	q.mu.Lock()
	fds := q.fds
	q.fds, q.drained = nil, true
	q.mu.Unlock()
	for _, fd := range fds {
		closeFD(fd)
	}
}

// acceptMulti returns the next socket of the multishot accept, starting
// the request when none is in flight. single reports that the kernel
// refused multishot (fd and err are then meaningless).
func (l *Listener) acceptMulti(ctx context.Context) (fd int, single bool, err error) {
	q := l.q
	for {
		q.mu.Lock()
		switch {
		case len(q.fds) > 0:
			fd := q.fds[0]
			q.fds = q.fds[:copy(q.fds, q.fds[1:])]
			q.mu.Unlock()
			return fd, false, nil
		case q.err != nil:
			err := q.err
			q.err = nil
			q.mu.Unlock()
			return -1, false, err
		case q.single:
			q.mu.Unlock()
			return -1, true, nil
		case q.drained:
			q.mu.Unlock()
			return -1, false, net.ErrClosed
		case !q.armed:
			q.armed = true
			q.mu.Unlock()
			// Not under mu: the request may complete inside start.
			if _, err := l.f.start(core.KindAcceptMulti, nil, 0, sockCloexec, nil, q); err != nil {
				q.mu.Lock()
				q.armed = false
				q.mu.Unlock()
				if err == os.ErrClosed {
					err = net.ErrClosed
				}
				return -1, false, err
			}
			continue
		}
		q.mu.Unlock()
		if l.dl.waitBegin(q.dlWake) {
			return -1, false, canceledBy(os.ErrDeadlineExceeded)
		}
		select {
		case <-q.ready:
		case <-q.dlWake:
		case <-ctx.Done():
			l.dl.waitEnd()
			return -1, false, canceledBy(ctx.Err())
		}
		l.dl.waitEnd()
		if l.dl.passed() {
			return -1, false, canceledBy(os.ErrDeadlineExceeded)
		}
	}
}

func (r *Ring) newListener(fd int, network string, addr net.Addr) (*Listener, error) {
	f, err := r.newFile(fd, "", madeByAio)
	if err != nil {
		return nil, err
	}
	l := &Listener{f: f, network: network, addr: addr}
	l.dl.table = r.table
	if f.poll == nil && r.supported(core.KindAcceptMulti) == nil {
		l.q = &acceptQueue{table: r.table, ready: make(chan struct{}, 1), dlWake: make(chan struct{}, 1)}
	}
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
	if l.f.poll == nil && l.dl.passed() {
		return nil, l.opError(os.ErrDeadlineExceeded)
	}
	fd, single := -1, l.q == nil
	var err error
	if l.f.poll != nil { // the readiness path: accept4 here, or wait in the netpoller
		var res int32
		res, _, err = l.f.pollDo(ctx, core.KindAccept, nil, sockCloexec|sockNonblock, nil, net.ErrClosed)
		if errno, ok := err.(syscall.Errno); ok {
			err = os.NewSyscallError("accept", errno)
		}
		fd, single = int(res), false
	} else if !single {
		fd, single, err = l.acceptMulti(ctx)
	}
	if single {
		c := &Conn{connHot: connHot{f: l.f}} // borrow Conn.io for the accept itself
		var res int32
		res, _, err = c.io(ctx, core.KindAccept, nil, sockCloexec, nil, &l.dl)
		fd = int(res)
	}
	if err != nil {
		return nil, l.opError(err)
	}
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
	err := l.f.Close() // cancels the multishot accept and waits for its end
	if l.q != nil {
		l.q.drain()
	}
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
	if l.f.poll != nil {
		l.f.poll.setUserDeadline(dirRead, t)
		return nil
	}
	l.dl.set(t)
	return nil
}

var _ net.Listener = (*Listener)(nil)
