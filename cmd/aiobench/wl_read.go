package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/waitforit/aio"
)

// openDataFile opens the data file for reading with extra flags (0 or
// O_DIRECT). O_DIRECT on a RAM file system, or an O_DIRECT open that the
// file system refuses, makes the workload not applicable rather than
// failed. (tmpfs accepts O_DIRECT since Linux 6.6, as a no-op: the reads
// would measure memory and call it a disk.)
func openDataFile(rc *runCtx, extra int) (fileIO, *aio.File, error) {
	if extra != 0 {
		if err := directIOUsable(rc.env); err != nil {
			return nil, nil, &notApplicable{reason: err.Error()}
		}
	}
	f, af, err := rc.open(rc.env.dataName, os.O_RDONLY|extra)
	if err != nil && extra != 0 {
		return nil, nil, &notApplicable{reason: fmt.Sprintf("O_DIRECT open failed in %s: %v", rc.env.dir, err)}
	}
	return f, af, err
}

// runReadAt: callers goroutines each doing random 4 KiB ReadAt calls on
// one shared file, every block verified.
func runReadAt(rc *runCtx, callers int, extraFlags int) (runStats, error) {
	f, _, err := openDataFile(rc, extraFlags)
	if err != nil {
		return runStats{}, err
	}
	return readAtWorkers(rc, f, uint64(rc.env.blocks), callers)
}

// verifyRead checks that buf holds block of the data file, unless
// -noverify said not to.
func (rc *runCtx) verifyRead(buf []byte, block uint64) error {
	if rc.env.cfg.noVerify {
		return nil
	}
	return rc.env.pattern.verify(buf, block, 0)
}

// readAtWorkers runs callers goroutines doing random 4 KiB ReadAt calls
// on f, a file of blocks blocks of the pattern, every block verified.
func readAtWorkers(rc *runCtx, f io.ReaderAt, blocks uint64, callers int) (runStats, error) {
	bufs := alignedBlocks(callers)
	return rc.runWorkers(callers, nil, func(w *worker) error {
		buf := bufs[w.id]
		for !w.stopped() {
			b := w.rng.Uint64N(blocks)
			t0 := w.now()
			n, err := f.ReadAt(buf, int64(b)*blockSize)
			w.hist.record(w.now() - t0)
			if err != nil || n != blockSize {
				return fmt.Errorf("ReadAt block %d: n=%d, err=%v", b, n, err)
			}
			if err := rc.verifyRead(buf, b); err != nil {
				return err
			}
			w.ops++
		}
		return nil
	})
}

// runDepth keeps depth reads in flight. aio does it the way the Op API is
// meant for: one goroutine, a ring of depth slots, StartReadAt into a
// free slot and Wait on the next (refilling first any other slot already
// Completed, so a slow read does not keep the queue short), the starts
// gathered in a Batch that is
// submitted every opBatch reads (one system call for them), into the
// buffers of a BufferPool (registered: io_uring's fixed buffers, as fio
// uses). The standard library has no such API, so its baseline is depth
// goroutines doing ReadAt.
func runDepth(rc *runCtx, depth int, extraFlags int) (runStats, error) {
	if rc.ring == nil {
		return runReadAt(rc, depth, extraFlags)
	}
	_, f, err := openDataFile(rc, extraFlags)
	if err != nil {
		return runStats{}, err
	}
	pool, err := rc.ring.NewBufferPool(blockSize, depth)
	if err != nil {
		return runStats{}, err
	}
	defer pool.Close() // after every read below has completed
	bufs := make([][]byte, depth)
	for i := range bufs {
		b, _ := pool.TryGet()
		defer b.Release()
		bufs[i] = b.Bytes()
	}
	ops := make([]aio.Op, depth) // reused: no allocation per read
	live := make([]bool, depth)
	slotBlock := make([]uint64, depth)
	started := make([]time.Duration, depth)
	blocks := uint64(rc.env.blocks)
	batch := rc.ring.NewBatch()
	return rc.runWorkers(1, nil, func(w *worker) error {
		// complete waits for slot s and checks its read. Every op started
		// is waited for, failure or not: its buffer is the kernel's until then.
		var firstErr error
		complete := func(s int) {
			n, err := ops[s].Wait()
			w.hist.record(w.now() - started[s])
			live[s] = false
			if firstErr != nil {
				return
			}
			if err != nil || n != blockSize {
				firstErr = fmt.Errorf("StartReadAt block %d: n=%d, err=%v", slotBlock[s], n, err)
				return
			}
			if err := rc.verifyRead(bufs[s], slotBlock[s]); err != nil {
				firstErr = err
				return
			}
			w.ops++
		}
		starts, unsubmitted := 0, 0
		submit := func() {
			if unsubmitted == 0 {
				return
			}
			unsubmitted = 0
			if err := batch.Submit(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		start := func(s int) bool {
			b := w.rng.Uint64N(blocks)
			slotBlock[s] = b
			started[s] = w.now()
			if err := batch.StartReadAtOp(&ops[s], f, bufs[s], int64(b)*blockSize); err != nil {
				firstErr = fmt.Errorf("StartReadAt block %d: %v", b, err)
				return false
			}
			live[s] = true
			unsubmitted++
			if starts++; starts%opBatch == 0 {
				submit()
			}
			return true
		}
		for i := 0; ; i++ {
			s := i % depth
			if live[s] {
				if !ops[s].Completed() {
					// Refill the slots that are done before waiting for
					// this one, as fio does: a slow read must not hold the
					// others' places in the queue.
					for t := range depth {
						if t != s && live[t] && ops[t].Completed() {
							complete(t)
							if w.stopped() || firstErr != nil || !start(t) {
								break
							}
						}
					}
					// About to wait: what is gathered goes to the kernel
					// first (as fio commits before it waits), or the
					// queue would be short by up to opBatch-1 reads.
					submit()
				}
				complete(s)
			}
			if w.stopped() || firstErr != nil || !start(s) {
				break
			}
		}
		submit()
		for s := range ops {
			if live[s] {
				complete(s)
			}
		}
		return firstErr
	})
}

// opBatch is how many reads runDepth gathers per Batch.Submit.
const opBatch = 16

// directIOUsable says why O_DIRECT reads cannot measure a disk here, if so.
func directIOUsable(e *env) error {
	if errDirectIO != nil {
		return errDirectIO
	}
	if e.ramFS {
		return fmt.Errorf("%s is a RAM file system: O_DIRECT reads would not reach a disk (use -dir)", e.dir)
	}
	return nil
}
