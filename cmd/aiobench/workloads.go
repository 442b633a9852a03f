package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waitforit/aio"
)

// workload is one line group of the table: something done the same way by
// every implementation.
type workload struct {
	name     string                  // for -only and the table
	title    string                  // one line: what is measured, and how the baseline does it
	titleFor func(cfg config) string // if set, the title, for titles that depend on flags
	weight   float64                 // a run lasts weight * -duration
	cached   bool                    // reads the data file and needs it resident
	noRatio  bool                    // the ops/s of its implementations are not comparable
	latRatio bool                    // the latencies are what it measures: show p50 and p99 against std's
	needs    needs                   // files the environment must prepare
	fio      []fioJob
	floors   []floorJob // run with -floors
	run      func(rc *runCtx) (runStats, error)
	opsUnits string // what one op is, for the details
}

// needs says which files a workload uses, so the environment creates only those.
type needs struct{ dataFile, writeFile, coldFile bool }

// workloadList returns the suite in the order it runs.
func workloadList() []*workload {
	return []*workload{
		{
			name: "read-1", title: "cached 4 KiB random ReadAt, 1 caller",
			weight: 1, cached: true, needs: needs{dataFile: true},
			run:      func(rc *runCtx) (runStats, error) { return runReadAt(rc, 1, 0) },
			fio:      []fioJob{fioPsync(false)},
			opsUnits: "one verified 4 KiB read",
		},
		{
			name: "read-32", title: "cached 4 KiB random ReadAt, 32 goroutines",
			weight: 1, cached: true, needs: needs{dataFile: true},
			run:      func(rc *runCtx) (runStats, error) { return runReadAt(rc, 32, 0) },
			opsUnits: "one verified 4 KiB read",
		},
		{
			name: "op-32", title: "cached 4 KiB random reads, Op API: 1 goroutine, 32 in flight (std: 32 goroutines)",
			weight: 1, cached: true, needs: needs{dataFile: true},
			run:      func(rc *runCtx) (runStats, error) { return runDepth(rc, 32, 0) },
			fio:      []fioJob{fioURing(false)},
			floors:   depthFloors(32),
			opsUnits: "one verified 4 KiB read",
		},
		{
			name: "direct-32", title: "O_DIRECT 4 KiB random reads, depth 32 (aio: Op API from 1 goroutine; std: 32 goroutines)",
			weight: 1, needs: needs{dataFile: true},
			run:      func(rc *runCtx) (runStats, error) { return runDepth(rc, 32, directIOFlag) },
			fio:      []fioJob{fioURing(true), fioPsync(true)},
			opsUnits: "one verified 4 KiB read from the disk",
		},
		{
			name: "cold-32",
			titleFor: func(cfg config) string {
				return fmt.Sprintf("4 KiB random buffered ReadAt of a %s file evicted from the page cache before each run (fsync, posix_fadvise DONTNEED, checked with mincore), 32 goroutines (std: os.File)", fmtBytes(cfg.coldSize))
			},
			weight: 1, needs: needs{coldFile: true},
			run:      func(rc *runCtx) (runStats, error) { return runCold(rc, 32) },
			opsUnits: "one verified 4 KiB read, from the disk unless an earlier read of the run brought its page in",
		},
		{
			name: "write-fsync", title: "4 KiB random writes, fsync after every 16th, depth 1",
			weight: 1, needs: needs{writeFile: true},
			run:      runWriteSync,
			opsUnits: "one 4 KiB write (every 16th latency includes its fsync)",
		},
		{
			name: "pingpong", title: "64-byte ping-pong between 2 goroutines over 2 pipes",
			weight:   1,
			run:      runPingPong,
			opsUnits: "one round trip",
		},
		{
			name: "cancel-storm", title: "reads on 16 pipes cancelled at random moments, racing writers (std: deadlines)",
			weight: 0.6, noRatio: true,
			run:      runCancelStorm,
			opsUnits: "one read, whatever its outcome",
		},
		{
			name:   "cancel-latency",
			title:  "read blocked on an empty pipe, cancelled by an idle goroutine (sleeps ~200 µs on a timer first): aio a context (ReadContext), std SetReadDeadline(past) on an *os.File",
			weight: 1, noRatio: true, latRatio: true,
			run:      func(rc *runCtx) (runStats, error) { return runCancelLatency(rc, cancelByContext) },
			opsUnits: "one cancelled read; latency is from the cancel call to the blocked call's return",
		},
		{
			name:   "cancel-latency-ctx",
			title:  "as cancel-latency, std cancelled by a context too, the way a Go program makes an *os.File read cancellable: context.AfterFunc(ctx, SetReadDeadline(past))",
			weight: 1, noRatio: true, latRatio: true,
			run:      func(rc *runCtx) (runStats, error) { return runCancelLatency(rc, cancelStdContext) },
			opsUnits: "one cancelled read; latency is from the cancel call to the blocked call's return",
		},
		{
			name:   "cancel-latency-op",
			title:  "as cancel-latency, aio with the Op API: Op.Cancel from the idle goroutine, Op.Wait blocked in the reader (std: the same deadline)",
			weight: 1, noRatio: true, latRatio: true,
			run:      func(rc *runCtx) (runStats, error) { return runCancelLatency(rc, cancelByOp) },
			opsUnits: "one cancelled read; latency is from the cancel call to Wait's return",
		},
		{
			name:   "cancel-latency-spin",
			title:  "read blocked on an empty pipe, the canceller SPINS 10 µs first (its thread stays awake): aio Op.Cancel then Wait in one goroutine, std SetReadDeadline(past) beside a blocked Read",
			weight: 0.4, noRatio: true, latRatio: true,
			run:      runCancelLatencySpin,
			opsUnits: "one cancelled read; latency is cancel to completion",
		},
		{
			name: "tcp-echo-1", title: "64-byte echo over 1 loopback TCP connection (std: net)",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runTCPEcho(rc, 1) },
			opsUnits: "one verified round trip",
		},
		{
			name: "tcp-echo", title: "64-byte echo over 64 loopback TCP connections, server and clients alike (std: net)",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runTCPEcho(rc, 64) },
			opsUnits: "one verified round trip on one connection",
		},
		{
			name: "tcp-echo-1000", title: "64-byte echo over 1000 loopback TCP connections, a goroutine each, server and clients alike (std: net)",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runTCPEcho(rc, 1000) },
			opsUnits: "one verified round trip on one connection",
		},
		{
			name: "http", title: "net/http Server, 128-byte responses to 64 keep-alive clients (std net/http clients in the process, a connection each); aio: on a Ring.Listen listener, std: net.Listen",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runHTTP(rc, 64) },
			opsUnits: "one GET, its body verified",
		},
		{
			name: "serve-file-64k", title: "net/http serving a cached 64 KiB file to 64 keep-alive clients; aio: http.FileServerFS(Ring.DirFS) on a Ring.Listen listener, std: http.FileServer(http.Dir) on net (sendfile)",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runServeFile(rc, 64, 64<<10) },
			opsUnits: "one GET of the file, its body verified",
		},
		{
			name: "serve-file-1m", title: "as serve-file-64k with a 1 MiB file",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runServeFile(rc, 64, 1<<20) },
			opsUnits: "one GET of the file, its body verified",
		},
		{
			name: "proxy", title: "TCP proxy, io.Copy both ways, 64 connection pairs, 16 KiB echoed messages (clients and echo server: std net); aio: the proxy's Listen and Dial, std: net (splice)",
			weight:   1,
			run:      func(rc *runCtx) (runStats, error) { return runProxy(rc, 64) },
			opsUnits: "one verified 16 KiB round trip through the proxy",
		},
	}
}

