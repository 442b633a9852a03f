package aio

import (
	"context"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/waitforit/aio/internal/core"
)

// Op is one asynchronous operation, from a Start method. It completes
// exactly once, with (n, err): normally (even if a cancel was requested
// and lost the race), cancelled (err matches ErrCanceled, n == 0), or with
// another error. Until then the operation owns its buffer: do not read,
// write or reuse it before Done is closed. All methods are safe for
// concurrent use and remain valid after completion.
type Op struct {
	// The fields a use of o touches when nobody waits for it, together
	// at the start (two cache lines of the three): a batch's reads done
	// at once follow the kernel's copies, which leave little else of the
	// caches.

	// state is the Op's life in one word (opStarted, opFired, opWatched,
	// opInBatch).
	// An operation nobody waits for while in flight, the common case of a
	// poller that looks at Completed, costs one atomic instruction to
	// start and one to complete: the lock, the wait group and the channel
	// below are for those who wait or watch (see finish).
	state atomic.Uint32
	gen   uint32    // rec's generation for this use: a stale Op never touches a newer one
	kind  core.Kind // what o is to do (for its batch's Submit, or Ring.doNow)
	eof   bool      // a 0-byte result means io.EOF
	file  *File
	rec   *core.Record // the record of this operation's use; recycled after completion

	// The batch o was started in. Written before the Start call returns;
	// read (by flush) only while state has opInBatch, which the batch's
	// Submit clears when it takes o (or finish does, for a read done
	// there at once).
	batch *Batch
	next  *Op // the operation started before o in its batch (Batch.head)

	// o's buffer and offset, and what doNow made of it: written by the
	// Start call (and then doNow) before o can complete.
	p   []byte
	off int64
	now nowState

	// Written once by the completion, before state gets opFired.
	n   int
	err error

	// Guarded by mu, and used only once opWatched is set.
	mu        sync.Mutex
	completed sync.WaitGroup // one count while watched and not fired
	done      chan struct{}  // made on first Done() call; closed at completion
	fns       []func(int, error)

	_ [8]byte // 192 bytes: in an array of Ops, each starts a cache line
}

// opName is the Op of o's errors.
func (o *Op) opName() string {
	if o.kind == core.KindRead {
		return "read"
	}
	return "write"
}

// The bits of Op.state.
const (
	opStarted uint32 = 1 << iota // in use since its Start call (the zero Op is free)
	opFired                      // completed: n and err are final
	opWatched                    // someone waits or watches (Wait, Done, OnComplete): finish takes mu
	opInBatch                    // started in o.batch, which has not submitted it yet
)

// closedChan is Done's answer for an operation that completed before
// anyone asked for a channel.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// opNotifier is Op's completion hook, kept off Op's exported method set.
type opNotifier Op

func (c *opNotifier) bind(rec *core.Record) { c.rec, c.gen = rec, rec.Gen() }

// Complete runs once, on the completing goroutine, never blocking.
func (c *opNotifier) Complete(rec *core.Record) {
	o := (*Op)(c)
	f := o.file
	if rec.Res >= 0 {
		o.n = int(rec.Res)
		if o.n == 0 && o.eof {
			o.err = io.EOF
		}
	} else {
		o.err = &fs.PathError{Op: o.opName(), Path: f.name, Err: f.ring.errnoErr(rec.Res, nil, &f.refs, os.ErrClosed)}
	}
	f.ring.table.Put(rec)
	o.finish()
}

// finish publishes the result (o.n, o.err, written just before): Done
// closes, waiters return, OnComplete functions start. With nobody
// watching it is one compare-and-swap; a watcher sets opWatched under mu
// (watch), so either the swap fails and finish takes the slow path, or
// the watcher sees opFired and does not wait.
func (o *Op) finish() {
	// The buffer is the caller's again: an Op kept for reuse must not
	// keep it (and the object it lies in) reachable.
	o.p = nil
	for {
		old := o.state.Load()
		if old&opWatched == 0 {
			if o.state.CompareAndSwap(old, (old|opFired)&^opInBatch) {
				return
			}
			continue
		}
		// Watched. Everything is taken under mu before opFired is
		// published: once it is, a poller may reuse o at once.
		n, err := o.n, o.err
		o.mu.Lock()
		fns, done := o.fns, o.done
		o.fns = nil
		for { // watchers change state only under mu; Submit's And may not have run
			v := o.state.Load()
			if o.state.CompareAndSwap(v, (v|opFired)&^opInBatch) {
				break
			}
		}
		if done != nil {
			close(done)
		}
		o.completed.Done() // watch added it, under mu, for this use
		o.mu.Unlock()
		for _, fn := range fns {
			go fn(n, err)
		}
		return
	}
}

