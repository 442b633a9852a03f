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

// Mode is how requests reach the kernel; see Driver.
type Mode uint8

const (
	// ModeOwner: one library-owned thread enters the ring
	// (SINGLE_ISSUER|DEFER_TASKRUN) and reaps it. The default.
	ModeOwner Mode = iota
	// ModeOwnerTaskrun: as ModeOwner without DEFER_TASKRUN: the kernel
	// runs completions' task work on the owner's thread whenever it
	// likes, waking it if it sleeps. For measurements.
	ModeOwnerTaskrun
	// ModeSQPoll: the kernel's SQ polling thread takes requests from the
	// ring; the owner only reaps (and wakes the poller when it sleeps).
	// For measurements.
	ModeSQPoll
)

func (m Mode) String() string {
	switch m {
	case ModeOwner:
		return "owner"
	case ModeOwnerTaskrun:
		return "owner-taskrun"
	case ModeSQPoll:
		return "sqpoll"
	}
	return fmt.Sprintf("mode(%d)", m)
}

// ParseMode reads a Mode's name ("" is ModeOwner).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "owner":
		return ModeOwner, nil
	case "owner-taskrun":
		return ModeOwnerTaskrun, nil
	case "sqpoll":
		return ModeSQPoll, nil
	}
	return 0, fmt.Errorf("io_uring: unknown driver mode %q", s)
}

