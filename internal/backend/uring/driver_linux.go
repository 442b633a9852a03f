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
// everything published so far. When completions have just woken other
// goroutines that are likely to submit too, the submitter yields once
// before entering, and those that publish meanwhile leave their SQEs to
// it (see submitLocked): with 32 callers, about one enter per 10 reads.
// Nobody ever waits for a goroutine that is not runnable. A full SQ makes
// a submitter enter to make room, never fail.
//
// Blocking reads, writes, sends and receives may skip the ring (see
// TryNow): they are tried at once, without waiting (RWF_NOWAIT,
// MSG_DONTWAIT), and go through the ring only if they would wait.
//
// Reaping: a submitter dispatches the completions already there after its
// enter (cached reads complete inline), if the CQ is free. Everything else
// is reaped by a goroutine that reads the ring's eventfd through Go's
// netpoller. The eventfd is disabled (IORING_CQ_EVENTFD_DISABLED) while
// the kernel holds nothing, so inline completions wake nobody; a
// submitter that leaves requests in the kernel enables it (see watch).
// cqMu serialises CQ consumers.
type Driver struct {
	ring  *abi.Ring
	table *core.Table
	probe *abi.Probe

	sqMu     sync.Mutex
	closed   bool           // Close has begun; no more SQEs (under sqMu)
	flushing bool           // a submitter has yielded and will enter everything published (under sqMu)
	entering sync.WaitGroup // goroutines that may touch the ring outside sqMu; added to under sqMu while !closed

	// enterMu lets one goroutine at a time into io_uring_enter to submit.
	// Submitters that come while it is held find their SQEs consumed by
	// the enter in progress (it submits everything published) and skip
	// theirs; without it they spin in the kernel on the ring's own lock.
	enterMu sync.Mutex

	cqMu  sync.Mutex
	batch []abi.CQE // CQEs copied out under cqMu
	// woken estimates the goroutines that completions have just woken and
	// that have not submitted again yet: while there are some, a submitter
	// yields before entering so that theirs ride along (see submitLocked).
	woken atomic.Int64
	// finals counts the final CQEs consumed (modulo 2^32, as the SQ head
	// counts SQEs consumed by the kernel): every SQE we write has exactly
	// one, so the difference is what the kernel holds (see inKernel).
	finals   atomic.Uint32
	efd      *os.File // the ring's eventfd, read through Go's netpoller
	stopSeen atomic.Bool
	reaped   chan struct{} // closed when the reaper has exited

	disabled    [256]bool // opcodes hidden from Supported, for tests
	noMultishot bool      // multishot accept hidden from Supported, for tests

	submitEnters atomic.Uint64 // io_uring_enter calls made to submit
	fixedOps     atomic.Uint64 // operations submitted on registered buffers

	regMu    sync.Mutex
	regTable bool                // the (sparse) buffer table is registered
	regUsed  [maxRegistered]bool // its entries in use

	// The registered-file table (see Attach), under regMu and sqMu.
	fileTable    bool
	fileFree     []uint32 // free slots
	noFixedFiles bool     // the kernel refused the table, or tests

	msgs atomic.Pointer[[]*msgState] // by record index; grown under sqMu, read by reapers

	workers workerPool // what the ring cannot do (see route, workers_linux.go)
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
	efd, err := newEventfd(ring)
	if err != nil {
		ring.Close()
		return nil, err
	}
	d := &Driver{ring: ring, table: t, probe: probe, efd: efd, reaped: make(chan struct{})}
	go d.reaper()
	return d, nil
}

// newEventfd registers a non-blocking eventfd with the ring: the kernel
// adds to it whenever it posts completions, and the reaper reads it
// through Go's netpoller, as net.Conn reads a socket.
func newEventfd(ring *abi.Ring) (*os.File, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	fd32 := int32(fd)
	if _, err := ring.Register(abi.RegisterEventfd, unsafe.Pointer(&fd32), 1); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("io_uring_register(EVENTFD)", err)
	}
	return os.NewFile(uintptr(fd), "io_uring-eventfd"), nil
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
	if ok, op, fs := d.supportedFS(k); fs {
		return ok, op
	}
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
	if d.onWorkers(r) {
		return d.submitWorkers(r)
	}
	d.sqMu.Lock()
	sqe := d.sqeLocked()
	if sqe == nil {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	d.prepLocked(sqe, r)
	d.submitLocked(true)
	return nil
}

