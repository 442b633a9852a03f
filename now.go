package aio

import (
	"slices"

	"github.com/waitforit/aio/internal/core"
)

// The reads that Start calls and Batches ask of regular files are done
// at once, in the caller and with no record, where the kernel can do them
// without waiting (cached data: see mechanism.go); only the others go to
// the driver. An operation done at once completes before its Start call
// (or its batch's Submit) returns, as one the kernel finished at
// submission would. On io_uring a batch's reads go together, in one
// io_uring_enter of the driver's inline ring (core.ManyDoer); a single
// read, and every read elsewhere, is the File's own try (preadv2 with
// RWF_NOWAIT, core.DirectDoer), as ReadAt makes it.
//
// Why: a record costs its table's bookkeeping (a record taken and put
// back, its state moved three times, the file's and the ring's
// references taken and dropped, counters), which for a cached 4 KiB read
// was as much CPU again as the kernel's work beyond what a bare ring
// costs (BenchmarkBatchReadAtPool's user-ns/op).

// nowState is what doNow keeps of an operation of a batch.
type nowState struct {
	pool *BufferPool // the pool whose buffer slot it holds, if any
	slot uint32
	res  int32
	try  bool // tried at once
	done bool // done at once: its Op has completed
	// The slot was held since the Start call (Batch.startInto), without
	// a pool reference: the hold goes to the operation's record if it
	// gets one (Op.giveHold), else it ends with the read done at once.
	fromStart bool
}

// mayReadNow reports whether a read of p at off may be tried at once,
// counting down the reads that skip the try after a miss (see tryNow).
func (f *File) mayReadNow(p []byte, off int64) bool {
	if f.direct == nil || !f.regular || off < 0 || len(p) == 0 || len(p) > maxIO {
		return false
	}
	if f.readSkip.Load() > 0 {
		f.readSkip.Add(-1)
		return false
	}
	return true
}

// doNow tries at once the reads among ops that may be (mayReadNow),
// each op's kind, p and off, and completes the Ops of those done in
// full. It returns the others, in order, for the caller to submit: rest
// is ops compacted (an Op done here may be reused at once, by another
// goroutine; neither doNow nor its caller touches it again). reads is
// scratch space, reused between calls (nil: a single read, the File's own
// try).
func (r *Ring) doNow(ops []*Op, reads *[]core.ReadNow) (rest []*Op) {
	// A ring reference for the whole call: the inline ring is the
	// driver's, and Ring.Close closes the driver once references drain.
	refd := false
	var pools callRefs // the pools of the buffers read into, for the call
	var files callRefs // the files read, for the call
	// Released on return (a panic included), so only after the Ops
	// completed: a Close that sees the refs drained finds every operation
	// on them observably complete. (Not through the Op: once complete, it
	// may already be another operation's, on another file.) The files'
	// first, then the pools', then the ring's.
	defer func() {
		if refd {
			files.release()
			pools.release()
			r.refs.Release()
		}
	}()
	md := r.many
	many := md != nil && reads != nil
	var rs []core.ReadNow // grown once a read is tried, and kept in *reads
	n := 0
	for _, o := range ops { // o.now is zero but for a Start's hold (Op.reuse)
		f := o.file
		if o.kind != core.KindRead || !f.mayReadNow(o.p, o.off) {
			continue
		}
		if !refd {
			if !r.refs.Acquire() {
				break // closed: submitting says so
			}
			refd = true
			if many {
				rs = slices.Grow((*reads)[:0], len(ops))
			}
		}
		pool, slot, ok := o.now.pool, o.now.slot, true
		if !o.now.fromStart {
			pool, slot, ok = r.takeBuffer(o.p, &pools)
		}
		if !ok { // a released pool buffer: a checked pool reports it from a record
			continue
		}
		if !files.has(&f.refs) { // closing: submitting says so
			if pool != nil && !o.now.fromStart {
				pool.recycle(slot, pool.Unhold(slot))
			}
			continue
		}
		o.now.try = true
		if !o.now.fromStart {
			o.now.pool, o.now.slot = pool, slot
		}
		if many { // field by field: a struct built and copied stalls the store
			rs = rs[:n+1]
			e := &rs[n]
			e.FD, e.Buf, e.Off = f.fd, o.p, o.off
		}
		n++
	}
	if !refd {
		return ops
	}
	inRS := many && n > 1 && md.TryReadsNow(rs) // the results are in rs, in order
	if !inRS && n > 0 {
		for _, o := range ops {
			if o.now.try {
				f := o.file
				// Only a whole read: one cut short where the cached data
				// ends must not complete so (the driver reads it all), as
				// the inline ring's reads do not.
				res, ok := f.direct.TryNow(core.KindRead, f.fd, f.handle, o.p, o.off, 0)
				o.now.res, o.now.done = res, ok && res == int32(len(o.p))
			}
		}
	}
	var counted *File // the file whose reads done at once are being counted
	var atOnce uint64
	rest = ops[:0]
	j := 0 // the next result in rs
	for _, o := range ops {
		if !o.now.try {
			rest = append(rest, o)
			continue
		}
		// Field by field, before finish: once complete, o is not ours.
		// (The results are read here, not copied into each Op first: one
		// pass over the Ops after the kernel's copies, not two.)
		pool, slot, done, res := o.now.pool, o.now.slot, o.now.done, o.now.res
		if inRS {
			res = rs[j].Res
			done = res == int32(len(o.p))
			j++
		}
		f := o.file
		if f != counted {
			if atOnce > 0 {
				counted.directCtr.AtOnceN(atOnce)
			}
			counted, atOnce = f, 0
		}
		// The kernel is done with the buffer (see Table.Complete), unless
		// the read goes on to the driver holding it since its Start.
		unhold := pool != nil && (done || !o.now.fromStart)
		var recycle bool
		if unhold {
			recycle = pool.Unhold(slot)
		}
		if done {
			atOnce++
			o.n = int(res)
			o.now.fromStart = false
			o.finish() // the last of o this call touches
		} else {
			f.readSkip.Store(tryEvery - 1)
			rest = append(rest, o)
		}
		if unhold {
			pool.recycle(slot, recycle)
		}
	}
	if atOnce > 0 {
		counted.directCtr.AtOnceN(atOnce)
	}
	if many {
		clear(rs) // the buffers are the operations' again
		*reads = rs
	}
	return rest
}

// readNow does o's read of p at off at once if it may and the kernel
// can, and reports whether it did: o has then completed.
func (f *File) readNow(o *Op, kind core.Kind, p []byte, off int64) bool {
	if kind != core.KindRead {
		return false
	}
	o.p, o.off = p, off
	ops := [1]*Op{o}
	return len(f.ring.doNow(ops[:], nil)) == 0
}
