//go:build unix

package sim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/backend/portable"
	"github.com/waitforit/aio/internal/core"
)

// Available reports whether the simulator exists here: on every Unix,
// where the portable backend it runs on exists.
func Available() error { return portable.Available() }

// Driver is the simulator for one core.Table. See the package comment
// for what it decides and how.
//
// d.mu guards everything below it and every op's fields except those an
// executor owns while it runs the op (state stRun or stInner: the
// record's Buf and Handle, which it swaps, and the private buffer). Nobody
// holds d.mu while calling the portable driver, running a system call or
// calling Table.Complete; decisions are made under d.mu, in the order
// the program's calls arrive, and carried out after it is released.
type Driver struct {
	table  *core.Table
	inner  core.Driver
	attach core.FileAttacher
	seed   int64
	faults Faults

	mu        sync.Mutex
	seq       uint64 // operations submitted so far: the last one's number
	events    uint64 // calls from the program so far (for idle detection)
	ops       []*op  // by record index: the use in flight, nil when none
	held      []*op  // pending operations, in submission order
	sched     *rand.Rand
	idleArmed bool
	timers    map[*time.Timer]struct{}
	closed    bool
	trace     trace

	timersRunning sync.WaitGroup // armed timers whose function has not finished
}

// Where an operation is.
const (
	stHeld  = iota // pending: the kernel has not started it
	stRun          // taken by an executor: running, or being handed to the portable driver
	stInner        // in the portable driver (waiting for a pollable descriptor, or a worker)
)

// op is the simulator's state for one submitted operation.
type op struct {
	r     *core.Record
	id    uint64
	seq   uint64     // submission number: the seed's stream for this op
	rng   *rand.Rand // this op's decisions
	fd    int        // -1 for an open
	file  *file      // the descriptor's handle; nil for an open
	state uint8
	kind  core.Kind

	waited      bool // the program waits for it (Waiting)
	cancellable bool // ... and may still cancel it
	late        bool // held for lateFor, or until its cancel
	cancel      bool // a cancel was requested
	forwarded   bool // the cancel was passed to the portable driver
	grace       bool // ... only after graceFor (from the plan, or decided by Cancel)
	inner       bool // executed through the portable driver
	park        bool // released for somebody who waits: it may wait for its descriptor

	user  []byte // the caller's buffer
	priv  []byte // what the "kernel" reads from or writes to
	saved []byte // a read buffer's contents at submission
	sum   uint32 // a write buffer's checksum at submission

	plan      plan
	stack     []uintptr
	violation string
}

// plan is how an operation is carried out, decided when it leaves the
// pending state.
type plan struct {
	res   int32  // < 0: complete with this error without running
	n     int    // bytes to transfer: the length handed to the kernel
	grace bool   // a cancel reaches the portable driver only after graceFor
	how   string // for the trace
}

// file is the handle of an attached descriptor.
type file struct {
	inner    any  // the portable driver's handle
	pollable bool // transfers wait in the netpoller
	disk     bool // regular file, directory, block device
	dgram    bool // a socket that keeps message boundaries: never cut short
}

// New returns a simulator for t, running operations on a portable driver.
func New(t *core.Table, opts Options) (core.Driver, error) {
	if opts.Seed == 0 {
		return nil, fmt.Errorf("sim: seed 0")
	}
	d := &Driver{
		table:  t,
		seed:   opts.Seed,
		faults: opts.Faults,
		sched:  rand.New(rand.NewPCG(uint64(opts.Seed), 0)),
		timers: make(map[*time.Timer]struct{}),
	}
	inner, err := portable.New(t, portable.Options{Workers: opts.Workers, Complete: d.innerDone})
	if err != nil {
		return nil, err
	}
	d.inner = inner
	d.attach = inner.(core.FileAttacher)
	return d, nil
}

// Name is "sim".
func (d *Driver) Name() string { return "sim" }

// Seed is the simulator's seed.
func (d *Driver) Seed() int64 { return d.seed }

// Supported is what the portable driver supports, less multishot accept.
func (d *Driver) Supported(k core.Kind) (bool, string) {
	if k == core.KindAcceptMulti {
		return false, k.String()
	}
	return d.inner.Supported(k)
}

// DisableOpcode hides k from Supported, for tests (as the other drivers'
// do): its operations are refused at submission as unsupported.
func (d *Driver) DisableOpcode(k core.Kind) {
	if inner, ok := d.inner.(interface{ DisableOpcode(core.Kind) }); ok {
		inner.DisableOpcode(k)
	}
}