// watch marks o watched and reports whether it had fired by then. It is
// called with o.mu held; the first watcher of a use adds the wait group's
// count that finish's slow path takes back. (The zero Op, never started,
// is watched with no count: Wait returns at once, Done never closes.)
func (o *Op) watch() (fired bool) {
	old := o.state.Or(opWatched)
	if old&opFired != 0 {
		return true
	}
	if old&(opStarted|opWatched) == opStarted {
		o.completed.Add(1)
	}
	return false
}

// fired reports whether o has completed.
func (o *Op) fired() bool { return o.state.Load()&opFired != 0 }

// wait blocks until o has completed.
func (o *Op) wait() {
	if o.fired() {
		return
	}
	o.mu.Lock()
	fired := o.watch()
	o.mu.Unlock()
	if !fired {
		o.completed.Wait()
	}
}

// flush submits the batch o was started in, if it still waits for Submit:
// whoever waits on, cancels or watches an operation gets it submitted.
func (o *Op) flush() {
	if o.state.Load()&opInBatch != 0 {
		o.batch.Submit()
	}
}

func (f *File) startOp(kind core.Kind, name string, p []byte, off int64) (*Op, error) {
	o := &Op{file: f, kind: kind, eof: kind == core.KindRead && len(p) > 0}
	o.state.Store(opStarted)
	if err := f.check(kind, p); err != nil {
		return nil, f.pathErr(name, err)
	}
	if f.readNow(o, kind, p, off) {
		return o, nil
	}
	if _, err := f.startChecked(kind, p, off, 0, nil, (*opNotifier)(o)); err != nil {
		return nil, f.pathErr(name, err)
	}
	return o, nil
}

// reuse readies o, the zero Op or a completed one, for a new operation
// on f, started in batch b if not nil. It refuses an Op still in flight
// (or still in a batch).
func (o *Op) reuse(f *File, kind core.Kind, p []byte, b *Batch) error {
	started := opStarted
	if b != nil {
		started |= opInBatch
	}
	var old uint32
	for {
		old = o.state.Load()
		if old&(opStarted|opFired) == opStarted {
			return errOpInUse
		}
		if o.state.CompareAndSwap(old, started) {
			break
		}
	}
	// Ours alone now: the previous use's watchers have all returned (the
	// caller's promise), and its finish published opFired last.
	o.file, o.kind, o.eof = f, kind, kind == core.KindRead && len(p) > 0
	o.rec, o.gen, o.n, o.err = nil, 0, 0, nil
	o.batch = b
	// Field by field: a nowState{} built and copied stalls the store.
	o.now.pool, o.now.slot, o.now.res = nil, 0, 0
	o.now.try, o.now.done, o.now.fromStart = false, false, false
	if old&opWatched != 0 { // else they are still nil: not touched
		o.done, o.fns = nil, nil
	}
	return nil
}

// startOpReusing is startOp into an Op the caller provides.
func (f *File) startOpReusing(o *Op, kind core.Kind, name string, p []byte, off int64) error {
	if err := f.check(kind, p); err != nil {
		return f.pathErr(name, err)
	}
	if err := o.reuse(f, kind, p, nil); err != nil {
		return f.pathErr(name, err)
	}
	if f.readNow(o, kind, p, off) {
		return nil
	}
	if _, err := f.startChecked(kind, p, off, 0, nil, (*opNotifier)(o)); err != nil {
		o.err = f.pathErr(name, err)
		o.finish() // nothing was submitted: o is free again at once
		return o.err
	}
	return nil
}

// StartReadAtOp is StartReadAt into an Op the caller provides, so that a
// steady stream of operations allocates nothing: o must be the zero Op or
// one whose operation has completed, and every Wait, WaitContext, Done,
// OnComplete and Cancel of that use must have returned (an Op still in
// flight is refused, and nothing is submitted; a Cancel still running
// when o is reused may find the new operation and cancel it). From then
// on o describes the new operation; the record underneath has a new
// generation, so nothing of the previous use's record (a completion, a
// stale cancel the driver still holds) can touch it. On error o stays
// free for reuse.
func (f *File) StartReadAtOp(o *Op, p []byte, off int64) error {
	if off < 0 {
		return f.pathErr("readat", errNegativeOffset)
	}
	return f.startOpReusing(o, core.KindRead, "read", p, off)
}

// StartReadOp is StartRead into an Op the caller provides; see
// StartReadAtOp.
func (f *File) StartReadOp(o *Op, p []byte) error {
	return f.startOpReusing(o, core.KindRead, "read", p, -1)
}

// StartWriteOp is StartWrite into an Op the caller provides; see
// StartReadAtOp.
func (f *File) StartWriteOp(o *Op, p []byte) error {
	return f.startOpReusing(o, core.KindWrite, "write", p, -1)
}

