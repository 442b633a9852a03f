package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
	abi "github.com/waitforit/aio/internal/uring"
)

// user_data values that name no record: record indexes never reach them.
const (
	udCancel = 0xFFFF_FFFF // result of an ASYNC_CANCEL we issued
	udStop   = 0xFFFF_FFFE // the NOP that tells the reaper to exit
)

// opcodes the driver needs for each kind of operation.
var kindOpcode = [...]uint8{
	core.KindNop:      abi.OpNop,
	core.KindRead:     abi.OpRead,
	core.KindWrite:    abi.OpWrite,
	core.KindFsync:    abi.OpFsync,
	core.KindOpen:     abi.OpOpenat,
	core.KindClose:    abi.OpClose,
	core.KindAccept:   abi.OpAccept,
	core.KindConnect:  abi.OpConnect,
	core.KindRecv:     abi.OpRecv,
	core.KindSend:     abi.OpSend,
	core.KindShutdown: abi.OpShutdown,
}

// Driver is one io_uring instance driven for a core.Table.
//
// Submission: any goroutine writes its SQE under sqMu and publishes it. If
// no goroutine is inside io_uring_enter for this ring, it becomes the
// flusher and enters (without holding sqMu) until everything published has
// been consumed; SQEs published meanwhile ride along in the next enter, so
// concurrent submitters share syscalls. A full SQ makes submitters wait on
// sqSpace, never fail.
//
// Reaping: a submitter that finds completions ready right after its enter
// (the common case for cached reads, which complete inline) dispatches
// them itself if the CQ is free, saving a hand-off. Everything else is
// reaped by a goroutine locked to its own OS thread, which sleeps in
// io_uring_enter(GETEVENTS) while requests are outstanding, and parks in
// Go when none are: the kernel wakes a GETEVENTS sleeper for every CQE
// posted, even one its submitter reaps at once, and that wake-up (an IPI
// to another CPU) used to cost more than the read itself. cqMu serialises
// CQ consumers.
//
// The park protocol: outstanding counts SQEs written whose CQEs are not
// yet consumed. The reaper parks only after publishing parked=true and
// then still seeing outstanding == 0; a submitter increments outstanding
// before its SQE is visible and, after its enter, wakes the reaper if
// outstanding > 0 and it can flip parked from true to false. With
// sequentially consistent atomics one of the two always sees the other.
type Driver struct {
	ring  *abi.Ring
	table *core.Table
	probe *abi.Probe

	sqMu     sync.Mutex
	sqSpace  sync.Cond // signalled after every enter: SQ slots may be free
	flushing bool      // a goroutine is entering for this ring
	closed   bool      // Close has begun; no more SQEs

	cqMu        sync.Mutex
	batch       []abi.CQE // CQEs copied out under cqMu
	outstanding atomic.Int64
	parked      atomic.Bool
	unpark      chan struct{} // capacity 1: the token of whoever flipped parked
	stopSeen    atomic.Bool
	reaped      chan struct{} // closed when the reaper has exited

	disabled [256]bool // opcodes hidden from Supported, for tests

	submitEnters atomic.Uint64 // io_uring_enter calls made to submit
}

// New sets up a ring of (at least) entries SQEs for t.
func New(entries int, t *core.Table) (core.Driver, error) {
	if entries <= 0 {
		entries = 256
	}
	var p abi.Params
	p.Flags = abi.SetupClamp | abi.SetupSubmitAll
	ring, err := abi.Setup(uint32(entries), &p)
	if errors.Is(err, unix.EINVAL) { // kernels before 5.18 lack SUBMIT_ALL
		p = abi.Params{Flags: abi.SetupClamp}
		ring, err = abi.Setup(uint32(entries), &p)
	}
	if err != nil {
		return nil, os.NewSyscallError("io_uring_setup", err)
	}
	if ring.Params.Features&abi.FeatNodrop == 0 {
		ring.Close()
		return nil, fmt.Errorf("io_uring: kernel lacks IORING_FEAT_NODROP, completions could be lost: %w", errors.ErrUnsupported)
	}
	probe, err := ring.Probe()
	if err != nil {
		ring.Close()
		return nil, os.NewSyscallError("io_uring_register(PROBE)", err)
	}
	for _, op := range []uint8{abi.OpNop, abi.OpAsyncCancel} {
		if !probe.Supported(op) {
			ring.Close()
			return nil, fmt.Errorf("io_uring: kernel lacks %s: %w", abi.OpName(op), errors.ErrUnsupported)
		}
	}
	d := &Driver{ring: ring, table: t, probe: probe, reaped: make(chan struct{}), unpark: make(chan struct{}, 1)}
	d.sqSpace.L = &d.sqMu
	go d.reaper()
	return d, nil
}

// SubmitEnters is the number of io_uring_enter calls made to submit:
// with many concurrent submitters it stays well below the number of
// operations, because SQEs published while one goroutine is entering ride
// along in its next call.
func (d *Driver) SubmitEnters() uint64 { return d.submitEnters.Load() }

