//go:build unix

package aio

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/backend/portable"
	"github.com/waitforit/aio/internal/core"
)

// pollFD is the readiness path of a descriptor (see mechanism.go): its
// blocking calls are made by the calling goroutine itself, as a
// non-blocking system call, and while that would wait the goroutine parks
// in Go's netpoller, as net.Conn's do. No record, no other goroutine, no
// allocation for a call without a cancellable context.
//
// The descriptor is non-blocking (aio made it, or it is aio's private
// reopening of an adopted one: see newFile) and owned by file, an
// *os.File registered with the netpoller.
//
// Each direction lets one call at a time into the netpoller (sem), as
// Go's own poll.FD does, so that waking the call in flight wakes no
// other. A call is woken without data through the poller's deadline, set
// in the past: by the caller's own deadline (Conn.SetReadDeadline), by
// its context ending (a kick, from context.AfterFunc), or by Close. A
// kick remembers it set the deadline (kicked) and the call puts the
// caller's deadline back when it leaves.
type pollFD struct {
	file  *os.File
	rc    syscall.RawConn
	table *core.Table
	dirs  [2]pollDir
}

const (
	dirRead  = 0
	dirWrite = 1
)

// pastDeadline is any time in the past.
var pastDeadline = time.Unix(1, 0)

// pollDir is one direction of a pollFD.
type pollDir struct {
	p     *pollFD
	which uint8
	sem   chan struct{} // capacity 1: held by the call in this direction

	mu       sync.Mutex
	deadline time.Time // the caller's deadline, in force unless kicked
	kicked   bool      // the poller's deadline is in the past for a cancel
	closing  bool      // Close has kicked for good
	gen      uint64    // the call in flight; bumped by each
	inCall   bool

	// The call in flight, owned by the holder of sem.
	kind    core.Kind
	buf     []byte
	flags   int
	addr    []byte
	ctx     context.Context
	n       int
	addrLen int
	errno   syscall.Errno
	tried   bool                  // the call made its system call at least once
	waited  bool                  // the call found it had to wait: counted in flight
	stop    func() bool           // its context's AfterFunc, if armed
	fn      func(fd uintptr) bool // attempt, bound once
}

// newPollFD registers fd, non-blocking, with Go's netpoller; the pollFD
// owns it from then on. ok false: the netpoller refused it (a character
// device without poll support), and fd is still the caller's.
func newPollFD(fd int, name string, t *core.Table, mayRefuse bool) (p *pollFD, ok bool) {
	if mayRefuse {
		// os.File cannot give a descriptor back: try a duplicate first.
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, false
		}
		f := os.NewFile(uintptr(dup), name)
		refused := f.SetReadDeadline(time.Time{}) != nil
		f.Close()
		if refused {
			return nil, false
		}
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil {
		panic("aio: inconsistent readiness state: the netpoller refused a pollable descriptor")
	}
	p = &pollFD{file: f, rc: rc, table: t}
	for i := range p.dirs {
		d := &p.dirs[i]
		d.p, d.which, d.sem = p, uint8(i), make(chan struct{}, 1)
		d.fn = d.attempt
	}
	return p, true
}

// do runs one call in direction dir: kind's system call on the
// descriptor, waiting in the netpoller while it would block. It returns
// the kernel's result (a count or descriptor, or -errno) and a recvmsg's
// source address length. A call whose wait ended without a result is
// cancelled (res -ECANCELED) and cause says why: ctx's error,
// os.ErrDeadlineExceeded, or os.ErrClosed when refs is closing. A call
// made once refs is closing does nothing: cause errClosedBeforeStart.
func (p *pollFD) do(ctx context.Context, dir int, kind core.Kind, buf []byte, flags int, addr []byte, refs *core.Refs) (res int32, addrLen int, cause error) {
	d := &p.dirs[dir]
	select {
	case d.sem <- struct{}{}:
	default:
		if ctx.Done() == nil {
			d.sem <- struct{}{}
		} else {
			select {
			case d.sem <- struct{}{}:
			case <-ctx.Done():
				return -int32(syscall.ECANCELED), 0, ctx.Err()
			}
		}
	}
	defer func() { <-d.sem }()
	if !refs.Acquire() {
		return 0, 0, errClosedBeforeStart
	}
	defer refs.Release()
	d.kind, d.buf, d.flags, d.addr, d.ctx = kind, buf, flags, addr, ctx
	d.n, d.addrLen, d.errno, d.tried, d.waited = 0, 0, 0, false, false
	d.mu.Lock()
	d.gen++
	d.inCall = true
	d.mu.Unlock()

	var err error
	if dir == dirRead {
		err = p.rc.Read(d.fn)
	} else {
		err = p.rc.Write(d.fn)
	}

	if d.stop != nil {
		d.stop() // a kick that comes anyway finds the call over (gen, inCall)
		d.stop = nil
	}
	d.mu.Lock()
	d.inCall = false
	kicked := d.kicked
	if kicked && !d.closing {
		d.kicked = false
		p.setDeadline(dir, d.deadline)
	}
	d.mu.Unlock()
	d.buf, d.addr, d.ctx = nil, nil, nil

	switch {
	case err == nil && d.errno == 0:
		res, addrLen = int32(d.n), d.addrLen
	case err == nil:
		res = -int32(d.errno)
	case errors.Is(err, os.ErrDeadlineExceeded):
		res = -int32(syscall.ECANCELED)
		switch {
		case refs.Closing():
			cause = os.ErrClosed
		case kicked && ctx.Err() != nil:
			cause = ctx.Err()
		default:
			cause = os.ErrDeadlineExceeded
		}
	case errors.Is(err, os.ErrClosed):
		res, cause = -int32(syscall.ECANCELED), os.ErrClosed
	default:
		res = -int32(syscall.EIO)
		var errno syscall.Errno
		if errors.As(err, &errno) {
			res = -int32(errno)
		}
	}
	switch {
	case d.waited:
		p.table.EndCall(core.MechReadiness, res, kicked)
	case d.tried:
		p.table.CountReadiness()
	} // else nothing was done: a deadline already past, say
	return res, addrLen, cause
}