// SubmitBatch writes the SQEs of recs and enters them together: one
// io_uring_enter for the lot (more only if they overfill the SQ).
func (d *Driver) SubmitBatch(recs []*core.Record) (int, error) {
	if d.anyOnWorkers(recs) {
		return d.submitEach(recs)
	}
	d.sqMu.Lock()
	for i, r := range recs {
		sqe := d.sqeLocked()
		if sqe == nil {
			if i == 0 {
				d.sqMu.Unlock()
			} else {
				d.submitLocked(false) // the ones already written
			}
			return i, os.ErrClosed
		}
		d.prepLocked(sqe, r)
	}
	d.submitLocked(false)
	return len(recs), nil
}

// prepLocked fills sqe for r. Called with sqMu held.
func (d *Driver) prepLocked(sqe *abi.SQE, r *core.Record) {
	off := uint64(r.Off)
	if r.Off < 0 {
		off = ^uint64(0) // the file position (FEAT_RW_CUR_POS) / a stream
	}
	switch r.Kind {
	case core.KindNop:
		sqe.PrepNop()
	case core.KindRead:
		sqe.PrepRead(int32(r.FD), r.Buf, off)
		if r.Fixed {
			sqe.Opcode, sqe.BufIndex = abi.OpReadFixed, r.BufIndex
			d.fixedOps.Add(1)
		}
	case core.KindWrite:
		sqe.PrepWrite(int32(r.FD), r.Buf, off)
		if r.Fixed {
			sqe.Opcode, sqe.BufIndex = abi.OpWriteFixed, r.BufIndex
			d.fixedOps.Add(1)
		}
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
		if !d.prepFS(sqe, r) {
			panic("aio: inconsistent op kind " + r.Kind.String())
		}
	}
	if ff, ok := r.Handle.(*fixedFile); ok && usesFixedFile(r.Kind) {
		sqe.Fd, sqe.Flags = int32(ff.slot), sqe.Flags|abi.SQEFixedFile
	}
	sqe.UserData = r.ID()
	r.Handoff()
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
	if d.cancelWorkers(r, id) {
		return
	}
	d.control(func(sqe *abi.SQE) { sqe.PrepCancel(id, 0) })
}

// CancelFD asks the kernel to cancel every request on fd.
func (d *Driver) CancelFD(fd int) {
	d.cancelWorkersFD(fd)
	d.control(func(sqe *abi.SQE) { sqe.PrepCancelFD(int32(fd), abi.AsyncCancelAll) })
}

// CancelAll asks the kernel to cancel every request of the ring.
func (d *Driver) CancelAll() {
	d.cancelWorkersAll()
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
	d.submitLocked(false)
}

// submitLocked publishes the SQE just written, enters until the kernel has
// consumed it, dispatches completions that are already there (a cached
// read completes inline; a cancelled request's completion is often posted
// before the enter returns) and makes sure the reaper watches for the
// rest. Called with sqMu held; returns with it released.
//
// Batching: a submitter that finds goroutines woken by recent completions
// still to come back (they are runnable and likely to submit too) becomes
// the flusher: it yields once, letting the runnable goroutines publish
// theirs, and then enters everything in one call. Submitters that find a flusher scheduled
// only publish: the flusher is runnable by construction (it yielded, it
// does not wait for anything) and takes their SQEs, because it reads the
// tail under sqMu after clearing flushing. Control requests (cancels)
// never wait for a flusher.
func (d *Driver) submitLocked(batch bool) {
	d.ring.Publish()
	others := false
	if batch {
		// One fewer woken goroutine still to come back with a submission.
		if w := d.woken.Add(-1); w < 0 {
			d.woken.Store(0)
		} else {
			others = w > 0
		}
	}
	if batch && d.flushing {
		d.sqMu.Unlock()
		return // the scheduled flusher enters it
	}
	d.entering.Add(1)
	defer d.entering.Done()
	if batch && others {
		d.flushing = true
		d.sqMu.Unlock()
		runtime.Gosched()
		d.sqMu.Lock()
		d.flushing = false
	}
	mine := d.ring.Tail()
	d.sqMu.Unlock()
	d.enterUntil(mine)
	d.reapInline()
	d.watch()
}

// inKernel is the number of requests the kernel has consumed whose final
// CQE nobody has consumed yet, or more, never less: finals is read first,
// so consumptions and reaps that race with it can only make it larger.
func (d *Driver) inKernel() int32 {
	f := d.finals.Load()
	return int32(d.ring.SQHead() - f)
}

// InKernel is inKernel, for tests that must know a request has reached
// the kernel.
func (d *Driver) InKernel() int { return int(d.inKernel()) }

// watch makes sure requests left in the kernel after an enter and its
// inline reap will be reaped: it enables the eventfd, so that their
// completions wake the reaper, and then reaps what was posted while it was
// disabled. The eventfd stays disabled while everything completes inline
// (cached reads): a signal nobody needs still wakes a thread idle in
// epoll_wait, which cost a cached read half its speed.
func (d *Driver) watch() {
	if d.inKernel() <= 0 || d.ring.EventfdEnabled() {
		return
	}
	d.ring.SetEventfdEnabled(true)
	d.reapInline()
}