// Driver is one io_uring instance driven for a core.Table.
//
// # Who enters the ring
//
// io_uring ties every request to the thread that entered it: its task
// work runs there, its io-wq workers are that thread's, and when that
// thread exits the kernel cancels (or fails) what it still holds. In Go a
// thread exits when a goroutine that locked it returns, so a request
// entered by whatever goroutine happened to submit could be cancelled by
// nobody's Cancel. Hence one rule: only the owner enters the ring. The
// owner is a goroutine of the driver locked to its thread for the ring's
// whole life; it exits (and its thread with it) only after every request
// has completed and the ring is closed.
//
// The ring is SINGLE_ISSUER|DEFER_TASKRUN: the kernel keeps completions'
// task work until the owner asks for it, instead of interrupting some
// thread, so the owner runs it in its own loop, batched.
//
// # Submitting
//
// Any goroutine writes its SQEs under sqMu and publishes them, then pokes
// the owner if it sleeps. A full SQ makes a submitter wait (sqFree) until
// the owner has entered, never fail.
//
// # The owner's loop
//
// Enter everything published (with GETEVENTS: the kernel runs the
// deferred task work, posting completions), dispatch every completion,
// run requested calls (registrations must come from the issuer), and
// repeat while there is work. Then sleep, by a protocol that loses no
// wake-up: enable the ring's eventfd (the kernel signals it when task
// work arrives), set sleeping, look for work once more, and only then
// wait. Submitters poke after publishing. Since sleeping is set before
// the last look and read after the publish (all sequentially
// consistent), either the owner sees the work or the poker sees it
// sleeping.
//
// In the default mode (DEFER_TASKRUN) the owner waits in a blocking
// read of the ring's eventfd, on its own thread: the kernel's signal for
// task work wakes it directly, and a poke is a write to the same
// eventfd. The other modes sleep on a channel, and a watcher goroutine
// reads the eventfd through Go's netpoller (reaping there when the
// kernel has posted the completions itself) and pokes. The direct wait
// saves the watcher's hop and the hand-off of a locked goroutine's
// wake-up to its thread: aiobench direct-32 went from 58-63k to 76-77k
// reads/s, 0.34 to 0.14 context switches per read, and cold-32 from
// 1.55x to 1.82-1.92x std, in alternating runs.
type Driver struct {
	ring  *abi.Ring
	table *core.Table
	probe *abi.Probe
	mode  Mode

	sqMu   sync.Mutex
	sqFree sync.Cond    // broadcast by the owner after an enter, while sqWait > 0
	sqWait atomic.Int32 // submitters waiting for SQ space
	// sqFreed counts sqFree's broadcasts (changed under sqMu); sqWanted
	// is the broadcast the latest waiter waits for. In SQPOLL mode the
	// kernel's thread makes room without the owner's knowing, so a waiter
	// the owner has not answered yet is work for it (see roomWanted).
	sqFreed  atomic.Uint32
	sqWanted atomic.Uint32
	closed   bool          // Close has begun; no more SQEs (under sqMu)
	sleeping atomic.Bool   // the owner is (about to be) asleep; a poker clears it
	wake     chan struct{} // the owner's sleep ends on a token
	calls    callQueue     // functions the owner runs for other goroutines
	stop     atomic.Bool   // Close: the owner exits once the ring is idle
	exited   chan struct{} // closed when the owner has released the ring

	// finals counts the final CQEs consumed (modulo 2^32, as the SQ head
	// counts SQEs consumed by the kernel): every SQE we write has exactly
	// one, so the difference is what the kernel holds (see inKernel).
	finals atomic.Uint32
	batch  []abi.CQE  // CQEs copied out, under cqMu
	cqMu   sync.Mutex // one reaper at a time: the owner, or the watcher (see watch)

	deferTaskrun bool          // the ring has DEFER_TASKRUN: only the owner's enter runs task work
	efd          *os.File      // the ring's eventfd, read by the watcher through Go's netpoller (not in ownerReads mode)
	watched      chan struct{} // closed when the watcher has returned

	// ownerReads: the owner sleeps in a blocking read of wakeFD, the
	// ring's eventfd, and pokes write it (see "The owner's loop").
	// wakeMu orders the pokers' writes before the owner's close of it
	// (then wakeFD is -1), so that no poke writes into a reused number.
	ownerReads bool
	wakeMu     sync.RWMutex
	wakeFD     int
	// parkFile, the owner's alone, is a duplicate of wakeFD registered
	// with Go's netpoller while GOMAXPROCS is 1: the owner then waits
	// parked on it, not in a blocking read (see waitWake). oneP and
	// sleeps say when to look at GOMAXPROCS again.
	parkFile *os.File
	oneP     bool
	sleeps   uint32

	disabled      [256]bool                    // opcodes hidden from Supported, for tests
	kinds         atomic.Pointer[[64]kindInfo] // Supported's and route's answers, by kind
	noMultishot   bool                         // multishot accept hidden from Supported, for tests
	streamsOnRing atomic.Bool                  // streams attached keep their transfers on the ring, for tests (see Attach)

	submitEnters atomic.Uint64 // io_uring_enter calls that submitted
	ownerWakes   atomic.Uint64 // times the owner was woken from its sleep
	parkedWakes  atomic.Uint64 // of those, from a sleep parked in the netpoller (see waitWake)
	fixedOps     atomic.Uint64 // operations submitted on registered buffers

	regMu    sync.Mutex
	regTable bool                // the (sparse) buffer table is registered
	regUsed  [maxRegistered]bool // its entries in use

	// The registered-file table (see Attach), under regMu.
	fileTable    bool
	fileFree     []uint32 // free slots
	noFixedFiles bool     // the kernel refused the table, or tests

	msgs atomic.Pointer[[]*msgState] // by record index; grown under sqMu, read by the owner

	inline inlineRing // for reads that complete inside their submitting call

	workers workerPool // what the ring cannot do (see route, workers_linux.go)
}

// New sets up a ring of (at least) entries SQEs for t, owned by a new
// locked thread, in the mode AIO_URING_MODE names (default: owner).
func New(entries int, t *core.Table) (core.Driver, error) {
	mode, err := ParseMode(os.Getenv("AIO_URING_MODE"))
	if err != nil {
		return nil, err
	}
	return NewMode(entries, t, mode)
}