// Name is "uring".
func (d *Driver) Name() string { return "uring" }

// Supported reports whether the kernel has the opcode for k.
func (d *Driver) Supported(k core.Kind) (bool, string) {
	if int(k) >= len(kindOpcode) {
		return false, k.String()
	}
	op := kindOpcode[k]
	return d.probe.Supported(op) && !d.disabled[op], abi.OpName(op)
}

// DisableOpcode hides k's opcode from Supported, as if the kernel lacked
// it. For tests of the unsupported-operation path.
func (d *Driver) DisableOpcode(k core.Kind) { d.disabled[kindOpcode[k]] = true }

// Submit writes r's SQE and makes sure it is entered.
func (d *Driver) Submit(r *core.Record) error {
	d.sqMu.Lock()
	sqe := d.sqeLocked()
	if sqe == nil {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	off := uint64(r.Off)
	if r.Off < 0 {
		off = ^uint64(0) // the file position (FEAT_RW_CUR_POS) / a stream
	}
	switch r.Kind {
	case core.KindNop:
		sqe.PrepNop()
	case core.KindRead:
		sqe.PrepRead(int32(r.FD), r.Buf, off)
	case core.KindWrite:
		sqe.PrepWrite(int32(r.FD), r.Buf, off)
	case core.KindFsync:
		sqe.PrepFsync(int32(r.FD), uint32(r.Flags))
	case core.KindOpen:
		sqe.PrepOpenat(unix.AT_FDCWD, &r.Path[0], r.Flags, r.Mode)
	case core.KindClose:
		sqe.PrepClose(int32(r.FD))
	case core.KindAccept:
		sqe.PrepAccept(int32(r.FD), nil, nil, uint32(r.Flags))
	case core.KindConnect:
		sqe.PrepConnect(int32(r.FD), r.Buf)
	case core.KindRecv:
		sqe.PrepRecv(int32(r.FD), r.Buf, uint32(r.Flags))
	case core.KindSend:
		sqe.PrepSend(int32(r.FD), r.Buf, uint32(r.Flags))
	case core.KindShutdown:
		sqe.PrepShutdown(int32(r.FD), r.Flags)
	default:
		panic("aio: inconsistent op kind " + r.Kind.String())
	}
	sqe.UserData = r.ID()
	r.Handoff()
	d.outstanding.Add(1)
	d.flushLocked()
	d.reapInline()
	d.wakeReaper()
	return nil
}

// Cancel asks the kernel to cancel the request with user_data id.
func (d *Driver) Cancel(r *core.Record, id uint64) {
	d.control(func(sqe *abi.SQE) { sqe.PrepCancel(id, 0) })
}

// CancelFD asks the kernel to cancel every request on fd.
func (d *Driver) CancelFD(fd int) {
	d.control(func(sqe *abi.SQE) { sqe.PrepCancelFD(int32(fd), abi.AsyncCancelAll) })
}

// CancelAll asks the kernel to cancel every request of the ring.
func (d *Driver) CancelAll() {
	d.control(func(sqe *abi.SQE) { sqe.PrepCancelAny() })
}

// control submits a request of our own whose completion names no record.
func (d *Driver) control(prep func(*abi.SQE)) {
	d.sqMu.Lock()
	sqe := d.sqeLocked()
	if sqe == nil { // closed: nothing is in flight any more
		d.sqMu.Unlock()
		return
	}
	prep(sqe)
	sqe.UserData = udCancel
	d.outstanding.Add(1)
	d.flushLocked()
	d.wakeReaper()
}

// wakeReaper makes sure the reaper is (or will be) waiting for the
// completions still outstanding.
func (d *Driver) wakeReaper() {
	if d.outstanding.Load() > 0 && d.parked.Load() && d.parked.CompareAndSwap(true, false) {
		d.unpark <- struct{}{}
	}
}

// sqeLocked returns a free SQE, waiting for space while the SQ is full, or
// nil once the driver is closed. Called with sqMu held.
func (d *Driver) sqeLocked() *abi.SQE {
	for {
		if d.closed {
			return nil
		}
		if sqe := d.ring.GetSQE(); sqe != nil {
			return sqe
		}
		if d.flushing {
			d.sqSpace.Wait() // the flusher's enter will consume entries
			continue
		}
		// Full and nobody entering: SQEs are published but not consumed
		// (an enter that was refused with EBUSY, say). Enter ourselves.
		d.flushing = true
		d.enterLoopLocked()
		d.flushing = false
		d.sqSpace.Broadcast()
	}
}

// flushLocked publishes the SQEs written so far and, unless another
// goroutine is already entering, enters until all are consumed. Called with
// sqMu held; returns with it released.
func (d *Driver) flushLocked() {
	d.ring.Publish()
	if d.flushing {
		d.sqMu.Unlock() // the active flusher's loop picks ours up
		return
	}
	d.flushing = true
	d.enterLoopLocked()
	d.flushing = false
	d.sqSpace.Broadcast()
	d.sqMu.Unlock()
}

// enterLoopLocked enters until every published SQE has been consumed,
// dropping sqMu during each syscall so others can keep adding SQEs.
func (d *Driver) enterLoopLocked() {
	for {
		n := d.ring.SQPending()
		if n == 0 {
			return
		}
		d.sqMu.Unlock()
		d.submitEnters.Add(1)
		_, err := d.ring.Enter(n, 0, 0, nil, 0)
		if err != nil {
			d.enterFailed(err)
		}
		d.sqMu.Lock()
		d.sqSpace.Broadcast()
	}
}

// enterFailed handles a refused submission. EINTR: try again. EAGAIN (no
// memory for requests right now) and EBUSY (completions waiting in the
// overflow list): consume what we can, then back off briefly, since the
// kernel gives us nothing to wait on. Anything else means the ring itself
// is broken, and with it the promise that every op completes.
func (d *Driver) enterFailed(err error) {
	switch err {
	case unix.EINTR:
	case unix.EAGAIN, unix.EBUSY, unix.ENOMEM:
		if !d.reap() {
			time.Sleep(50 * time.Microsecond)
		}
	default:
		panic(fmt.Sprintf("aio: inconsistent io_uring state: io_uring_enter: %v", err))
	}
}

// reapInline dispatches completions that are already there, if no other
// goroutine is consuming the CQ.
func (d *Driver) reapInline() {
	if d.ring.CQReady() == 0 || !d.cqMu.TryLock() {
		return
	}
	d.reapLocked()
	d.cqMu.Unlock()
}

// reap dispatches every available completion; it reports whether there were any.
func (d *Driver) reap() bool {
	d.cqMu.Lock()
	n := d.reapLocked()
	d.cqMu.Unlock()
	return n > 0
}

// reapLocked copies out, hands back and dispatches every ready CQE, and
// flushes the kernel's overflow list into the CQ when it has one. Called
// with cqMu held.
func (d *Driver) reapLocked() int {
	total := 0
	for {
		n := d.ring.CQReady()
		if n == 0 {
			if d.ring.SQFlags()&abi.SQCQOverflow == 0 {
				return total
			}
			// Completions wait in the kernel's overflow list (FEAT_NODROP):
			// GETEVENTS moves them into the CQ we just emptied.
			if _, err := d.ring.Enter(0, 0, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR && err != unix.EBUSY && err != unix.EAGAIN {
				panic(fmt.Sprintf("aio: inconsistent io_uring state: flushing overflow: %v", err))
			}
			if d.ring.CQReady() == 0 {
				return total
			}
			continue
		}
		d.batch = d.batch[:0]
		for i := uint32(0); i < n; i++ {
			d.batch = append(d.batch, *d.ring.PeekCQE(i))
		}
		d.ring.Advance(n) // the kernel may reuse those slots now
		d.outstanding.Add(-int64(n))
		for i := range d.batch {
			d.dispatch(&d.batch[i])
		}
		total += int(n)
	}
}

func (d *Driver) dispatch(cqe *abi.CQE) {
	switch cqe.UserData {
	case udCancel:
		return // -ENOENT, -EALREADY, 0 or a count: the op's own CQE tells the outcome
	case udStop:
		d.stopSeen.Store(true)
		return
	}
	d.table.Complete(d.table.Lookup(cqe.UserData), cqe.Res)
}

// reaper sleeps in the kernel until completions arrive and dispatches them.
// It is locked to its thread so the wait never ties up a thread Go wants
// to reuse, and it never submits, so requests are never tied to it.
func (d *Driver) reaper() {
	runtime.LockOSThread()
	defer close(d.reaped)
	for {
		d.reap()
		if d.stopSeen.Load() {
			runtime.UnlockOSThread()
			return
		}
		if d.outstanding.Load() == 0 {
			d.parked.Store(true)
			if d.outstanding.Load() == 0 {
				<-d.unpark // whoever flips parked back sends the token
				continue
			}
			if !d.parked.CompareAndSwap(true, false) {
				<-d.unpark // a submitter flipped it first: take its token
			}
			continue
		}
		_, err := d.ring.Enter(0, 1, abi.EnterGetevents, nil, 0)
		switch err {
		case nil, unix.EINTR, unix.EAGAIN, unix.EBUSY:
		default:
			panic(fmt.Sprintf("aio: inconsistent io_uring state: waiting for completions: %v", err))
		}
	}
}

// Close stops the reaper and releases the ring. The core calls it only
// when no operation is in flight; control requests (stale cancels) that
// race with it are dropped, and none is inside io_uring_enter when the
// ring is unmapped.
func (d *Driver) Close() error {
	d.sqMu.Lock()
	sqe := d.sqeLocked()
	if sqe == nil {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	sqe.PrepNop()
	sqe.UserData = udStop
	d.closed = true // no SQE after the stop NOP
	d.outstanding.Add(1)
	d.flushLocked()
	d.wakeReaper()
	<-d.reaped
	d.sqMu.Lock()
	for d.flushing {
		d.sqSpace.Wait()
	}
	d.sqMu.Unlock()
	return d.ring.Close()
}
