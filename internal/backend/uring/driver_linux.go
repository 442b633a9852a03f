package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	core.KindSendmsg:  abi.OpSendmsg,
	core.KindRecvmsg:  abi.OpRecvmsg,
	// Multishot accept came with 5.19, as did IORING_OP_SOCKET: the probe
	// knows the opcode, not the flag, so SOCKET stands in for the kernel
	// version (see Supported).
	core.KindAcceptMulti: abi.OpAccept,
}

// msgState is the msghdr (and its one iovec) of a SENDMSG/RECVMSG, one per
// record index: the kernel reads it, and writes the name length back,
// while the operation is in flight. It is reachable from the driver, and
// the buffers it points to are pinned by the record.
type msgState struct {
	hdr unix.Msghdr
	iov unix.Iovec
}

// Driver is one io_uring instance driven for a core.Table.
//
// Submission: any goroutine writes its SQE under sqMu, publishes it, and
// then (without sqMu) enters until the kernel has consumed it, whether by
// its own io_uring_enter or by another goroutine's: each enter takes
// everything published so far, so concurrent submitters share syscalls,
// and nobody depends on another goroutine being scheduled (a designated
// "flusher" that gets preempted stalls everyone behind it; measured as
// millisecond tails with 32 callers). A full SQ makes a submitter enter
// to make room, never fail.
//
// Reaping: a submitter that finds completions ready right after its enter
// (the common case for cached reads, which complete inline) dispatches
// them itself if the CQ is free, saving a hand-off. Everything else is
// reaped by a goroutine that sleeps in io_uring_enter(GETEVENTS) while
// requests are outstanding, and parks in Go when none are: the kernel wakes a GETEVENTS sleeper for every CQE
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
	closed   bool           // Close has begun; no more SQEs (under sqMu)
	entering sync.WaitGroup // goroutines that may touch the ring outside sqMu; added to under sqMu while !closed

	cqMu        sync.Mutex
	batch       []abi.CQE // CQEs copied out under cqMu
	outstanding atomic.Int64
	parked      atomic.Bool
	unpark      chan struct{} // capacity 1: the token of whoever flipped parked
	stopSeen    atomic.Bool
	reaped      chan struct{} // closed when the reaper has exited

	disabled    [256]bool // opcodes hidden from Supported, for tests
	noMultishot bool      // multishot accept hidden from Supported, for tests

	submitEnters atomic.Uint64 // io_uring_enter calls made to submit

	msgs atomic.Pointer[[]*msgState] // by record index; grown under sqMu, read by reapers
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
	ok := d.probe.Supported(op) && !d.disabled[op]
	if k == core.KindAcceptMulti {
		ok = ok && !d.noMultishot && d.probe.Supported(abi.OpSocket)
		return ok, abi.OpName(op) + " (multishot)"
	}
	return ok, abi.OpName(op)
}

// DisableMultishot hides multishot accept from Supported, as if the kernel
// were older than 5.19. For tests of the single-shot path.
func (d *Driver) DisableMultishot() { d.noMultishot = true }

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
	case core.KindAcceptMulti:
		sqe.PrepAccept(int32(r.FD), nil, nil, uint32(r.Flags))
		sqe.Ioprio |= abi.AcceptMultishot
	case core.KindConnect:
		sqe.PrepConnect(int32(r.FD), r.Buf)
	case core.KindRecv:
		sqe.PrepRecv(int32(r.FD), r.Buf, uint32(r.Flags))
	case core.KindSend:
		sqe.PrepSend(int32(r.FD), r.Buf, uint32(r.Flags))
	case core.KindShutdown:
		sqe.PrepShutdown(int32(r.FD), r.Flags)
	case core.KindSendmsg, core.KindRecvmsg:
		m := d.msgLocked(r.Index)
		m.iov = unix.Iovec{}
		if len(r.Buf) > 0 {
			m.iov.Base = &r.Buf[0]
		}
		m.iov.SetLen(len(r.Buf))
		m.hdr = unix.Msghdr{Iov: &m.iov}
		m.hdr.SetIovlen(1)
		if len(r.Addr) > 0 {
			m.hdr.Name = &r.Addr[0]
			m.hdr.Namelen = uint32(len(r.Addr))
		}
		if r.Kind == core.KindSendmsg {
			sqe.PrepSendmsg(int32(r.FD), unsafe.Pointer(&m.hdr), uint32(r.Flags))
		} else {
			sqe.PrepRecvmsg(int32(r.FD), unsafe.Pointer(&m.hdr), uint32(r.Flags))
		}
	default:
		panic("aio: inconsistent op kind " + r.Kind.String())
	}
	sqe.UserData = r.ID()
	r.Handoff()
	d.submitLocked()
	return nil
}

