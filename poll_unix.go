//go:build unix

package aio

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
// Each direction lets one call at a time into the netpoller (its gate), as
// Go's own poll.FD does, so that waking the call in flight wakes no
// other. A call is woken without data through the poller's deadline, set
// in the past: by the caller's own deadline (Conn.SetReadDeadline), by
// its context ending (a kick, from context.AfterFunc), or by Close. A
// kick remembers it set the deadline (kicked), and the next call puts the
// caller's deadline back when it leaves.
//
// Its layout matters (see pollDir): its head fills the rest of the cache
// line before dirs, and both directions start on a line of their own.
type pollFD struct {
	pollHead
	_    [cacheLine - mallocHeader - unsafe.Sizeof(pollHead{})]byte // (fails to compile if the head outgrows its line)
	dirs [2]pollDir

	// closeMu orders closing (which File.Close and Ring.Close may both
	// call, at once) before close releases the descriptor: released, set
	// by close, makes a later closing a no-op.
	closeMu  sync.Mutex
	released bool
}

// pollHead is the head of a pollFD: what a call reads of it besides its
// direction (rc, fd, closed), and what it never reads.
type pollHead struct {
	rc   syscall.RawConn
	file *os.File
	ring *Ring // whose Close ends the calls (its polls)
	// fd is the descriptor's number, open while a call holds a gate and
	// closed is false (Close waits for the gates: see closing).
	fd     int
	closed atomic.Bool // Close has begun: calls from now on do nothing
}

// mallocHeader is where Go's allocator puts an object that holds pointers
// and is over 64 words long (512 bytes on 64-bit platforms), such as a
// pollFD, or a Conn with its own: 8 bytes into its slot, after the header
// that says where its pointers are (Go 1.22 on). Its slot, in a size class
// of whole cache lines, starts on a line, so such an object's byte
// cacheLine-mallocHeader does. TestPollDirLayout and TestConnLayout check
// it on real allocations.
const mallocHeader = 8

const (
	dirRead  = 0
	dirWrite = 1
)

// sysCall is a system call a readiness wait is for, made on the
// descriptor in place of a kind's (see doFunc): the count moved, or the
// errno. An interface, not a func, so that a caller's state (a pointer)
// serves without a closure allocated per call.
type sysCall interface {
	call(fd int) (int, syscall.Errno)
}

// pastDeadline is any time in the past.
var pastDeadline = time.Unix(1, 0)

// pollDir is one direction of a pollFD.
//
// Its layout matters: what every call writes (the gate, the call's own
// state, its counters) fills its first two cache lines, and nothing else
// does. A goroutine that calls on one CPU and then on another (as both
// ends of a ping-pong do whenever either is woken on the other's CPU)
// pulls each line it wrote over from the first CPU's cache. Measured on
// a 2-core VM: a pipe round trip was 1.08x the RawConn floor's
// (BenchmarkPipePingPong) with one P and 1.2x with two; with the fields
// packed and a shallower call chain (File.WriteContext), 1.1x with two.
// TestPollDirLayout keeps the layout.
type pollDir struct {
	pollDirFields
	// Whole lines, so that both directions of a pollFD (the first on a
	// line: see pollFD) start on one. (Never empty: a zero-size last
	// field would itself be padded.)
	_ [cacheLine - unsafe.Sizeof(pollDirFields{})%cacheLine]byte
}

// pollDirFields are a pollDir's, in the order that matters (see pollDir).
type pollDirFields struct {
	// Written by every call (the first two lines).
	gate    gate        // held by the call in this direction
	stale   atomic.Bool // kicked, and the caller's deadline is not back yet (see restore)
	timed   atomic.Bool // the caller has set a deadline: writes go through RawConn, which checks it (see call)
	tried   bool        // the call made its system call at least once
	waited  bool        // the call found it had to wait: counted in flight
	kind    core.Kind
	hasAddr bool // addr is set (a recvmsg's or a sendmsg's): addr's own line is looked at only then
	n       int
	errno   syscall.Errno
	buf     []byte
	flags   int
	fn      func(fd uintptr) bool // attempt, bound once
	// custom, when set, is the call's system call instead of kind's (a
	// transfer's sendfile or splice: see transfer_linux.go).
	custom  sysCall
	addrLen int           // a recvmsg's source address length (read by every call)
	ctr     core.Counters // its calls, counted by it alone (its serial word, the gate's lock, first)

	// Written only by the calls that use them (a datagram's address, a
	// cancellable call's context), and by kicks and deadlines.
	p     *pollFD
	which uint8
	addr  []byte
	ctx   context.Context
	stop  func() bool // its context's AfterFunc, if armed

	mu       sync.Mutex
	deadline time.Time // the caller's deadline, in force unless kicked
	kicked   bool      // the poller's deadline is in the past for a cancel
	closing  bool      // Close has kicked for good
	gen      uint64    // the call in flight; bumped by each
	inCall   bool
	// abort, when set (under mu), is the transfer's flag that a Close of
	// its other side raised: the call is kicked as soon as it waits
	// (kickAbort, attempt).
	abort *atomic.Bool
}