// Attach attaches fd to the portable driver and notes what it is.
func (d *Driver) Attach(fd int) (any, error) {
	h, err := d.attach.Attach(fd)
	if err != nil {
		return nil, err
	}
	f := &file{inner: h}
	f.pollable, f.disk = portable.Describe(h)
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err == nil && typ != unix.SOCK_STREAM {
		f.dgram = true
	}
	return f, nil
}

// Detach detaches fd from the portable driver.
func (d *Driver) Detach(fd int, handle any) {
	if f, ok := handle.(*file); ok {
		d.attach.Detach(fd, f.inner)
	}
}

// Submit takes r. It runs at once (inside the Start call) or stays
// pending until a later moment; either way nothing here waits for a
// peer.
func (d *Driver) Submit(r *core.Record) error {
	pcs := make([]uintptr, 32)
	pcs = pcs[:runtime.Callers(2, pcs)]
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return os.ErrClosed
	}
	d.seq++
	o := &op{r: r, id: r.ID(), seq: d.seq, fd: r.FD, kind: r.Kind, stack: pcs}
	o.rng = rand.New(rand.NewPCG(uint64(d.seed), o.seq))
	o.file, _ = r.Handle.(*file)
	if r.Kind == core.KindOpen {
		o.fd = -1
	}
	o.takeBuffer()
	d.setOp(o)
	d.events++
	var run []*op
	if len(d.held) > 0 && o.rng.Float64() < pBackground {
		if i := d.pickHeld(o.rng, nil); i >= 0 {
			run = append(run, d.release(d.held[i], false))
		}
	}
	if o.rng.Float64() < pPrompt {
		run = append(run, d.start(o, false))
	} else {
		o.state = stHeld
		d.held = append(d.held, o)
		d.armIdle()
	}
	d.mu.Unlock()
	d.run(run)
	return nil
}

// takeBuffer does what checked ownership does at submission: a read's
// buffer is poisoned (its data lands only at delivery) and its contents
// saved (what the kernel does not write must be as it was); a write's
// buffer is checksummed and, half the time, copied now; the other half,
// the "kernel" takes the data when it runs the write (its system call
// reads the caller's buffer then, after a check that it is unchanged).
func (o *op) takeBuffer() {
	r := o.r
	switch {
	case len(r.Buf) == 0:
	case core.IsRead(r.Kind):
		o.user = r.Buf
		o.saved = append([]byte(nil), r.Buf...)
		o.priv = make([]byte, len(r.Buf))
		poison(o.user)
	case core.IsWrite(r.Kind):
		o.user = r.Buf
		o.sum = core.Checksum(r.Buf)
		if o.rng.IntN(2) == 0 {
			o.priv = append([]byte(nil), r.Buf...)
		}
	}
}

func (d *Driver) setOp(o *op) {
	i := int(o.r.Index)
	if i >= len(d.ops) {
		d.ops = append(d.ops, make([]*op, i+1-len(d.ops))...)
	}
	if d.ops[i] != nil {
		panic(fmt.Sprintf("aio: inconsistent simulator state: record %d submitted while in flight", i))
	}
	d.ops[i] = o
}

// lookup returns the op of r's use id, or nil if that use is not ours
// (stale, or not yet submitted to us).
func (d *Driver) lookup(r *core.Record, id uint64) *op {
	if i := int(r.Index); i < len(d.ops) {
		if o := d.ops[i]; o != nil && o.id == id {
			return o
		}
	}
	return nil
}

