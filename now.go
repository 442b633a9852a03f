package aio

import "github.com/waitforit/aio/internal/core"

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
	try  bool        // tried at once
	ref  *File       // the file whose reference it took, for the run of tries on that file
	done bool        // done at once: its Op has completed
	pool *BufferPool // the pool whose buffer slot it holds, if any
	slot uint32
	res  int32
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

// doNow tries at once the reads among ops that may be (mayReadNow) and
// completes the Ops of those done in full; each op's now says what
// became of it, and those not done are for the caller to submit. reads
// is scratch space, reused between calls.
func (r *Ring) doNow(ops []batched, reads *[]core.ReadNow) {
	n := 0
	for i := range ops {
		s := &ops[i]
		s.now = nowState{}
		if s.kind == core.KindRead && s.o.file.mayReadNow(s.p, s.off) {
			s.now.try = true
			n++
		}
	}
	if n == 0 {
		return
	}
	// A ring reference for the whole call: the inline ring is the
	// driver's, and Ring.Close closes the driver once references drain.
	if !r.refs.Acquire() {
		for i := range ops {
			ops[i].now.try = false
		}
		return // closed: submitting says so
	}
	defer r.refs.Release()
	var pools poolRefs // the pools of the buffers read into, for the call
	defer pools.release()
	var last *File // the file whose reference the run of tries on it holds
	for i := range ops {
		s := &ops[i]
		if !s.now.try {
			continue
		}
		f := s.o.file
		pool, slot, ok := r.takeBuffer(s.p, &pools)
		if !ok { // a released pool buffer: a checked pool reports it from a record
			s.now.try, n = false, n-1
			continue
		}
		if f != last {
			if !f.refs.Acquire() { // closing: submitting says so
				if pool != nil {
					pool.recycle(slot, pool.Unhold(slot))
				}
				s.now.try, n = false, n-1
				continue
			}
			s.now.ref, last = f, f
		}
		s.now.pool, s.now.slot = pool, slot
	}
	if md, ok := r.driver.(core.ManyDoer); ok && n > 1 {
		rs := (*reads)[:0]
		for i := range ops {
			if s := &ops[i]; s.now.try {
				rs = append(rs, core.ReadNow{FD: s.o.file.fd, Buf: s.p, Off: s.off})
			}
		}
		if md.TryReadsNow(rs) {
			j := 0
			for i := range ops {
				if s := &ops[i]; s.now.try {
					s.now.res, s.now.done = rs[j].Res, rs[j].Res == int32(len(s.p))
					j++
				}
			}
		}
		clear(rs) // the buffers are the operations' again
		*reads = rs
	} else {
		for i := range ops {
			if s := &ops[i]; s.now.try {
				f := s.o.file
				// Only a whole read: one cut short where the cached data
				// ends must not complete so (the driver reads it all), as
				// the inline ring's reads do not.
				res, ok := f.direct.TryNow(core.KindRead, f.fd, f.handle, s.p, s.off, 0)
				s.now.res, s.now.done = res, ok && res == int32(len(s.p))
			}
		}
	}
	var counted *File // the file whose reads done at once are being counted
	var atOnce uint64
	for i := range ops {
		s := &ops[i]
		if !s.now.try {
			continue
		}
		f := s.o.file
		if f != counted {
			if atOnce > 0 {
				counted.directCtr.AtOnceN(atOnce)
			}
			counted, atOnce = f, 0
		}
		var recycle bool
		if s.now.pool != nil { // the kernel is done with the buffer (see Table.Complete)
			recycle = s.now.pool.Unhold(s.now.slot)
		}
		if s.now.done {
			atOnce++
			s.o.n = int(s.now.res)
			s.o.finish()
		} else {
			f.readSkip.Store(tryEvery - 1)
		}
		if s.now.pool != nil {
			s.now.pool.recycle(s.now.slot, recycle)
		}
	}
	if atOnce > 0 {
		counted.directCtr.AtOnceN(atOnce)
	}
	// Released only after the Ops completed: a Close that sees the refs
	// drained finds every operation on them observably complete. (Not
	// through the Op: once complete, it may already be another
	// operation's, on another file.) The pools' references go last, with
	// the ring's (deferred).
	for i := range ops {
		if f := ops[i].now.ref; f != nil {
			f.refs.Release()
		}
	}
}

// readNow does o's read of p at off at once if it may and the kernel
// can, and reports whether it did: o has then completed.
func (f *File) readNow(o *Op, kind core.Kind, p []byte, off int64) bool {
	if kind != core.KindRead {
		return false
	}
	ops := [1]batched{{o: o, kind: kind, p: p, off: off}}
	f.ring.doNow(ops[:], nil)
	return ops[0].now.done
}