// NewMode is New in the given mode.
func NewMode(entries int, t *core.Table, mode Mode) (core.Driver, error) {
	if entries <= 0 {
		entries = 256
	}
	d := &Driver{table: t, mode: mode, wake: make(chan struct{}, 1), exited: make(chan struct{}), watched: make(chan struct{})}
	d.sqFree.L = &d.sqMu
	ready := make(chan error, 1)
	go d.own(uint32(entries), ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	if !d.ownerReads {
		go d.watch()
	}
	return d, nil
}

// setup creates the ring on the calling (owner's) thread: with
// SINGLE_ISSUER that thread becomes the only one allowed to enter it or
// register with it.
func (d *Driver) setup(entries uint32) error {
	// Newest first; older kernels refuse (EINVAL) what they lack, and
	// the owner works without it: without DEFER_TASKRUN (before 6.1) the
	// kernel runs task work on the owner's thread itself.
	flags := []uint32{
		abi.SetupClamp | abi.SetupSubmitAll | abi.SetupSingleIssuer | abi.SetupDeferTaskrun | abi.SetupTaskrunFlag,
		abi.SetupClamp | abi.SetupSubmitAll | abi.SetupSingleIssuer, // before 6.1
		abi.SetupClamp | abi.SetupSubmitAll,                         // before 6.0
		abi.SetupClamp,                                              // before 5.18
	}
	switch d.mode {
	case ModeOwnerTaskrun:
		flags = flags[1:]
	case ModeSQPoll:
		flags = []uint32{abi.SetupClamp | abi.SetupSubmitAll | abi.SetupSQPoll, abi.SetupClamp | abi.SetupSQPoll}
	}
	var ring *abi.Ring
	var err error
	for _, f := range flags {
		p := abi.Params{Flags: f}
		if f&abi.SetupSQPoll != 0 {
			p.SQThreadIdle = sqPollIdleMillis
		}
		ring, err = abi.Setup(entries, &p)
		if !errors.Is(err, unix.EINVAL) {
			break
		}
	}
	if err != nil {
		return os.NewSyscallError("io_uring_setup", err)
	}
	if ring.Params.Features&abi.FeatNodrop == 0 {
		ring.Close()
		return fmt.Errorf("io_uring: kernel lacks IORING_FEAT_NODROP, completions could be lost: %w", errors.ErrUnsupported)
	}
	probe, err := ring.Probe()
	if err != nil {
		ring.Close()
		return os.NewSyscallError("io_uring_register(PROBE)", err)
	}
	for _, op := range []uint8{abi.OpNop, abi.OpAsyncCancel} {
		if !probe.Supported(op) {
			ring.Close()
			return fmt.Errorf("io_uring: kernel lacks %s: %w", abi.OpName(op), errors.ErrUnsupported)
		}
	}
	d.deferTaskrun = ring.Params.Flags&abi.SetupDeferTaskrun != 0
	d.ownerReads = d.deferTaskrun
	if d.ownerReads {
		fd, err := newEventfd(ring, 0)
		if err != nil {
			ring.Close()
			return err
		}
		d.ring, d.probe, d.wakeFD = ring, probe, fd
	} else {
		fd, err := newEventfd(ring, unix.EFD_NONBLOCK)
		if err != nil {
			ring.Close()
			return err
		}
		d.ring, d.probe, d.efd = ring, probe, os.NewFile(uintptr(fd), "io_uring-eventfd")
	}
	d.refreshKinds()
	d.ring.SetEventfdEnabled(false) // enabled only while the owner sleeps
	return nil
}

// sqPollIdleMillis is how long the SQ polling thread spins for new
// requests before it sleeps (ModeSQPoll).
const sqPollIdleMillis = 1

// newEventfd registers an eventfd (with flags) with the ring: the kernel
// adds to it when it posts completions or queues task work for the owner
// (while not disabled). The owner reads it, blocking, or (EFD_NONBLOCK)
// the watcher through Go's netpoller.
func newEventfd(ring *abi.Ring, flags int) (int, error) {
	fd, err := unix.Eventfd(0, flags|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	fd32 := int32(fd)
	if _, err := ring.Register(abi.RegisterEventfd, unsafe.Pointer(&fd32), 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("io_uring_register(EVENTFD)", err)
	}
	return fd, nil
}

// SubmitEnters is the number of io_uring_enter calls that submitted: with
// many concurrent submitters it stays well below the number of
// operations, because the owner enters everything published at once.
func (d *Driver) SubmitEnters() uint64 { return d.submitEnters.Load() }

// OwnerWakes is the number of times the owner was woken from its sleep.
func (d *Driver) OwnerWakes() uint64 { return d.ownerWakes.Load() }

// OwnerWakesForTest reports the owner's wake-ups, how many of them were
// from a sleep parked in the netpoller (GOMAXPROCS 1: see waitWake), and
// whether the owner reads the eventfd itself (else it always parks, on
// a channel the watcher signals).
func (d *Driver) OwnerWakesForTest() (wakes, parked uint64, ownerReads bool) {
	return d.ownerWakes.Load(), d.parkedWakes.Load(), d.ownerReads
}

// Mode is the driver's mode.
func (d *Driver) Mode() Mode { return d.mode }

// Name is "uring".
func (d *Driver) Name() string { return "uring" }

// Supported reports whether the kernel has the opcode for k.
func (d *Driver) Supported(k core.Kind) (bool, string) {
	if t := d.kinds.Load(); t != nil && int(k) < len(t) {
		return t[k].ok, t[k].op // the answers below, computed once (see refreshKinds)
	}
	return d.supported(k)
}

// kindInfo is Supported's answer for one kind, and whether route sends it
// to the workers.
type kindInfo struct {
	ok        bool
	op        string
	onWorkers bool
}

// refreshKinds computes every kind's answers once, so that the per
// operation questions (Supported, route) cost an array read, not map
// lookups. Called at setup and whenever a test hides an opcode.
func (d *Driver) refreshKinds() {
	var t [64]kindInfo
	for k := range t {
		t[k].ok, t[k].op = d.supported(core.Kind(k))
		onRing, _ := d.route(core.Kind(k))
		t[k].onWorkers = !onRing
	}
	d.kinds.Store(&t)
}

// supported is Supported, computed.
func (d *Driver) supported(k core.Kind) (bool, string) {
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
func (d *Driver) DisableMultishot() { d.noMultishot = true; d.refreshKinds() }

// DisableOpcode hides k's opcode from Supported, as if the kernel lacked
// it. For tests of the unsupported-operation path.
func (d *Driver) DisableOpcode(k core.Kind) { d.disabled[kindOpcode[k]] = true; d.refreshKinds() }

// Submit writes r's SQE and pokes the owner.
func (d *Driver) Submit(r *core.Record) error {
	if d.onWorkers(r) {
		return d.submitWorkers(r)
	}
	if ff, ok := r.Handle.(*fixedFile); ok && usesFixedFile(r.Kind) {
		d.ensure(ff) // before any lock: registering is a call on the owner's thread
	}
	return d.submitOwner(r)
}

// submitOwner writes r's SQE for the owner to enter.
func (d *Driver) submitOwner(r *core.Record) error {
	d.sqMu.Lock()
	sqe := d.sqeLocked()
	if sqe == nil {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	d.prepLocked(sqe, r)
	d.publishLocked()
	return nil
}

// SubmitBatch writes the SQEs of recs and pokes the owner once, so that
// one io_uring_enter takes them all (more only if they overfill the SQ).
func (d *Driver) SubmitBatch(recs []*core.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	if d.anyOnWorkers(recs) {
		return d.submitEach(recs)
	}
	for _, r := range recs {
		if ff, ok := r.Handle.(*fixedFile); ok && usesFixedFile(r.Kind) {
			d.ensure(ff)
		}
	}
	d.sqMu.Lock()
	for i, r := range recs {
		sqe := d.sqeLocked()
		if sqe == nil {
			if i == 0 {
				d.sqMu.Unlock()
			} else {
				d.publishLocked() // the ones already written
			}
			return i, os.ErrClosed
		}
		d.prepLocked(sqe, r)
	}
	d.publishLocked()
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
	if ff, ok := r.Handle.(*fixedFile); ok && usesFixedFile(r.Kind) && ff.registered.Load() {
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
	d.publishLocked()
}

// publishLocked makes the SQEs written so far visible and pokes the
// owner. Called with sqMu held; returns with it released.
func (d *Driver) publishLocked() {
	d.ring.Publish()
	d.sqMu.Unlock()
	d.poke()
}

// sqeLocked returns a free SQE, waiting for the owner to make room while
// the SQ is full, or nil once the driver is closed. Called with sqMu
// held, which it may drop and retake.
//
// No wake-up is lost: a waiter announces itself (sqWait) before it looks
// for room the last time, and the owner looks at sqWait after each enter
// (which is what makes room). Either the owner sees the waiter and
// broadcasts (under sqMu, so not before the waiter waits), or the
// waiter's last look comes after the enter and finds the room.
//
// In SQPOLL mode the kernel's thread consumes the SQ, not the owner's
// enter: room appears while the owner may sleep, and nothing signals it.
// So the waiter also names the broadcast it waits for (sqWanted) before
// its last look and pokes after it; an owner about to sleep looks at
// sqWanted after setting sleeping (roomWanted), and answers it: it waits
// in the kernel for room if the SQ is still full (IORING_ENTER_SQ_WAIT),
// then broadcasts. Either it sees the waiter, or the waiter's poke finds
// it asleep and wakes it. (Seen without: Rule8/TinyRingBurst hung in
// that mode, a CPU busy beside it, its reads of empty pipes waiting in
// the ring behind a submitter that waited for room the kernel had made.)
func (d *Driver) sqeLocked() *abi.SQE {
	for {
		if d.closed {
			return nil
		}
		if sqe := d.ring.GetSQE(); sqe != nil {
			return sqe
		}
		// Full: everything in the SQ is written (under sqMu; a batch may
		// not have published its first SQEs yet) and waits for the owner.
		d.ring.Publish()
		d.sqWait.Add(1)
		d.sqWanted.Store(d.sqFreed.Load() + 1)
		if sqe := d.ring.GetSQE(); sqe != nil {
			d.sqWait.Add(-1)
			return sqe
		}
		d.poke()
		d.sqFree.Wait()
		d.sqWait.Add(-1)
	}
}

// poke wakes the owner if it sleeps.
func (d *Driver) poke() {
	if d.sleeping.Load() && d.sleeping.CompareAndSwap(true, false) {
		if d.ownerReads {
			one := [8]byte{1}
			d.wakeMu.RLock()
			if d.wakeFD >= 0 {
				unix.Write(d.wakeFD, one[:])
			}
			d.wakeMu.RUnlock()
			return
		}
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// inKernel is the number of requests the kernel has consumed whose final
// CQE the owner has not consumed yet, or more, never less: finals is read
// first, so consumptions and reaps that race with it can only make it
// larger.
func (d *Driver) inKernel() int32 {
	f := d.finals.Load()
	return int32(d.ring.SQHead() - f)
}

// InKernel is inKernel, for tests that must know a request has reached
// the kernel.
func (d *Driver) InKernel() int { return int(d.inKernel()) }

// SpuriousTaskrunForTest sets the ring's task-work flag with no task work
// behind it, as the kernel leaves it after a race (see taskWork), and
// pokes the owner.
func (d *Driver) SpuriousTaskrunForTest() {
	d.ring.OrSQFlagsForTest(abi.SQTaskrun)
	d.poke()
}

// OwnerAsleepForTest reports whether the owner is asleep (waiting for a
// poke or the kernel's signal), and whether the task-work flag is set.
func (d *Driver) OwnerAsleepForTest() (asleep, taskrunFlag bool) {
	return d.sleeping.Load(), d.ring.SQFlags()&abi.SQTaskrun != 0
}

// own is the owner's goroutine: it locks its thread for good, creates the
// ring on it and runs the loop until Close. It returns (and its thread
// exits) only after every request has completed and the ring is closed.
func (d *Driver) own(entries uint32, ready chan<- error) {
	runtime.LockOSThread() // never unlocked: nothing else may run on this thread
	if err := d.setup(entries); err != nil {
		ready <- err
		return
	}
	ready <- nil
	d.loop()
	d.calls.close()
	if !d.ownerReads {
		// The watcher reaps and looks at the ring: it must be gone
		// before the ring is unmapped (a SIGSEGV in its reap otherwise,
		// seen under load with AIO_URING_MODE=owner-taskrun).
		d.efd.Close() // its read fails and it returns
		<-d.watched
	}
	d.ring.Close()
	if d.ownerReads {
		if d.parkFile != nil {
			d.parkFile.Close()
		}
		d.wakeMu.Lock()
		unix.Close(d.wakeFD)
		d.wakeFD = -1
		d.wakeMu.Unlock()
	}
	close(d.exited)
}

// loop is the owner's work (see Driver).
func (d *Driver) loop() {
	for {
		d.enter()
		d.reap()
		d.calls.run()
		if d.stop.Load() && d.drained() {
			return
		}
		if d.hasWork() {
			continue
		}
		d.sleep()
	}
}

// drained reports whether nothing is left for a stopping owner: no SQE
// waits to be entered, the kernel holds no request (so no task work of
// one either, whatever the task-work flag says: see taskWork), and no
// call waits.
func (d *Driver) drained() bool {
	return d.ring.SQPending() == 0 && d.inKernel() <= 0 && !d.calls.pending()
}

// hasWork reports whether the owner has something to do without waiting:
// SQEs to enter, completions to reap, completions waiting in the
// kernel's overflow list, calls to run. Task work the kernel flags is
// left to sleep (see taskWork).
func (d *Driver) hasWork() bool {
	if pending := d.ring.SQPending(); pending > 0 && (d.mode != ModeSQPoll || d.ring.SQFlags()&abi.SQNeedWakeup != 0) {
		return true // to enter, or to wake the kernel's poller
	}
	if d.mode == ModeSQPoll && d.roomWanted() {
		return true // to tell a submitter the kernel's poller made room
	}
	return d.ring.CQReady() > 0 || d.ring.SQFlags()&abi.SQCQOverflow != 0 || d.calls.pending()
}

// taskWork runs the task work the kernel flags (IORING_SQ_TASKRUN) and
// reports whether it completed anything. Called by an owner about to
// sleep, its eventfd enabled.
//
// The flag alone is no proof of work: the kernel adds the work to its
// list and sets the flag after, so an enter racing with the add can run
// the work and clear the flag before the add sets it. The flag then
// stays set with nothing behind it until some later work runs, and an
// owner that trusted it spun (seen once: 100% of a CPU for 14 minutes
// in Ring.Close, in a CI smoke run after cold-32). Entering with
// GETEVENTS runs whatever the list holds; work added after that, with
// the eventfd enabled, signals it.
func (d *Driver) taskWork() bool {
	if d.ring.SQFlags()&abi.SQTaskrun == 0 {
		return false
	}
	d.enter()
	return d.reap() > 0
}

// sleep waits until a poke, losing none (see Driver).
func (d *Driver) sleep() {
	d.ring.SetEventfdEnabled(true)
	d.sleeping.Store(true)
	// A stopping owner sleeps until its requests complete (each
	// signals the eventfd); it returns at once only if Close's poke
	// may have come before sleeping was set, and nothing is left.
	if d.hasWork() || d.taskWork() || (d.stop.Load() && d.drained()) {
		if d.sleeping.CompareAndSwap(true, false) {
			d.ring.SetEventfdEnabled(false)
			return
		}
		// A poker took it: its token is coming, take it now.
	}
	if d.ownerReads {
		// Woken by a poke (which cleared sleeping) or by the kernel's
		// signal (which did not). A poke that clears it after this read
		// only makes the next sleep return at once.
		d.waitWake()
		d.sleeping.Store(false)
	} else {
		<-d.wake
	}
	d.ownerWakes.Add(1)
	d.ring.SetEventfdEnabled(false)
}

// waitWake reads the eventfd: a poke's token or the kernel's signal.
//
// With more than one P it is a blocking read, which the kernel's signal
// wakes directly (the fastest wake-up: see "The owner's loop"). The read
// keeps the owner's P, in a system call, until sysmon takes it back (20
// us to 10 ms later); meanwhile the other Ps run what the owner has just
// woken. With one P nothing else could: every goroutine the owner woke
// waited for sysmon (BenchmarkPipeDriver -cpu 1: 156-167 us per
// iteration, 26-33 us with two Ps; 32-40 us parked). So with one P the owner
// parks instead, reading a duplicate of the eventfd through Go's
// netpoller, which frees the P at once; it is made when GOMAXPROCS
// becomes 1 and dropped when it grows (while registered, the netpoller
// would see every signal of the eventfd).
func (d *Driver) waitWake() {
	if d.sleeps++; d.sleeps&255 == 1 {
		// GOMAXPROCS may change (it follows the CPU limit); asking
		// takes the scheduler's lock, so not at every sleep.
		d.oneP = runtime.GOMAXPROCS(0) == 1
	}
	var buf [8]byte
	if d.oneP && d.parkFile == nil {
		d.parkFile = d.openParkFile()
	} else if !d.oneP && d.parkFile != nil {
		d.parkFile.Close()
		d.parkFile = nil
		unix.SetNonblock(d.wakeFD, false) // the description's flag, the duplicate's too
	}
	if d.parkFile != nil {
		if _, err := d.parkFile.Read(buf[:]); err == nil {
			d.parkedWakes.Add(1)
			return
		}
		// Not expected: the blocking read below still waits correctly.
		d.parkFile.Close()
		d.parkFile = nil
		unix.SetNonblock(d.wakeFD, false)
	}
	for {
		if _, err := unix.Read(d.wakeFD, buf[:]); err != unix.EINTR {
			return
		}
	}
}

// openParkFile duplicates the eventfd, non-blocking, into a File the
// netpoller waits on; nil if it cannot (then the owner's reads block).
func (d *Driver) openParkFile() *os.File {
	fd, err := unix.FcntlInt(uintptr(d.wakeFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), "io_uring-eventfd")
}

// enter hands the kernel everything published and, with GETEVENTS, has it
// run the task work deferred for us (which posts completions) and flush
// its overflow list. In SQPOLL mode the kernel's thread takes the SQEs;
// we only wake it when it sleeps.
func (d *Driver) enter() {
	var toSubmit, flags uint32
	if d.mode == ModeSQPoll {
		if d.ring.SQPending() > 0 && d.ring.SQFlags()&abi.SQNeedWakeup != 0 {
			flags |= abi.EnterSQWakeup
		}
		if d.ring.SQFlags()&abi.SQCQOverflow != 0 {
			flags |= abi.EnterGetevents
		}
		if d.roomWanted() && d.ring.SQFull() {
			flags |= abi.EnterSQWait // returns once the poller has made room
		}
		if flags == 0 {
			d.wakeSubmitters()
			return
		}
	} else {
		toSubmit = d.ring.SQPending()
		if toSubmit == 0 && d.ring.SQFlags()&(abi.SQTaskrun|abi.SQCQOverflow) == 0 {
			d.wakeSubmitters()
			return
		}
		flags = abi.EnterGetevents
		if toSubmit > 0 {
			d.submitEnters.Add(1)
		}
	}
	for {
		_, err := d.ring.Enter(toSubmit, 0, flags, nil, 0)
		if err == nil {
			break
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.EBUSY, unix.ENOMEM:
			// No memory for requests right now, or completions wait in
			// the overflow list: consume what we can and come back.
			if d.reap() == 0 {
				time.Sleep(50 * time.Microsecond)
			}
			toSubmit = d.ring.SQPending()
			continue
		}
		panic(fmt.Sprintf("aio: inconsistent io_uring state: io_uring_enter: %v", err))
	}
	d.wakeSubmitters()
}

// wakeSubmitters lets submitters waiting for SQ space try again.
func (d *Driver) wakeSubmitters() {
	if d.sqWait.Load() > 0 {
		d.sqMu.Lock()
		d.sqFreed.Add(1)
		d.sqFree.Broadcast()
		d.sqMu.Unlock()
	}
}

// roomWanted reports whether a submitter waits for SQ space and no
// broadcast has answered it since it began to wait. (A waiter woken but
// not yet running is answered: the owner does not spin on it.)
func (d *Driver) roomWanted() bool {
	return d.sqWait.Load() > 0 && int32(d.sqWanted.Load()-d.sqFreed.Load()) > 0
}

// reap copies out, hands back and dispatches every ready CQE, and
// returns how many. Only the owner calls it.
func (d *Driver) reap() int {
	d.cqMu.Lock()
	defer d.cqMu.Unlock()
	total := 0
	for {
		n := d.ring.CQReady()
		if n == 0 {
			return total
		}
		d.batch = d.batch[:0]
		for i := uint32(0); i < n; i++ {
			d.batch = append(d.batch, *d.ring.PeekCQE(i))
		}
		d.ring.Advance(n) // the kernel may reuse those slots now
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
	if cqe.UserData == udCancel {
		return // -ENOENT, -EALREADY, 0 or a count: the op's own CQE tells the outcome
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

// watch reads the ring's eventfd through Go's netpoller, so it holds no
// thread while it waits, and pokes the owner for each signal. The kernel
// signals it only while the owner sleeps (the eventfd is disabled
// otherwise). It returns when the owner closes the eventfd.
func (d *Driver) watch() {
	defer close(d.watched)
	var buf [8]byte
	for {
		if _, err := d.efd.Read(buf[:]); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			panic(fmt.Sprintf("aio: inconsistent io_uring state: reading the eventfd: %v", err))
		}
		// Without DEFER_TASKRUN the kernel has posted the completions
		// itself (their task work ran on the owner's thread, waking it
		// in the kernel only): reap them here, without waking the owner
		// in Go, which would cost two more thread hand-offs.
		if !d.deferTaskrun && d.mode != ModeSQPoll {
			d.reap()
			if !d.hasSubmissions() {
				continue
			}
		}
		d.poke()
	}
}

// hasSubmissions reports whether the owner has something to do besides
// reaping.
func (d *Driver) hasSubmissions() bool {
	return d.ring.SQPending() > 0 || d.ring.SQFlags()&abi.SQCQOverflow != 0 || d.calls.pending() || d.stop.Load()
}

// call runs fn on the owner's thread and returns its error: the kernel
// accepts io_uring_register only from the ring's issuer. After Close it
// returns os.ErrClosed without running fn.
func (d *Driver) call(fn func() error) error {
	c := &ownerCall{fn: fn, done: make(chan struct{})}
	if !d.calls.push(c) {
		return os.ErrClosed
	}
	d.poke()
	<-c.done
	return c.err
}

// Close stops the owner and releases the ring. The core calls it only
// when no operation is in flight. Control requests (stale cancels) that
// are still in the kernel are reaped by the owner before it closes the
// ring; none are accepted from now on.
func (d *Driver) Close() error {
	d.sqMu.Lock()
	if d.closed {
		d.sqMu.Unlock()
		return os.ErrClosed
	}
	d.closed = true
	d.sqFree.Broadcast()
	d.sqMu.Unlock()
	d.closeWorkers()
	d.stop.Store(true)
	d.poke()
	<-d.exited
	d.closeInline()
	return nil
}

// ownerCall is one function the owner runs for another goroutine.
type ownerCall struct {
	fn   func() error
	err  error
	done chan struct{}
}

// callQueue holds the calls waiting for the owner.
type callQueue struct {
	mu     sync.Mutex
	q      []*ownerCall
	n      atomic.Int32 // len(q), read without mu
	closed bool
}

func (c *callQueue) push(oc *ownerCall) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.q = append(c.q, oc)
	c.n.Store(int32(len(c.q)))
	return true
}

func (c *callQueue) pending() bool { return c.n.Load() > 0 }

// run runs every queued call, on the owner.
func (c *callQueue) run() {
	if !c.pending() {
		return
	}
	c.mu.Lock()
	q := c.q
	c.q = nil
	c.n.Store(0)
	c.mu.Unlock()
	for _, oc := range q {
		oc.err = oc.fn()
		close(oc.done)
	}
}

// close refuses later calls and runs the queued ones (the ring is still
// open).
func (c *callQueue) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.run()
}