// newPollFD registers fd, non-blocking, with Go's netpoller; the pollFD
// owns it from then on. It is made in into if that is not nil (a Conn's
// own: see Conn.pd), else allocated. ok false: the netpoller refused it
// (a character device without poll support), and fd is still the
// caller's.
func newPollFD(fd int, name string, r *Ring, mayRefuse bool, into *pollFD) (p *pollFD, ok bool) {
	t := r.table
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
	p = into
	if p == nil {
		p = new(pollFD)
	}
	p.file, p.rc, p.fd, p.ring = f, rc, fd, r
	for i := range p.dirs {
		d := &p.dirs[i]
		d.p, d.which = p, uint8(i)
		t.AddCounters(&d.ctr, core.MechReadiness)
		d.gate.init(&d.ctr)
		d.fn = d.attempt()
	}
	if !r.polls.add(p) {
		p.closed.Store(true) // the ring is closing: every call is refused
	}
	return p, true
}

// pollSet is a ring's live pollFDs: Ring.Close ends the calls waiting on
// them (rule 6), as it cancels the driver's operations. It changes only
// when a descriptor is adopted or closed, never per call.
type pollSet struct {
	mu     sync.Mutex
	m      map[*pollFD]struct{}
	closed bool
}

// add puts p in the set; false if the ring is closing.
func (s *pollSet) add(p *pollFD) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.m == nil {
		s.m = make(map[*pollFD]struct{})
	}
	s.m[p] = struct{}{}
	return true
}

func (s *pollSet) remove(p *pollFD) {
	s.mu.Lock()
	delete(s.m, p)
	s.mu.Unlock()
}

// close ends, for good, every call on the set's pollFDs, and returns once
// none is in flight: later calls on them fail as closed. The descriptors
// stay open, their Files' to close.
func (s *pollSet) close() {
	s.mu.Lock()
	s.closed = true
	ps := make([]*pollFD, 0, len(s.m))
	for p := range s.m {
		ps = append(ps, p)
	}
	s.mu.Unlock()
	for _, p := range ps {
		p.closing()
	}
}

// call runs one call in direction dir: kind's system call on the
// descriptor (or custom, doFunc's: poll_linux.go), waiting in the
// netpoller while it would block. It returns the kernel's result (a
// count or descriptor, or -errno) and a recvmsg's source address length.
// A call whose wait ended without a result is cancelled (res -ECANCELED)
// and cause says why: ctx's error, os.ErrDeadlineExceeded, or
// os.ErrClosed when Close has begun. A call made once Close has begun
// does nothing: cause errClosedBeforeStart.
func (p *pollFD) call(ctx context.Context, dir int, kind core.Kind, buf []byte, flags int, addr []byte, custom sysCall, abort *atomic.Bool) (res int32, addrLen int, cause error) {
	d := &p.dirs[dir]
	if !d.gate.tryEnter() && !d.gate.enterSlow(ctx) {
		return -int32(syscall.ECANCELED), 0, ctx.Err()
	}
	if p.closed.Load() { // Close waits for the gates, so it waits for us
		d.gate.leave(false)
		return 0, 0, errClosedBeforeStart
	}
	if dir == dirWrite && custom == nil && len(buf) > 0 && (kind == core.KindWrite || kind == core.KindSend) && !d.timed.Load() {
		// A write the kernel takes at once needs nothing of the
		// netpoller, so it is made here, without RawConn's lock, its
		// deadline check and its callback: the descriptor is open
		// (the gate is held and closed was false), non-blocking, and no
		// deadline of the caller's can have passed (none is set). Only
		// writes: a read that finds nothing would make its system call
		// again inside RawConn (whose wait must follow an attempt made
		// after it resets the descriptor's readiness), and most reads
		// of a blocking call wait. Anything but success (EAGAIN, an
		// error) goes the usual way, which makes the call again.
		if n, errno := portable.TransferNow(kind, p.fd, buf, flags); errno == 0 {
			d.gate.leave(true)
			return int32(n), 0, nil
		}
	}
	if d.stale.Load() {
		d.restore()
	}
	d.kind, d.buf, d.flags = kind, buf, flags
	if custom != nil {
		d.custom = custom
	}
	if addr != nil || d.hasAddr { // (addr is on a line of its own: see pollDir)
		d.addr, d.hasAddr = addr, addr != nil
	}
	d.addrLen = 0
	d.n, d.errno, d.tried, d.waited = 0, 0, false, false
	// Only a call whose context can end, or a transfer's that its other
	// side's Close can abort, can be kicked (arm, kickAbort): only such a
	// call needs the kick's bookkeeping. Close's kick is for good and
	// needs none.
	if ctx.Done() != nil || abort != nil {
		return p.doCancellable(ctx, d, abort)
	}
	var err error
	if dir == dirRead {
		err = p.rc.Read(d.fn)
	} else {
		err = p.rc.Write(d.fn)
	}
	if custom != nil {
		d.custom = nil
	}
	if err == nil && d.errno == 0 { // the common case, kept short
		res, addrLen = int32(d.n), d.addrLen
		d.forget()
		d.gate.leave(true)
		return res, addrLen, nil
	}
	res, cause = p.outcome(ctx, d, err, false)
	addrLen = d.addrLen
	d.forget()
	d.gate.leave(d.tried)
	return res, addrLen, cause
}