// pickHeld returns the index in d.held of a random pending op that is
// not late and not skip, or -1.
func (d *Driver) pickHeld(rng *rand.Rand, skip *op) int {
	var cands []int
	for i, h := range d.held {
		if h != skip && !h.late {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return -1
	}
	return cands[rng.IntN(len(cands))]
}

// release takes o out of the pending set and plans it; the caller runs
// it once d.mu is released.
//
// park says somebody waits for o (or the program has gone quiet, or o is
// cancelled): an operation on a pollable descriptor may then wait in the
// netpoller for its peer. Otherwise it is only tried, and if it would
// have to wait it goes back to pending: what completes without a waiter
// is what was ready at a moment the program's calls fix.
func (d *Driver) release(o *op, park bool) *op {
	for i, h := range d.held {
		if h == o {
			// slices.Delete clears the vacated last element: a stale
			// pointer there would keep a completed op, and its
			// caller's buffer, reachable.
			d.held = slices.Delete(d.held, i, i+1)
			break
		}
	}
	return d.start(o, park)
}

// start plans o and marks it taken by an executor (d.mu held).
func (d *Driver) start(o *op, park bool) *op {
	d.plan(o)
	o.grace = o.plan.grace
	o.park = park || o.cancel
	o.state = stRun
	return o
}

// putBack returns o, which would have had to wait, to the pending set in
// submission order (d.mu held).
func (d *Driver) putBack(o *op) {
	o.state = stHeld
	i := len(d.held)
	for i > 0 && d.held[i-1].seq > o.seq {
		i--
	}
	d.held = append(d.held, nil)
	copy(d.held[i+1:], d.held[i:])
	d.held[i] = o
	d.armIdle()
}

// plan decides how o is carried out: the outcome of its cancel, if one
// was requested; otherwise an injected error, or a short transfer.
func (d *Driver) plan(o *op) {
	k := o.kind
	n := len(o.user)
	stream := o.file != nil && !o.file.disk && !o.file.dgram
	o.plan = plan{n: n, how: "ran"}
	defer func() {
		if stream && o.plan.n > maxStream {
			o.plan.n = maxStream
		}
	}()
	if o.cancel {
		x := o.rng.Float64()
		cut := o.cutPoint()
		canWin := k != core.KindClose && k != core.KindShutdown
		switch {
		case canWin && x < pCancelWins:
			o.plan = plan{res: -int32(unix.ECANCELED), how: "cancel won"}
		case cut > 0 && x < pCancelWins+pCancelPartial:
			o.plan.n = cut
			o.plan.grace, o.plan.how = true, "cancel won after a partial transfer"
		default:
			o.plan.grace, o.plan.how = true, "cancel lost"
		}
		return
	}
	// Every draw is made whatever the rates, so that turning faults on
	// changes the faults and nothing else of a seed's schedule.
	xIntr, xFault, xShort := o.rng.Float64(), o.rng.Float64(), o.rng.Float64()
	switch {
	case o.r.Notify == nil && retriesEINTR(k) && xIntr < pEINTR:
		o.plan = plan{res: -int32(unix.EINTR), how: "interrupted"}
		return
	case k == core.KindFsync || k == core.KindWrite && o.file != nil && o.file.disk:
		if xFault < d.faults.ENOSPC {
			o.plan = plan{res: -int32(unix.ENOSPC), how: "injected ENOSPC"}
			return
		}
		if xFault < d.faults.ENOSPC+d.faults.EIO {
			o.plan = plan{res: -int32(unix.EIO), how: "injected EIO"}
			return
		}
	}
	if stream && xShort < pShort {
		if cut := o.cutPoint(); cut > 0 {
			o.plan.n, o.plan.how = cut, "short"
		}
	}
}

// cutPoint returns a length, drawn from o's generator, at which o's
// transfer can end short where a kernel can end one, or 0 if it cannot:
//
//   - On a stream (pipe, stream socket, tty), a transfer of more than
//     pipeBuf bytes, anywhere. Smaller ones are atomic on pipes (POSIX
//     PIPE_BUF) and, in practice, on stream sockets: a reader gets a
//     small message whole if it was there at all.
//   - On a disk file, at a page boundary of the file: a signal (or an
//     io_uring cancel, which is one to the worker running the request)
//     interrupts a read or write between pages, never within one.
//   - Datagrams: never; they go whole or not at all.
func (o *op) cutPoint() int {
	n := len(o.user)
	if n <= 1 || o.file == nil || o.file.dgram || !core.IsRead(o.kind) && !core.IsWrite(o.kind) {
		return 0
	}
	if !o.file.disk {
		if n <= pipeBuf {
			return 0
		}
		return 1 + o.rng.IntN(n-1)
	}
	first := pageSize // the first page boundary after the offset
	if off := o.r.Off; off >= 0 {
		first = pageSize - int(off%pageSize)
	}
	if first >= n {
		return 0
	}
	return first + pageSize*o.rng.IntN((n-1-first)/pageSize+1)
}

const (
	pipeBuf  = 4096 // PIPE_BUF on Linux
	pageSize = 4096
)

// retriesEINTR reports whether the library's blocking calls retry EINTR
// for k (File.do and Conn.io do, for what they submit).
func retriesEINTR(k core.Kind) bool {
	switch k {
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend, core.KindAccept,
		core.KindSendmsg, core.KindRecvmsg:
		return true
	}
	return false
}

// viaInner reports whether o must run through the portable driver: a
// transfer, accept or connect on a descriptor that may have to wait for a
// peer. Everything else (files, fsync, open, close, and whatever kinds
// the portable driver learns later) runs as one system call in the
// goroutine that releases it.
func (o *op) viaInner() bool {
	if o.file == nil || o.file.disk {
		return false
	}
	switch o.kind {
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend, core.KindSendmsg, core.KindRecvmsg,
		core.KindAccept, core.KindConnect:
		return true
	}
	return false
}

// run carries out released ops, in order. Called without d.mu. A
// checked-ownership violation panics only once every op is delivered,
// so that none is left in flight for ever.
func (d *Driver) run(ops []*op) {
	var first *Violation
	for _, o := range ops {
		func() {
			defer func() {
				if p := recover(); p != nil {
					v, ok := p.(*Violation)
					if !ok {
						panic(p)
					}
					if first == nil {
						first = v
					}
				}
			}()
			d.execute(o)
		}()
	}
	if first != nil {
		panic(first)
	}
}

// Violation is the simulator's panic value when checked ownership finds
// a buffer touched by the program while its operation was in flight.
type Violation struct{ Msg string }

func (v *Violation) Error() string { return v.Msg }

func (d *Driver) execute(o *op) {
	r := o.r
	for {
		if o.plan.res < 0 {
			d.deliver(o, o.plan.res)
			return
		}
		if core.IsWrite(o.kind) && len(o.user) > 0 {
			if o.priv == nil {
				// The "kernel" takes the data now: the system call reads
				// the caller's buffer, as it stands.
				if core.Checksum(o.user) != o.sum {
					o.violate("changed while the operation was in flight")
				}
				r.Buf = o.user[:o.plan.n]
			} else { // it took a copy at submission
				r.Buf = o.priv[:o.plan.n]
			}
		} else if core.IsRead(o.kind) && len(o.user) > 0 {
			r.Buf = o.priv[:o.plan.n]
		}
		if !o.viaInner() {
			d.deliver(o, portable.Exec(r))
			return
		}
		if o.park || !o.file.pollable {
			// Waited for, or a blocking descriptor (adopted, shared with
			// its owner), which cannot be tried without waiting: the
			// portable driver waits for it.
			break
		}
		res, again := portable.TryOnce(r)
		if !again {
			d.deliver(o, res)
			return
		}
		// It would have to wait for its peer, and nobody waits for it:
		// pending again, until somebody does.
		if len(o.user) > 0 {
			r.Buf = o.user
		}
		d.mu.Lock()
		if !o.waited { // (a wait that came meanwhile found it running)
			d.putBack(o)
			d.mu.Unlock()
			return
		}
		d.start(o, true)
		d.mu.Unlock()
	}
	o.inner = true
	r.Handle = o.file.inner
	if err := d.inner.Submit(r); err != nil {
		r.Handle = o.file
		d.deliver(o, errnoRes(err))
		return
	}
	// A cancel that came while the op was being handed over only marked
	// it: pass it on now that the portable driver has the request.
	d.mu.Lock()
	var fwd *op
	if d.lookup(r, o.id) == o {
		o.state = stInner
		if o.cancel && !o.forwarded {
			o.forwarded, fwd = true, o
		}
	}
	d.mu.Unlock()
	if fwd != nil {
		d.forward(fwd)
	}
}

// forward passes o's cancel to the portable driver: at once, or after
// graceFor if o's plan gives it a chance to complete anyway. A stale
// forward (o completed meanwhile) matches nothing there.
func (d *Driver) forward(o *op) {
	r, id := o.r, o.id
	d.mu.Lock()
	grace := o.grace && !d.closed
	if grace {
		d.after(graceFor, func() { d.inner.Cancel(r, id) })
	}
	d.mu.Unlock()
	if !grace {
		d.inner.Cancel(r, id)
	}
}

// innerDone is the portable driver's completion of an op run through it.
func (d *Driver) innerDone(r *core.Record, res int32) {
	d.mu.Lock()
	o := d.lookup(r, r.ID())
	d.mu.Unlock()
	if o == nil || !o.inner {
		panic(fmt.Sprintf("aio: inconsistent simulator state: completion of record %d not in flight", r.Index))
	}
	r.Handle = o.file
	d.deliver(o, res)
}

// deliver completes o with res: a read's data lands in the caller's
// buffer now, at the last moment; a write's buffer is checked against its
// checksum at submission.
func (d *Driver) deliver(o *op, res int32) {
	r := o.r
	if len(o.user) > 0 {
		r.Buf = o.user
		switch {
		case core.IsRead(o.kind):
			if !isPoison(o.user) {
				o.violate("written to while a read into it was in flight")
			}
			n := 0
			if res > 0 {
				n = min(int(res), len(o.priv))
			}
			copy(o.user[:n], o.priv[:n])
			copy(o.user[n:], o.saved[n:])
		case core.IsWrite(o.kind):
			if core.Checksum(o.user) != o.sum {
				o.violate("changed while the operation was in flight")
			}
		}
	}
	d.mu.Lock()
	if d.ops[r.Index] == o {
		d.ops[r.Index] = nil
	}
	d.trace.add(Event{Seq: o.seq, Kind: o.kind.String(), Res: res, Cancel: o.cancel, How: o.plan.how})
	d.mu.Unlock()
	violation := o.violation
	if violation != "" {
		violation = fmt.Sprintf("aio simulator (seed %d): the buffer of %s, operation %d of its ring, was %s.\n"+
			"The buffer belongs to the operation until its completion is observed (Wait, Done, OnComplete).\n"+
			"It was submitted at:%s\nReplay: AIO_SIM_SEED=%d, with the same go test -run.",
			d.seed, r.Describe(), o.seq, violation, core.FormatStack(trimInternal(o.stack)), d.seed)
	}
	d.table.Complete(r, res)
	if violation != "" {
		panic(&Violation{violation}) // after the completion: nothing waits for it forever
	}
}

func (o *op) violate(what string) {
	if o.violation == "" {
		o.violation = what
	}
}

// trimInternal drops the frames of the library's internal packages.
func trimInternal(pcs []uintptr) []uintptr {
	out := make([]uintptr, 0, len(pcs))
	for _, pc := range pcs {
		if f := runtime.FuncForPC(pc - 1); f != nil && strings.Contains(f.Name(), "/aio/internal/") {
			continue
		}
		out = append(out, pc)
	}
	return out
}

// Waiting is told that the program waits for r's use id. A pending op
// runs now, perhaps after others pending (completion order), or, if its
// waiter can cancel it, perhaps only after lateFor or that cancel.
func (d *Driver) Waiting(r *core.Record, id uint64, cancellable bool) {
	d.mu.Lock()
	o := d.lookup(r, id)
	if o == nil || o.waited {
		d.mu.Unlock()
		return
	}
	d.events++
	o.waited, o.cancellable = true, cancellable
	var run []*op
	if o.state == stHeld {
		if !o.cancel {
			for o.rng.Float64() < pOthers {
				i := d.pickHeld(o.rng, o)
				if i < 0 {
					break
				}
				run = append(run, d.release(d.held[i], false))
			}
		}
		if !o.cancel && cancellable && o.rng.Float64() < pLate {
			o.late = true
			// The timer names the use, not the op: an op cancelled and
			// delivered meanwhile (with its caller's buffer) must not
			// stay reachable until the timer fires.
			r, id := o.r, o.id
			d.after(lateFor, func() { d.lateDone(r, id) })
		} else {
			run = append(run, d.release(o, true))
		}
	}
	d.armIdle()
	d.mu.Unlock()
	d.run(run)
}

// WaitingFD is told that the program waits for every write in flight on
// fd (a sync at its barrier): the pending ones run now, in an order the
// seed chooses.
func (d *Driver) WaitingFD(fd int) {
	d.mu.Lock()
	d.events++
	var writes []*op
	for _, o := range d.held {
		if o.fd == fd && o.kind == core.KindWrite {
			writes = append(writes, o)
		}
	}
	d.sched.Shuffle(len(writes), func(i, j int) { writes[i], writes[j] = writes[j], writes[i] })
	var run []*op
	for _, o := range writes {
		o.waited = true
		run = append(run, d.release(o, true))
	}
	d.mu.Unlock()
	d.run(run)
}

// lateDone runs a late op nobody cancelled: r's use id, if still held.
func (d *Driver) lateDone(r *core.Record, id uint64) {
	d.mu.Lock()
	var run []*op
	if o := d.lookup(r, id); o != nil && o.state == stHeld {
		run = append(run, d.release(o, true))
	}
	d.mu.Unlock()
	d.run(run)
}

// Cancel marks r's use id cancelled. A pending op that its program waits
// for learns the outcome now; one nobody waits for yet, only when
// somebody does (so a caller that touches the buffer between Cancel and
// Wait is caught). One in the portable driver gets the cancel there.
func (d *Driver) Cancel(r *core.Record, id uint64) {
	d.mu.Lock()
	o := d.lookup(r, id)
	if o == nil {
		d.mu.Unlock()
		return
	}
	d.events++
	o.cancel = true
	var run []*op
	var fwd *op
	switch o.state {
	case stHeld:
		if o.waited {
			run = append(run, d.release(o, true))
		}
	default: // running: the executor forwards it once the portable driver has it
		if !o.forwarded {
			// A cancel that finds the kernel at work loses now and then:
			// the op gets graceFor to complete first.
			o.grace = o.grace || o.rng.Float64() >= pCancelWins
			if o.state == stInner {
				o.forwarded, fwd = true, o
			}
		}
	}
	d.armIdle()
	d.mu.Unlock()
	d.run(run)
	if fwd != nil {
		d.forward(fwd)
	}
}

// CancelFD cancels every op on fd, now (a Close waits for them).
func (d *Driver) CancelFD(fd int) {
	d.cancelMatching(fd, false)
	d.inner.CancelFD(fd)
}

// CancelAll cancels every op, now.
func (d *Driver) CancelAll() {
	d.cancelMatching(-1, true)
	d.inner.CancelAll()
}

func (d *Driver) cancelMatching(fd int, all bool) {
	d.mu.Lock()
	d.events++
	var run []*op
	for _, o := range d.ops {
		if o == nil || !all && o.fd != fd {
			continue
		}
		o.cancel = true
		switch o.state {
		case stHeld:
			run = append(run, d.release(o, true))
		case stInner:
			o.forwarded = true // the portable driver's CancelFD or CancelAll, next
		}
	}
	d.mu.Unlock()
	d.run(run)
}

// armIdle makes sure pending ops run if the program goes quiet. Called
// with d.mu held.
func (d *Driver) armIdle() {
	if d.idleArmed || len(d.held) == 0 || d.closed {
		return
	}
	d.idleArmed = true
	mark := d.events
	d.after(idleFor, func() { d.idle(mark) })
}

func (d *Driver) idle(mark uint64) {
	d.mu.Lock()
	d.idleArmed = false
	if d.events != mark {
		d.armIdle() // something happened meanwhile: look again later
		d.mu.Unlock()
		return
	}
	var run []*op
	for len(d.held) > 0 {
		i := d.pickHeld(d.sched, nil)
		if i < 0 {
			break
		}
		run = append(run, d.release(d.held[i], true))
	}
	d.mu.Unlock()
	d.run(run)
}

// after runs fn after dur unless the driver closes first. Called with
// d.mu held; fn runs without it.
func (d *Driver) after(dur time.Duration, fn func()) {
	var t *time.Timer
	d.timersRunning.Add(1)
	t = time.AfterFunc(dur, func() {
		defer d.timersRunning.Done()
		d.mu.Lock()
		_, live := d.timers[t]
		delete(d.timers, t)
		d.mu.Unlock()
		if live {
			fn()
		}
	})
	d.timers[t] = struct{}{}
}

// Close stops the timers and closes the portable driver. The core calls
// it only when nothing is in flight.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return os.ErrClosed
	}
	d.closed = true
	for t := range d.timers {
		if t.Stop() {
			d.timersRunning.Done()
		}
		delete(d.timers, t)
	}
	d.mu.Unlock()
	d.timersRunning.Wait()
	return d.inner.Close()
}

// Trace returns the last outcomes the simulator delivered (up to
// traceKeep), how many there were in all, and a hash of all of them.
func (d *Driver) Trace() (events []Event, total, hash uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.trace.snapshot()
}

func errnoRes(err error) int32 {
	if errno, ok := err.(syscall.Errno); ok && errno != 0 {
		return -int32(errno)
	}
	return -int32(unix.EIO)
}