// enterUntil enters until the kernel has consumed every SQE before seq.
func (d *Driver) enterUntil(seq uint32) {
	if d.ring.Consumed(seq) {
		return
	}
	d.enterMu.Lock()
	defer d.enterMu.Unlock()
	for !d.ring.Consumed(seq) {
		d.submitEnters.Add(1)
		if _, err := d.ring.Enter(d.ring.SQPending(), 0, 0, nil, 0); err != nil {
			d.enterFailed(err)
		}
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
		// Full: everything in the SQ is complete (written under sqMu; a
		// batch may not have published its first SQEs yet) and waiting
		// for an enter. Make it ours.
		d.ring.Publish()
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
//
// Every holder of cqMu looks at the CQ again after unlocking (here and in
// reap): a CQE posted while the eventfd was disabled, after the holder's
// last look and while a submitter's TryLock failed, is seen by the holder.
func (d *Driver) reapInline() {
	for d.ring.CQReady() > 0 && d.cqMu.TryLock() {
		d.reapLocked()
		d.cqMu.Unlock()
	}
}

// reap dispatches every available completion; it reports whether there were any.
func (d *Driver) reap() bool {
	d.cqMu.Lock()
	n := d.reapLocked()
	d.cqMu.Unlock()
	d.reapInline()
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
		d.woken.Add(int64(n))
		// A multishot request's CQEs flagged F_MORE are not its final one.
		final := n
		for i := range d.batch {
			if d.batch[i].Flags&abi.CQEFMore != 0 {
				final--
			}
		}
		d.finals.Add(final)
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

// reaper dispatches completions nobody reaped inline. It waits for them
// by reading the ring's eventfd through Go's netpoller, so it holds no
// thread and no P while it waits (a goroutine in io_uring_enter(GETEVENTS)
// keeps its P until sysmon takes it back, 20 us to 10 ms later, with the
// goroutines it has just woken queued behind it), and a busy process finds
// it ready on the scheduler's own netpoll instead of being interrupted.
// The eventfd is a counter, so a completion posted between the reap and
// the read is never missed: the read returns at once. It never submits.
func (d *Driver) reaper() {
	defer close(d.reaped)
	var buf [8]byte
	for {
		d.reap()
		if d.stopSeen.Load() {
			return
		}
		if d.inKernel() <= 0 {
			// Nothing left to wait for: stop the signals until a
			// submitter's watch needs them again. Look once more after
			// disabling: a submitter whose watch saw the eventfd still
			// enabled has left its requests to us.
			d.ring.SetEventfdEnabled(false)
			if d.inKernel() > 0 {
				d.ring.SetEventfdEnabled(true)
				continue
			}
		}
		if _, err := d.efd.Read(buf[:]); err != nil {
			panic(fmt.Sprintf("aio: inconsistent io_uring state: reading the eventfd: %v", err))
		}
	}
}

// Close stops the reaper and releases the ring. The core calls it only
// when no operation is in flight.
//
// The stop must be seen by the reaper itself: if another goroutine reaped
// the stop's completion while the reaper waited on the eventfd, nothing
// would ever wake it. So Close first shuts everyone else out (closed: no
// new SQE; entering.Wait: no goroutine still inside a submit or an inline
// reap), then posts the stop without reaping inline, and signals the
// eventfd itself in case it was disabled.
func (d *Driver) Close() error {
	d.sqMu.Lock()
	if d.closed {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	d.closed = true // control requests (stale cancels) from now on are dropped
	d.sqMu.Unlock()
	d.closeWorkers()
	d.entering.Wait()
	// Only this goroutine submits and only the reaper reaps from here on.
	sqe := d.ring.GetSQE()
	for sqe == nil {
		d.enterUntil(d.ring.Tail())
		sqe = d.ring.GetSQE()
	}
	sqe.PrepNop()
	sqe.UserData = udStop
	d.ring.Publish()
	d.enterUntil(d.ring.Tail())
	// The stop's CQE may have been posted while the eventfd was disabled:
	// enable it and signal it ourselves, so the reaper wakes (or does not
	// sleep) and reaps it.
	d.ring.SetEventfdEnabled(true)
	one := [8]byte{1}
	if _, err := d.efd.Write(one[:]); err != nil {
		panic(fmt.Sprintf("aio: inconsistent io_uring state: signalling the eventfd: %v", err))
	}
	<-d.reaped
	err := d.ring.Close()
	d.efd.Close()
	return err
}