// msgLocked returns the msghdr slot of record index i, creating it (and
// growing the table, copy-on-write) if needed. Called with sqMu held.
func (d *Driver) msgLocked(i uint32) *msgState {
	var msgs []*msgState
	if p := d.msgs.Load(); p != nil {
		msgs = *p
	}
	if int(i) < len(msgs) && msgs[i] != nil {
		return msgs[i]
	}
	grown := make([]*msgState, max(int(i)+1, 2*len(msgs)))
	copy(grown, msgs)
	grown[i] = new(msgState)
	d.msgs.Store(&grown)
	return grown[i]
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
	d.submitLocked()
}

// submitLocked publishes the SQE just written, enters until the kernel has
// consumed it, dispatches completions that are already there (a cached
// read completes inline; a cancelled request's completion is often posted
// before the enter returns) and makes sure the reaper watches for the
// rest. Called with sqMu held; returns with it released.
func (d *Driver) submitLocked() {
	d.outstanding.Add(1) // before the kernel can see it
	d.ring.Publish()
	mine := d.ring.Tail()
	d.entering.Add(1)
	d.sqMu.Unlock()
	defer d.entering.Done()
	d.enterUntil(mine)
	d.reapInline()
	d.wakeReaper()
}

// enterUntil enters until the kernel has consumed every SQE before seq.
func (d *Driver) enterUntil(seq uint32) {
	for !d.ring.Consumed(seq) {
		d.submitEnters.Add(1)
		if _, err := d.ring.Enter(d.ring.SQPending(), 0, 0, nil, 0); err != nil {
			d.enterFailed(err)
		}
	}
}

// wakeReaper makes sure the reaper is (or will be) waiting for the
// completions still outstanding, or exits once the stop has been seen.
func (d *Driver) wakeReaper() {
	if (d.outstanding.Load() > 0 || d.stopSeen.Load()) && d.parked.Load() && d.parked.CompareAndSwap(true, false) {
		d.unpark <- struct{}{}
	}
}

// sqeLocked returns a free SQE, entering to make room while the SQ is
// full, or nil once the driver is closed. Called with sqMu held, which it
// may drop and retake.
func (d *Driver) sqeLocked() *abi.SQE {
	for {
		if d.closed {
			return nil
		}
		if sqe := d.ring.GetSQE(); sqe != nil {
			return sqe
		}
		// Full: everything in the SQ is published (owners publish before
		// they drop sqMu) and waiting for an enter. Make it ours.
		all := d.ring.Tail()
		d.entering.Add(1)
		d.sqMu.Unlock()
		d.enterUntil(all)
		d.entering.Done()
		d.sqMu.Lock()
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
		// outstanding counts requests, not CQEs: a multishot request's
		// CQEs flagged F_MORE leave it outstanding.
		final := int64(n)
		for i := range d.batch {
			if d.batch[i].Flags&abi.CQEFMore != 0 {
				final--
			}
		}
		d.outstanding.Add(-final)
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
	r := d.table.Lookup(cqe.UserData)
	if cqe.Flags&abi.CQEFMore != 0 {
		d.table.More(r, cqe.Res)
		return
	}
	if r.Kind == core.KindRecvmsg && cqe.Res >= 0 {
		r.Handback()
		r.AddrLen = int((*d.msgs.Load())[r.Index].hdr.Namelen)
	}
	d.table.Complete(r, cqe.Res)
}

// reaper sleeps in the kernel until completions arrive and dispatches
// them. It never submits, so no request is tied to its thread.
//
// A goroutine blocked in a system call keeps its P until sysmon takes it
// back (20 us to 10 ms later), and the goroutines the reaper has just
// woken sit in that P's run queue. So after a batch that woke anyone it
// yields first: they run now, not after sysmon's next look.
func (d *Driver) reaper() {
	defer close(d.reaped)
	for {
		if d.reap() {
			runtime.Gosched()
		}
		if d.stopSeen.Load() {
			return
		}
		if d.outstanding.Load() == 0 {
			d.parked.Store(true)
			// Re-check both reasons to run after announcing the park: a
			// submitter (or Close, whose own inline reap may have seen
			// the stop) checks parked after setting them.
			if d.outstanding.Load() == 0 && !d.stopSeen.Load() {
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
// when no operation is in flight.
//
// The stop must be seen by the reaper itself: if another goroutine reaped
// the stop's completion just before the reaper went to sleep in the
// kernel, nothing would ever wake it. So Close first shuts everyone else
// out (closed: no new SQE; entering.Wait: no goroutine still inside a
// submit or an inline reap), then posts the stop without reaping inline.
func (d *Driver) Close() error {
	d.sqMu.Lock()
	if d.closed {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	d.closed = true // control requests (stale cancels) from now on are dropped
	d.sqMu.Unlock()
	d.entering.Wait()
	// Only this goroutine submits and only the reaper reaps from here on.
	sqe := d.ring.GetSQE()
	for sqe == nil {
		d.enterUntil(d.ring.Tail())
		sqe = d.ring.GetSQE()
	}
	sqe.PrepNop()
	sqe.UserData = udStop
	d.outstanding.Add(1)
	d.ring.Publish()
	d.enterUntil(d.ring.Tail())
	d.wakeReaper()
	<-d.reaped
	return d.ring.Close()
}
