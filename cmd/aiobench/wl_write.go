package main

import (
	"fmt"
	"os"
)

// syncEvery is how many writes go between two fsyncs.
const syncEvery = 16

// writeState is what the write workload knows about its file: the
// generation last written to each block, across every run of every
// implementation (runs are sequential, and each checks the file after
// itself).
type writeState struct {
	name    string
	blocks  int64
	gens    []uint64 // generation last written to each block; 0: the initial fill
	nextGen uint64
	last    []uint64 // blocks written most recently, checked first
}

// runWriteSync: one goroutine writes random 4 KiB blocks, each stamped
// with a new generation, and syncs after every 16th; afterwards a sample
// of blocks (the last ones written and random others) is read back with
// plain pread and checked against what was written last.
func runWriteSync(rc *runCtx) (runStats, error) {
	ws := rc.env.write
	f, _, err := rc.open(ws.name, os.O_RDWR)
	if err != nil {
		return runStats{}, err
	}
	buf := alignedBlocks(1)[0]
	p := rc.env.pattern
	ws.last = ws.last[:0]
	st, err := rc.runWorkers(1, nil, func(w *worker) error {
		pending := 0
		for !w.stopped() {
			b := w.rng.Uint64N(uint64(ws.blocks))
			ws.nextGen++
			gen := ws.nextGen
			p.fill(buf, b, gen)
			t0 := w.now()
			n, err := f.WriteAt(buf, int64(b)*blockSize)
			if err != nil || n != blockSize {
				return fmt.Errorf("WriteAt block %d: n=%d, err=%v", b, n, err)
			}
			ws.gens[b] = gen
			if len(ws.last) < 64 {
				ws.last = append(ws.last, b)
			} else {
				ws.last[ws.nextGen%64] = b
			}
			if pending++; pending == syncEvery {
				if err := f.Sync(); err != nil {
					return fmt.Errorf("sync: %v", err)
				}
				pending = 0
			}
			w.hist.record(w.now() - t0)
			w.ops++
		}
		if pending > 0 {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("sync: %v", err)
			}
		}
		return nil
	})
	if err != nil || rc.ctx.Err() != nil {
		return st, err
	}
	return st, verifyWrites(rc, ws)
}

// verifyWrites reads back the blocks written last and as many random
// others through a separate plain descriptor.
func verifyWrites(rc *runCtx, ws *writeState) error {
	f, err := os.Open(ws.name)
	if err != nil {
		return err
	}
	defer f.Close()
	sample := append([]uint64(nil), ws.last...)
	for i := range 256 {
		sample = append(sample, uint64(i)*uint64(ws.blocks)/256)
	}
	buf := make([]byte, blockSize)
	for _, b := range sample {
		if n, err := f.ReadAt(buf, int64(b)*blockSize); err != nil || n != blockSize {
			return fmt.Errorf("read-back of block %d: n=%d, err=%v", b, n, err)
		}
		if err := rc.env.pattern.verify(buf, b, ws.gens[b]); err != nil {
			return fmt.Errorf("read-back after the run: %v", err)
		}
	}
	return nil
}
