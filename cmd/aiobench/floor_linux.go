package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	abi "github.com/waitforit/aio/internal/uring"
)

// depthFloors are op-32's floors (-floors): its reads made by the system
// calls a library that costs nothing would make, with nothing of aio's
// (aio's io_uring ABI package aside), in runDepth's harness: one
// goroutine, depth reads in flight, each read's latency from its start
// to its completion, each read checked (unless -noverify).
//
//	inline  aio's shape on io_uring: opBatch reads flagged RWF_NOWAIT
//	        per io_uring_enter of a plain ring, waited for in the same
//	        call, so nothing stays in flight on a thread that may exit
//	        (CONTRACT.md rule 3).
//	pread   aio's shape without io_uring (the portable backend): one
//	        preadv2(RWF_NOWAIT) after another.
//	guarded inline, plus the atomic instructions that the guarantees of
//	        aio's Op API take per read, and nothing else of aio's (see
//	        runDepthGuarded): what any library keeping them would spend.
func depthFloors(depth int) []floorJob {
	return []floorJob{
		{name: "inline", run: func(rc *runCtx) (runStats, error) { return runDepthInline(rc, depth) }},
		{name: "pread", run: func(rc *runCtx) (runStats, error) { return runDepthPread(rc, depth) }},
		{name: "guarded", run: func(rc *runCtx) (runStats, error) { return runDepthGuarded(rc, depth) }},
	}
}

// openFloorFile opens the data file for a floor, closed after the run.
func openFloorFile(rc *runCtx) (int, error) {
	fd, err := unix.Open(rc.env.dataName, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %v", rc.env.dataName, err)
	}
	rc.onClose(func() { unix.Close(fd) })
	return fd, nil
}

func runDepthInline(rc *runCtx, depth int) (runStats, error) {
	fd, err := openFloorFile(rc)
	if err != nil {
		return runStats{}, err
	}
	p := abi.Params{Flags: abi.SetupClamp | abi.SetupSubmitAll}
	r, err := abi.Setup(uint32(2*depth), &p)
	if err != nil {
		return runStats{}, &notApplicable{reason: fmt.Sprintf("io_uring_setup: %v", err)}
	}
	rc.onClose(func() { r.Close() })
	bufs := alignedBlocks(depth)
	blocks := uint64(rc.env.blocks)
	slotBlock := make([]uint64, depth)
	started := make([]time.Duration, depth)
	return rc.runWorkers(1, nil, func(w *worker) error {
		for slot := 0; !w.stopped(); {
			for range opBatch {
				b := w.rng.Uint64N(blocks)
				slotBlock[slot], started[slot] = b, w.now()
				sqe := r.GetSQE()
				sqe.PrepRead(int32(fd), bufs[slot], b*blockSize)
				sqe.OpFlags = unix.RWF_NOWAIT
				sqe.UserData = uint64(slot)
				slot = (slot + 1) % depth
			}
			r.Publish()
			toSubmit, got := uint32(opBatch), uint32(0)
			for got < opBatch {
				if _, err := r.Enter(toSubmit, opBatch-got, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
					return fmt.Errorf("io_uring_enter: %v", err)
				}
				toSubmit = r.SQPending()
				ready := r.CQReady()
				for i := range ready {
					c := r.PeekCQE(i)
					s := int(c.UserData)
					w.hist.record(w.now() - started[s])
					// Every read of cached data is done whole at once;
					// one that would wait is what the floor is without.
					if c.Res != blockSize {
						return fmt.Errorf("read of block %d: res %d (not cached, or would block)", slotBlock[s], c.Res)
					}
					if err := rc.verifyRead(bufs[s], slotBlock[s]); err != nil {
						return err
					}
					w.ops++
				}
				r.Advance(ready)
				got += ready
			}
		}
		return nil
	})
}

func runDepthPread(rc *runCtx, depth int) (runStats, error) {
	fd, err := openFloorFile(rc)
	if err != nil {
		return runStats{}, err
	}
	bufs := alignedBlocks(depth)
	blocks := uint64(rc.env.blocks)
	iov := make([][]byte, 1)
	return rc.runWorkers(1, nil, func(w *worker) error {
		for slot := 0; !w.stopped(); slot = (slot + 1) % depth {
			b := w.rng.Uint64N(blocks)
			t0 := w.now()
			iov[0] = bufs[slot]
			n, err := unix.Preadv2(fd, iov, int64(b*blockSize), unix.RWF_NOWAIT)
			w.hist.record(w.now() - t0)
			if n != blockSize {
				return fmt.Errorf("preadv2 of block %d: n=%d, err=%v (not cached, or would block)", b, n, err)
			}
			if err := rc.verifyRead(bufs[slot], b); err != nil {
				return err
			}
			w.ops++
		}
		return nil
	})
}

