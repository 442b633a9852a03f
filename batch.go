package aio

import (
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/waitforit/aio/internal/core"
)

// Batch gathers operations and hands them to the kernel together on
// Submit: on io_uring one system call for all of them, instead of one per
// operation, which is most of the cost of a cached read. Use it where many
// operations are started at once (a storage engine's read-ahead, a
// compaction):
//
//	b := ring.NewBatch()
//	for i := range bufs {
//		ops[i], _ = b.StartReadAt(f, bufs[i], offs[i])
//	}
//	b.Submit()
//
// Reads of data the kernel has cached are done inside Submit, at once
// (on io_uring in one system call for all of them; see now.go): they have
// completed when Submit returns. The others are handed to the driver.
//
// An operation started in a batch is submitted by the batch's next Submit,
// or earlier by anything that waits on it, cancels it or asks for its Done
// channel or OnComplete (those submit its batch first, so nothing waits
// forever on an operation never submitted). Its buffer belongs to the
// operation from the Start call until its completion, as with
// File.StartReadAt. An operation that cannot be submitted at Submit (its
// File or the Ring was closed meanwhile) completes with that error.
//
// A Batch is safe for concurrent use and can be reused after Submit.
type Batch struct {
	ring *Ring

	// The operations started and not yet submitted, newest first,
	// linked through Op.next: a start pushes its Op with one
	// compare-and-swap (a lock would take two atomic instructions), and
	// Submit takes them all with one swap.
	head atomic.Pointer[Op]

	mu      sync.Mutex // one Submit at a time; guards the scratch below
	started []*Op      // what Submit took, oldest first
	recs    []*core.Record
	scratch []core.Prepared
	reads   []core.ReadNow
}

// NewBatch returns an empty batch for operations on files of r.
func (r *Ring) NewBatch() *Batch { return &Batch{ring: r} }

// Len is the number of operations started and not yet submitted.
func (b *Batch) Len() int {
	b.mu.Lock() // no Submit takes the list meanwhile; starts only push
	defer b.mu.Unlock()
	n := 0
	for o := b.head.Load(); o != nil; o = o.next {
		n++
	}
	return n
}

// StartReadAt adds a read of up to len(p) bytes of f at off to the batch.
// Errors that make the read impossible (a negative offset, a file of
// another ring, an operation the backend lacks) are returned at once, and
// nothing is added.
func (b *Batch) StartReadAt(f *File, p []byte, off int64) (*Op, error) {
	if off < 0 {
		return nil, f.pathErr("readat", errNegativeOffset)
	}
	return b.start(f, core.KindRead, "read", "readat", p, off)
}

// StartWriteAt adds a write of p to f at off to the batch; see StartReadAt.
func (b *Batch) StartWriteAt(f *File, p []byte, off int64) (*Op, error) {
	if off < 0 {
		return nil, f.pathErr("writeat", errNegativeOffset)
	}
	return b.start(f, core.KindWrite, "write", "writeat", p, off)
}

// StartRead adds a read of up to len(p) bytes at f's position or from the
// stream (a pipe, a socket as a file) to the batch.
func (b *Batch) StartRead(f *File, p []byte) (*Op, error) {
	return b.start(f, core.KindRead, "read", "read", p, -1)
}

// StartWrite adds a write of p at f's position or to the stream.
func (b *Batch) StartWrite(f *File, p []byte) (*Op, error) {
	return b.start(f, core.KindWrite, "write", "write", p, -1)
}

// StartReadAtOp is StartReadAt into an Op the caller provides and reuses,
// as File.StartReadAtOp: no allocation per operation.
func (b *Batch) StartReadAtOp(o *Op, f *File, p []byte, off int64) error {
	if off < 0 {
		return f.pathErr("readat", errNegativeOffset)
	}
	return b.startInto(o, f, core.KindRead, "read", "readat", p, off)
}

// StartWriteAtOp is StartWriteAt into an Op the caller provides and
// reuses, as File.StartWriteAtOp.
func (b *Batch) StartWriteAtOp(o *Op, f *File, p []byte, off int64) error {
	if off < 0 {
		return f.pathErr("writeat", errNegativeOffset)
	}
	return b.startInto(o, f, core.KindWrite, "write", "writeat", p, off)
}

func (b *Batch) start(f *File, kind core.Kind, name, what string, p []byte, off int64) (*Op, error) {
	o := new(Op)
	if err := b.startInto(o, f, kind, name, what, p, off); err != nil {
		return nil, err
	}
	return o, nil
}

func (b *Batch) startInto(o *Op, f *File, kind core.Kind, name, what string, p []byte, off int64) error {
	if f.ring != b.ring {
		return f.pathErr(what, errOtherRing)
	}
	if err := f.check(kind, p); err != nil {
		return f.pathErr(name, err)
	}
	if err := o.reuse(f, kind, p, b); err != nil {
		return f.pathErr(name, err)
	}
	o.p, o.off = p, off // for the Submit that takes o
	// A pool buffer is the operation's from now on: released before the
	// Submit, it is recycled only once the operation has completed.
	if kind == core.KindRead || kind == core.KindWrite {
		if q, i, ok := b.ring.holdAtStart(p); ok {
			o.now.pool, o.now.slot, o.now.fromStart = q, i, true
		}
	}
	for {
		old := b.head.Load()
		o.next = old
		if b.head.CompareAndSwap(old, o) {
			return nil
		}
	}
}

// Submit hands every operation started since the last Submit to the
// kernel. It returns an error only if some could not be submitted (their
// File or the Ring is closed); those have completed with that error.
func (b *Batch) Submit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	head := b.head.Swap(nil)
	if head == nil {
		return nil
	}
	ops := b.started[:0]
	for o := head; o != nil; {
		next := o.next
		o.next = nil
		ops = append(ops, o)
		o = next
	}
	slices.Reverse(ops) // oldest first, as started
	var firstErr error
	fail := func(o *Op, err error) {
		o.dropStartHold() // nothing was submitted: the buffer is free of it
		o.err = &fs.PathError{Op: o.opName(), Path: o.file.name, Err: err}
		o.finish()
		if firstErr == nil {
			firstErr = o.err
		}
	}
	b.recs = b.recs[:0]
	// The reads the kernel can do at once: done, and their Ops (which
	// may be reused from then on) are out of rest.
	rest := b.ring.doNow(ops, &b.reads)
	for _, o := range rest {
		rec, err := o.file.record(o.kind, o.p, o.off, 0, nil, (*opNotifier)(o))
		if err != nil {
			fail(o, err)
			continue
		}
		// Out of the batch once it has its record (o.rec, which Cancel
		// and the simulator's hint read once they see the bit cleared),
		// and before it is submitted: from here on a Wait waits for its
		// completion, which this call is about to bring about, and need
		// not flush b (nor touch the Op once it may be complete and
		// reused).
		o.state.And(^opInBatch)
		b.recs = append(b.recs, rec)
	}
	var n int
	var err error
	if len(b.recs) > 0 {
		var scratch []core.Prepared
		n, scratch, err = b.ring.table.SubmitBatch(b.recs, b.scratch)
		clear(scratch) // its references are the records' now: keep no File reachable
		b.scratch = scratch
	}
	for _, rec := range b.recs[n:] {
		// o.rec stays: a Cancel or hint that reads it now finds its
		// generation not submitted, and does nothing.
		o := (*Op)(rec.Notify.(*opNotifier))
		o.file.unrecord(rec)
		fail(o, err)
	}
	clear(ops)
	b.started = ops[:0]
	clear(b.recs)
	return firstErr
}