// pendingWorkloads are part of the suite but cannot run yet, with why
// (none at the moment: the table lists them as "not yet").
func pendingWorkloads() map[string]string { return nil }

// impl is one implementation under test.
type impl struct {
	Name    string `json:"name"`              // "aio-uring", "aio-portable", "aio-iocp", "std"
	Backend string `json:"backend,omitempty"` // the aio backend; "" for the standard library
	Err     string `json:"unavailable,omitempty"`

	// floor, for a floor row (-floors), runs the workload's floorJob
	// instead of the workload.
	floor func(rc *runCtx) (runStats, error)
}

// isStd reports whether im is the standard library baseline.
func (im impl) isStd() bool { return im.Backend == "" && im.floor == nil }

// floorJob is a workload's floor (-floors): its operations made by the
// system calls a library that cost nothing would make, with nothing of
// aio's, in the workload's own harness, interleaved in its rounds like
// an implementation. Its "x std" columns are the most any library could
// reach on this machine in that shape.
type floorJob struct {
	name string // the row is "floor " + name
	run  func(rc *runCtx) (runStats, error)
}

// runStats is what a workload's workers counted in the measured window.
type runStats struct {
	ops   uint64
	hist  *histogram
	extra map[string]float64
}

// notApplicable is the error of a workload that cannot run on an
// implementation or machine (O_DIRECT on tmpfs, say): a table entry, not
// a failure.
type notApplicable struct{ reason string }

func (e *notApplicable) Error() string { return e.reason }

// errHung means workers did not stop: some operation never completed. The
// tool cannot safely close anything after that and stops at once.
var errHung = errors.New("workers did not stop after the run ended: an operation never completed")

// hangTimeout bounds how long stopping a run's workers may take.
const hangTimeout = 20 * time.Second

// runCtx is one run: one workload, one implementation, one round.
type runCtx struct {
	ctx      context.Context
	env      *env
	impl     impl
	ring     *aio.Ring // nil for the standard library
	round    int
	duration time.Duration
	label    string // "read-1/aio-uring round 2", for messages

	begin, end sample
	// The ring's counters at begin and end (aio only), for the mech column.
	ringBegin, ringEnd aio.Stats
	closers            []func()
}

// fail records an invariant failure of this run.
func (rc *runCtx) fail(format string, args ...any) {
	rc.env.checks.fail(rc.label+": "+format, args...)
}