// guardOp is the part of an aio.Op that its guarantees need, laid out as
// aio lays it out (an Op is 192 bytes, its state word first).
type guardOp struct {
	state atomic.Uint32 // guardFired, or guardStarted while in flight
	slot  int
	next  *guardOp // the batch's list
	_     [192 - 24]byte
}

const (
	guardStarted = 1
	guardFired   = 2
)

// guardSlot is a BufferPool buffer's state word, one cache line each as
// in aio: bit 31 held by its Buffer, the low bits operations in flight.
type guardSlot struct {
	state atomic.Uint64
	_     [56]byte
}

const guardHeld = 1 << 31

// runDepthGuarded is runDepthInline plus what the guarantees of aio's Op
// API cost per read in atomic instructions, which nothing can take
// away from a library that keeps them, and nothing else:
//
//   - an Op is reused only if its last operation completed, and a
//     watcher on another goroutine may look at it (Wait, Done): starting
//     takes it with a compare-and-swap, and completing publishes the
//     result with another;
//   - a Batch may be started into and submitted from several
//     goroutines: a start pushes the Op onto the batch's list with a
//     compare-and-swap (Submit takes the list with one swap per batch);
//   - a BufferPool buffer released while a read into it is in flight is
//     recycled only after that read: the read holds the buffer's slot
//     (a compare-and-swap, as it must see the buffer still held) and
//     lets it go (an add).
//
// aio takes exactly these, and spends the rest on its own code.
func runDepthGuarded(rc *runCtx, depth int) (runStats, error) {
	fd, err := openFloorFile(rc)
	if err != nil {
		return runStats{}, err
	}
	p := abi.Params{Flags: abi.SetupClamp | abi.SetupSubmitAll}
	r, err := abi.Setup(uint32(2*depth), &p)
	if err != nil {
		return runStats{}, &notApplicable{reason: fmt.Sprintf("io_uring_setup: %v", err)}
	}
	rc.onClose(func() { r.Close() })
	bufs := alignedBlocks(depth)
	ops := make([]guardOp, depth)
	slots := make([]guardSlot, depth)
	for i := range ops {
		ops[i].state.Store(guardFired)
		ops[i].slot = i
		slots[i].state.Store(guardHeld) // the buffers are held throughout, as op-32's are
	}
	var head atomic.Pointer[guardOp]
	blocks := uint64(rc.env.blocks)
	slotBlock := make([]uint64, depth)
	started := make([]time.Duration, depth)
	return rc.runWorkers(1, nil, func(w *worker) error {
		for slot := 0; !w.stopped(); {
			for range opBatch { // the starts
				o := &ops[slot]
				if !o.state.CompareAndSwap(guardFired, guardStarted) {
					return fmt.Errorf("op %d reused in flight", slot)
				}
				slotBlock[slot], started[slot] = w.rng.Uint64N(blocks), w.now()
				for {
					old := head.Load()
					o.next = old
					if head.CompareAndSwap(old, o) {
						break
					}
				}
				slot = (slot + 1) % depth
			}
			// The Submit: the batch's reads, each holding its buffer.
			for o := head.Swap(nil); o != nil; o = o.next {
				s := o.slot
				if v := slots[s].state.Load(); v&guardHeld == 0 || !slots[s].state.CompareAndSwap(v, v+1) {
					return fmt.Errorf("buffer %d not held", s)
				}
				sqe := r.GetSQE()
				sqe.PrepRead(int32(fd), bufs[s], slotBlock[s]*blockSize)
				sqe.OpFlags = unix.RWF_NOWAIT
				sqe.UserData = uint64(s)
			}
			r.Publish()
			toSubmit, got := uint32(opBatch), uint32(0)
			for got < opBatch {
				if _, err := r.Enter(toSubmit, opBatch-got, abi.EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
					return fmt.Errorf("io_uring_enter: %v", err)
				}
				toSubmit = r.SQPending()
				ready := r.CQReady()
				for i := range ready {
					c := r.PeekCQE(i)
					s := int(c.UserData)
					slots[s].state.Add(^uint64(0)) // the kernel is done with the buffer
					if !ops[s].state.CompareAndSwap(guardStarted, guardFired) {
						return fmt.Errorf("op %d completed twice", s)
					}
					w.hist.record(w.now() - started[s])
					if c.Res != blockSize {
						return fmt.Errorf("read of block %d: res %d (not cached, or would block)", slotBlock[s], c.Res)
					}
					if err := rc.verifyRead(bufs[s], slotBlock[s]); err != nil {
						return err
					}
					w.ops++
				}
				r.Advance(ready)
				got += ready
			}
		}
		return nil
	})
}