// forget drops the call's buffers once it is over: a pollDir lives as
// long as its descriptor, and a pointer left here would keep the caller's
// buffer, and whatever object it lies in (net/http's connReader, and
// through it a server), reachable until the next call.
func (d *pollDir) forget() {
	d.buf = nil
	if d.hasAddr {
		d.addr, d.hasAddr = nil, false
	}
}

// doCancellable is do for a call whose context can end: its kick (arm)
// needs the bookkeeping of gen, inCall and kicked.
func (p *pollFD) doCancellable(ctx context.Context, d *pollDir, abort *atomic.Bool) (res int32, addrLen int, cause error) {
	if ctx.Done() != nil {
		d.ctx = ctx
	}
	d.mu.Lock()
	d.gen++
	d.inCall = true
	d.abort = abort
	d.mu.Unlock()
	var err error
	if d.which == dirRead {
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
	d.abort = nil
	kicked := d.kicked
	if kicked && !d.closing {
		// The caller's deadline goes back at the next call (restore):
		// not now, so that a cancelled call returns sooner.
		d.stale.Store(true)
	}
	d.mu.Unlock()
	d.ctx, d.custom = nil, nil
	res, cause = p.outcome(ctx, d, err, kicked)
	addrLen = d.addrLen
	d.forget()
	d.gate.leave(d.tried)
	return res, addrLen, cause
}

// outcome turns a call's end into its result (see call) and counts it.
func (p *pollFD) outcome(ctx context.Context, d *pollDir, err error, kicked bool) (res int32, cause error) {
	switch {
	case err == nil && d.errno == 0:
		res = int32(d.n)
	case err == nil:
		res = -int32(d.errno)
	case errors.Is(err, os.ErrDeadlineExceeded):
		res = -int32(syscall.ECANCELED)
		switch {
		case p.closed.Load():
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
	if d.waited {
		d.ctr.Result(res, kicked)
	} // (the gate counts the call, if made: not one that found its deadline past, say)
	return res, cause
}

// attempt returns the RawConn callback of the direction's calls: true
// when the call has a result. A closure made once, not a method value:
// its body runs in the callback's own frame, and a plain read, write,
// recv or send makes its system call there (portable.TransferNow is
// inlined), so that it sits as few frames deep as os.File's. After a
// system call, each frame returned through costs a mispredicted return:
// on a 2-core VM about 10 ns, against 1.5 ns with no system call beneath.
// (With four frames fewer, a write and a read on a pipe,
// BenchmarkPipeWriteRead, went from 1.26-1.36x the RawConn floor's time
// to 1.13-1.15x.)
func (d *pollDir) attempt() func(fd uintptr) bool {
	return func(fd uintptr) bool {
		d.tried = true
		for {
			var errno syscall.Errno
			switch k := d.kind; {
			case d.custom != nil:
				d.n, errno = d.custom.call(int(fd))
			case len(d.buf) > 0 && (k == core.KindRead || k == core.KindWrite || k == core.KindRecv || k == core.KindSend):
				var n uintptr
				n, errno = portable.TransferNow(k, int(fd), d.buf, d.flags)
				d.n = int(n)
			case k == core.KindConnect:
				errno = connectResult(int(fd))
			default:
				d.n, errno = d.attemptOther(int(fd))
			}
			switch errno {
			case 0:
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN, syscall.EINPROGRESS, syscall.EALREADY:
				if !d.waited {
					d.waited = true // (in flight meanwhile: the gate counts it)
					d.arm()
					if d.abort != nil && d.abort.Load() { // (abort is this call's: read without mu)
						d.kickAbort(d.abort)
					}
				}
				return false
			}
			d.errno = errno
			return true
		}
	}
}

// attemptOther makes the system call of a kind other than attempt's
// plain ones (an accept, a datagram's, an empty transfer).
func (d *pollDir) attemptOther(fd int) (int, syscall.Errno) {
	n, addrLen, errno := portable.Attempt(d.kind, fd, d.buf, d.flags, d.addr)
	if d.hasAddr {
		d.addrLen = addrLen
	}
	return n, errno
}

// arm makes the call's context, if it can end, kick the call when it
// does. Called once the call knows it has to wait.
func (d *pollDir) arm() {
	if d.ctx == nil { // set only for a call whose context can end
		return
	}
	gen := d.gen
	d.stop = context.AfterFunc(d.ctx, func() { d.kick(gen) })
}

// restore puts the caller's deadline back on the netpoller after a kick
// (unless Close has kicked for good). Called by the holder of the gate.
func (d *pollDir) restore() {
	d.mu.Lock()
	if d.kicked && !d.closing {
		d.kicked = false
		d.p.setDeadline(int(d.which), d.deadline)
	}
	d.stale.Store(false)
	d.mu.Unlock()
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

// kickAbort wakes the call in flight without data if it is the one
// abort belongs to (see doFunc).
func (d *pollDir) kickAbort(abort *atomic.Bool) {
	d.mu.Lock()
	if d.inCall && d.abort == abort && !d.kicked {
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
	d.timed.Store(!t.IsZero())
	if !d.kicked {
		p.setDeadline(dir, t)
	}
	d.mu.Unlock()
}

// closing wakes every call in the netpoller for good and waits until
// every call has left: Close has begun. A call holds its direction's gate
// throughout, so once closing has held each gate, no call is in flight
// and every later one sees closed and does nothing. (So the readiness
// path needs no reference count of its own.)
func (p *pollFD) closing() {
	p.closeMu.Lock()
	if p.released { // the File closed it: nothing waits any more
		p.closeMu.Unlock()
		return
	}
	p.closed.Store(true)
	for i := range p.dirs {
		d := &p.dirs[i]
		d.mu.Lock()
		d.closing, d.kicked = true, true
		p.setDeadline(i, pastDeadline)
		d.mu.Unlock()
	}
	p.closeMu.Unlock()
	for i := range p.dirs {
		p.dirs[i].gate.enter(context.Background())
		p.dirs[i].gate.leave(false)
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
func (p *pollFD) close() error {
	p.ring.polls.remove(p)
	p.closeMu.Lock()
	p.released = true
	p.closeMu.Unlock()
	for i := range p.dirs {
		p.dirs[i].ctr.Retire()
	}
	return p.file.Close()
}

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
func (p *pollFD) connect(ctx context.Context, sa []byte) (res int32, cause error) {
	var errno syscall.Errno
	if err := p.rc.Control(func(fd uintptr) { errno = portable.ConnectStart(int(fd), sa) }); err != nil {
		return -int32(syscall.EBADF), nil
	}
	switch errno {
	case 0, syscall.EISCONN:
		p.dirs[dirWrite].ctr.AtOnce()
		return 0, nil
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
	default:
		p.dirs[dirWrite].ctr.AtOnce()
		return -int32(errno), nil
	}
	res, _, cause = p.call(ctx, dirWrite, core.KindConnect, nil, 0, nil, nil, nil)
	return res, cause
}

// gate lets one call at a time through, with no channel operation when
// it is free (a channel send and receive cost a pipe ping-pong 14% of its
// CPU). Its lock is its direction's counters' serial word
// (core.Counters.Take and Free), so that taking the gate and freeing it
// also count the call: one atomic instruction each. Callers that find it
// held count themselves as waiting and sleep on wake, whose token the
// leaver sends while anyone waits; a waiter's context may end its wait.
//
// No wake-up is lost: a waiter counts itself before its last try, and
// the leaver frees the gate before it looks at the count (all
// sequentially consistent), so either the waiter's try succeeds or the
// leaver sees it and sends a token. A token nobody needed (its waiter
// took the gate by the fast path, or left) only makes the next waiter
// try once more.
type gate struct {
	lock    *core.Counters // the lock, and the count of the calls through it
	waiting atomic.Int32
	wake    chan struct{} // capacity 1
}

func (g *gate) init(lock *core.Counters) { g.lock, g.wake = lock, make(chan struct{}, 1) }

// enter takes the gate; false if ctx ended first.
func (g *gate) enter(ctx context.Context) bool {
	return g.tryEnter() || g.enterSlow(ctx)
}

// tryEnter takes the gate if it is free: enter's fast path, inlined.
func (g *gate) tryEnter() bool { return g.lock.Take() }

// enterSlow is enter when the gate is held.
func (g *gate) enterSlow(ctx context.Context) bool {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	for {
		if g.lock.Take() {
			return true
		}
		select {
		case <-g.wake:
		case <-ctx.Done():
			return false
		}
	}
}

// leave frees the gate; made says whether the call made its system call
// (and is counted: see core.Counters.Free).
func (g *gate) leave(made bool) {
	g.lock.Free(made)
	if g.waiting.Load() > 0 {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}