// StartWriteAtOp is StartWriteAt into an Op the caller provides; see
// StartReadAtOp.
func (f *File) StartWriteAtOp(o *Op, p []byte, off int64) error {
	if off < 0 {
		return f.pathErr("writeat", errNegativeOffset)
	}
	return f.startOpReusing(o, core.KindWrite, "write", p, off)
}

// StartReadAt starts a read of up to len(p) bytes at off. p belongs to the
// operation until it completes. A short read is not an error; a read at
// or past end of file completes with (0, io.EOF).
func (f *File) StartReadAt(p []byte, off int64) (*Op, error) {
	if off < 0 {
		return nil, f.pathErr("readat", errNegativeOffset)
	}
	return f.startOp(core.KindRead, "read", p, off)
}

// StartWriteAt starts a write of p at off. p belongs to the operation until
// it completes; n may be short of len(p).
func (f *File) StartWriteAt(p []byte, off int64) (*Op, error) {
	if off < 0 {
		return nil, f.pathErr("writeat", errNegativeOffset)
	}
	return f.startOp(core.KindWrite, "write", p, off)
}

// StartRead starts a read of up to len(p) bytes at the file position or
// from the stream. p belongs to the operation until it completes. End of
// stream completes with (0, io.EOF).
func (f *File) StartRead(p []byte) (*Op, error) { return f.startOp(core.KindRead, "read", p, -1) }

// StartWrite starts a write of p at the file position or to the stream. p
// belongs to the operation until it completes; n may be short of len(p).
func (f *File) StartWrite(p []byte) (*Op, error) { return f.startOp(core.KindWrite, "write", p, -1) }

// Cancel requests cancellation. It never blocks, never fails, is
// idempotent, and does nothing after completion. It does not complete the
// operation: wait for Done to learn whether the cancel won.
func (o *Op) Cancel() {
	o.flush()
	if o.rec != nil { // nil: done at once, or failed before it had a record: complete already
		o.file.ring.table.Cancel(o.rec, o.gen)
	}
}

// Done is closed when the operation has completed.
func (o *Op) Done() <-chan struct{} {
	o.flush()
	o.hint(true)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done == nil {
		if o.watch() {
			o.done = closedChan
		} else {
			o.done = make(chan struct{})
		}
	}
	return o.done
}

// Completed reports whether the operation has completed, without waiting
// (Wait then returns its result at once). Unlike Wait it does not submit
// a Batch the operation is still in: an event loop can look over many
// operations and wait only when none is done.
func (o *Op) Completed() bool { return o.fired() }

// Wait blocks until the operation completes and returns its result.
func (o *Op) Wait() (int, error) {
	if o.fired() { // complete: nothing to submit, hint or wait for
		return o.n, o.err
	}
	o.flush()
	o.hint(false)
	o.wait()
	return o.n, o.err
}

// hint tells the backend that the caller is about to wait for o, and
// whether it may still cancel it. Only the simulator wants to know (it
// decides outcomes at the moments a program can observe them); for the
// other backends this is one nil check.
func (o *Op) hint(cancellable bool) {
	if f := o.file; o.rec != nil && f.ring.table.Hinter != nil {
		f.ring.table.Waiting(o.rec, o.gen, cancellable)
	}
}

// WaitContext is Wait, but if ctx ends first it requests the cancel and
// then still waits for the completion. An operation that completed anyway
// reports its bytes and no error; one really cancelled reports an error
// matching ctx's error and ErrCanceled.
func (o *Op) WaitContext(ctx context.Context) (int, error) {
	if ctx.Done() == nil {
		return o.Wait()
	}
	if ctx.Err() == nil {
		o.flush()
		o.hint(true)
		select {
		case <-o.Done():
			return o.n, o.err
		case <-ctx.Done():
		}
	}
	// The cancel first, then the wait: the operation learns it was
	// cancelled before anyone waits for it.
	o.Cancel()
	o.hint(false)
	o.wait()
	if pe, ok := o.err.(*fs.PathError); ok {
		if ce, ok := pe.Err.(*canceledError); ok && ce.cause == nil {
			return o.n, &fs.PathError{Op: pe.Op, Path: pe.Path, Err: canceledBy(ctx.Err())}
		}
	}
	return o.n, o.err
}

// OnComplete arranges for fn(n, err) to run once, in its own goroutine,
// after the operation completes (at once if it already has), as
// time.AfterFunc runs its function.
func (o *Op) OnComplete(fn func(n int, err error)) {
	o.flush()
	o.hint(true)
	o.mu.Lock()
	if !o.watch() {
		o.fns = append(o.fns, fn)
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	go fn(o.n, o.err)
}