// onClose registers f to run when the run is over (in reverse order),
// unless it hung.
func (rc *runCtx) onClose(f func()) { rc.closers = append(rc.closers, f) }

// closeFile closes c once the run is over and reports a failing Close.
func (rc *runCtx) closeFile(name string, c io.Closer) {
	rc.onClose(func() {
		if err := c.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			rc.fail("close %s: %v", name, err)
		}
	})
}

// fileIO is what the file workloads need; *os.File and *aio.File have it.
type fileIO interface {
	io.ReaderAt
	io.WriterAt
	io.Reader
	io.Writer
	io.Closer
	Sync() error
}

// open opens name with flag through the implementation under test and
// closes it when the run is over.
func (rc *runCtx) open(name string, flag int) (fileIO, *aio.File, error) {
	if rc.ring == nil {
		f, err := os.OpenFile(name, flag, 0)
		if err != nil {
			return nil, nil, err
		}
		rc.closeFile(name, f)
		return f, nil, nil
	}
	f, err := rc.ring.Open(rc.ctx, name, flag, 0)
	if err != nil {
		return nil, nil, err
	}
	rc.closeFile(name, f)
	return f, f, nil
}

// worker is one goroutine of a run, with everything it records.
type worker struct {
	id     int
	ops    uint64
	hist   *histogram
	rng    *rand.Rand
	stop   *atomic.Bool
	stopCh <-chan struct{} // closed when the run ends
	base   clockBase       // shared by all workers of the run
}

// stopped reports whether the run has ended.
func (w *worker) stopped() bool { return w.stop.Load() }

// now is the time since the run's base: one monotonic clock read.
func (w *worker) now() time.Duration { return since(w.base) }

// spin busy-waits for d.
func (w *worker) spin(d time.Duration) {
	for t := w.now(); w.now()-t < d; {
	}
}

// runWorkers runs body on n goroutines for the run's duration and
// measures them: the window opens when they are released together and
// closes when the last has returned after the stop. A body loops until
// w.stopped() and returns an error only for a failure, which stops the
// others too. onStop, if not nil, runs right after the stop is signalled.
func (rc *runCtx) runWorkers(n int, onStop func(), body func(w *worker) error) (runStats, error) {
	var stop atomic.Bool
	stopCh := make(chan struct{})
	start := make(chan struct{})
	allDone := make(chan struct{})
	errs := make([]error, n)
	workers := make([]*worker, n)
	base := newClockBase()
	for i := range workers {
		workers[i] = &worker{
			id: i, hist: new(histogram), stop: &stop, stopCh: stopCh, base: base,
			rng: rand.New(rand.NewPCG(uint64(rc.round)<<32|uint64(i), uint64(time.Now().UnixNano()))),
		}
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	failedCh := make(chan struct{})
	for _, w := range workers {
		wg.Go(func() {
			<-start
			if err := body(w); err != nil {
				errs[w.id] = err
				if failed.CompareAndSwap(false, true) {
					close(failedCh)
				}
			}
		})
	}
	go func() { wg.Wait(); close(allDone) }()

	if rc.ring != nil {
		rc.ringBegin = rc.ring.Stats()
	}
	rc.begin = takeSample()
	// The timer starts after the sample: on a loaded machine taking it
	// (ReadMemStats stops the world) can outlast a short run.
	timer := time.NewTimer(rc.duration)
	defer timer.Stop()
	close(start)
	select {
	case <-timer.C:
	case <-rc.ctx.Done():
	case <-failedCh:
	case <-allDone:
	}
	stop.Store(true)
	close(stopCh)
	if onStop != nil {
		onStop()
	}
	select {
	case <-allDone:
	case <-time.After(hangTimeout):
		return runStats{}, errHung
	}
	rc.end = endSample()
	if rc.ring != nil {
		rc.ringEnd = rc.ring.Stats()
	}

	st := runStats{hist: new(histogram)}
	for _, w := range workers {
		st.ops += w.ops
		st.hist.merge(w.hist)
	}
	return st, errors.Join(errs...)
}

// checker collects invariant failures from every run. It is safe for
// concurrent use.
type checker struct {
	mu       sync.Mutex
	failures []string
	dropped  int
}

// maxFailures bounds the messages kept; the rest are only counted.
const maxFailures = 50

// fail records one failure.
func (c *checker) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) >= maxFailures {
		c.dropped++
		return
	}
	c.failures = append(c.failures, fmt.Sprintf(format, args...))
}

// list returns the failures so far.
func (c *checker) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.failures...)
	if c.dropped > 0 {
		out = append(out, fmt.Sprintf("... and %d more failures", c.dropped))
	}
	return out
}

// checkRingStats checks the counters of a ring whose files are all closed:
// everything submitted has completed and nothing is in flight.
func checkRingStats(s aio.Stats) error {
	if s.Submitted != s.Completed || s.InFlight != 0 {
		return fmt.Errorf("ring stats after the run: submitted %d (direct %d, readiness %d, driver %d), completed %d, in flight %d; want submitted == completed and nothing in flight",
			s.Submitted, s.Direct, s.Readiness, s.Driver, s.Completed, s.InFlight)
	}
	return nil
}