// attempt is the RawConn callback of a call: true when it has a result.
func (d *pollDir) attempt(fd uintptr) bool {
	d.tried = true
	for {
		var errno syscall.Errno
		if d.kind == core.KindConnect {
			errno = connectResult(int(fd))
		} else {
			d.n, d.addrLen, errno = portable.Attempt(d.kind, int(fd), d.buf, d.flags, d.addr)
		}
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN, syscall.EINPROGRESS, syscall.EALREADY:
			if !d.waited {
				d.waited = true
				d.p.table.BeginCall(core.MechReadiness)
				d.arm()
			}
			return false
		}
		d.errno = errno
		return true
	}
}

// arm makes the call's context, if it can end, kick the call when it
// does. Called once the call knows it has to wait.
func (d *pollDir) arm() {
	if d.ctx.Done() == nil {
		return
	}
	gen := d.gen
	d.stop = context.AfterFunc(d.ctx, func() { d.kick(gen) })
}

// kick wakes call gen, if it is still in flight, without data.
func (d *pollDir) kick(gen uint64) {
	d.mu.Lock()
	if d.inCall && d.gen == gen && !d.kicked {
		d.kicked = true
		d.p.setDeadline(int(d.which), pastDeadline)
	}
	d.mu.Unlock()
}

// setUserDeadline sets the caller's deadline for direction dir (the zero
// time: none), as SetReadDeadline does for net.Conn.
func (p *pollFD) setUserDeadline(dir int, t time.Time) {
	d := &p.dirs[dir]
	d.mu.Lock()
	d.deadline = t
	if !d.kicked {
		p.setDeadline(dir, t)
	}
	d.mu.Unlock()
}

// closing wakes every call in the netpoller for good: Close has begun.
func (p *pollFD) closing() {
	for i := range p.dirs {
		d := &p.dirs[i]
		d.mu.Lock()
		d.closing, d.kicked = true, true
		p.setDeadline(i, pastDeadline)
		d.mu.Unlock()
	}
}

func (p *pollFD) setDeadline(dir int, t time.Time) {
	var err error
	if dir == dirRead {
		err = p.file.SetReadDeadline(t)
	} else {
		err = p.file.SetWriteDeadline(t)
	}
	if err != nil { // the file is open and in the poller until Close ends
		panic("aio: inconsistent readiness state: setting a deadline: " + err.Error())
	}
}

// close closes the descriptor. Every call has returned (Close drained
// the refs).
func (p *pollFD) close() error { return p.file.Close() }

// connectResult tells whether a connect in progress has finished (0, or
// its error), or is still in progress (EINPROGRESS): SO_ERROR has its
// outcome, and a socket with a peer is connected. The netpoller may wake
// us before either, as in Go's net package.
func connectResult(fd int) syscall.Errno {
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return e
		}
		return syscall.EIO
	}
	switch errno := syscall.Errno(soErr); errno {
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return syscall.EINPROGRESS
	case syscall.EISCONN, 0:
		if errno == 0 {
			if _, err := unix.Getpeername(fd); err != nil {
				return syscall.EINPROGRESS
			}
		}
		return 0
	default:
		return errno
	}
}

// connect connects the socket to the raw sockaddr sa on the readiness
// path: connect(2) at once, then, while it is in progress, wait until
// the socket is writable and look at its outcome.
func (p *pollFD) connect(ctx context.Context, sa []byte, refs *core.Refs) (res int32, cause error) {
	var errno syscall.Errno
	if err := p.rc.Control(func(fd uintptr) { errno = portable.ConnectStart(int(fd), sa) }); err != nil {
		return -int32(syscall.EBADF), nil
	}
	switch errno {
	case 0, syscall.EISCONN:
		p.table.CountReadiness()
		return 0, nil
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
	default:
		p.table.CountReadiness()
		return -int32(errno), nil
	}
	res, _, cause = p.do(ctx, dirWrite, core.KindConnect, nil, 0, nil, refs)
	return res, cause
}
