package main

import (
	"fmt"
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
func depthFloors(depth int) []floorJob {
	return []floorJob{
		{name: "inline", run: func(rc *runCtx) (runStats, error) { return runDepthInline(rc, depth) }},
		{name: "pread", run: func(rc *runCtx) (runStats, error) { return runDepthPread(rc, depth) }},
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
