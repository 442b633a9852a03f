package aio

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/waitforit/aio/internal/core"
)

// Config configures a Ring.
type Config struct {
	// Entries is the submission queue size; 0 means a sensible default.
	// More operations than this may be in flight: submitters wait for
	// queue space, they never fail for lack of it.
	Entries int
	// Backend is "", "uring", "portable", ...; "" means the AIO_BACKEND
	// environment variable, else the best available.
	Backend string
	// Workers bounds the threads a backend may use for blocking calls
	// (the portable backend's regular-file I/O); 0 means a sensible default.
	// It bounds them while they make progress: when calls wait in the
	// queue and a whole second passes with none taken (so one to two
	// seconds after the queue stops: every thread waits in a call that
	// waits for another, such as an open of a FIFO waiting for its other
	// end), each waiting call gets a thread of its own, as with os, up to
	// 1024 threads, until the queue is empty again.
	Workers int
	// Seed is the simulator's seed (Backend "sim"): the same seed and the
	// same sequence of calls give the same outcomes. 0 means the
	// AIO_SIM_SEED environment variable, else a random seed, which is
	// reported on standard error and by Ring.Seed.
	Seed int64
	// Faults are the rates at which the simulator injects errors (Backend
	// "sim" only); the zero value injects none.
	Faults SimFaults
	// Check turns on checked ownership on every backend: the buffer of
	// each write is checksummed at submission and at completion, and a
	// caller that changed it in flight gets a panic naming the operation
	// and where it was started. AIO_CHECK=1 in the environment does the
	// same. It costs a CRC-32C of each written buffer, twice, and a stack
	// trace per write (BenchmarkCheck); it is off by default. A BufferPool
	// of the ring also panics if it would hand out a buffer that an
	// operation started after its Release still uses. (The simulator
	// always checks, more closely: it poisons read buffers too.)
	Check bool
}

// SimFaults are the rates, from 0 to 1, at which the simulator fails an
// operation with an error a real kernel may return, instead of running
// it (nothing is written). They apply to writes to files (not pipes or
// sockets) and to Sync. The simulator's other decisions (completion order,
// short transfers on streams, the outcome of every cancel) need no
// setting: it makes them from its seed whatever the rates.
type SimFaults struct {
	ENOSPC float64 // no space left on device (syscall.ENOSPC)
	EIO    float64 // an input/output error (syscall.EIO)
}

// Stats are a ring's counters since it was created.
type Stats struct {
	Submitted, Completed, Canceled, InFlight uint64 // Canceled: completions that ended cancelled
	CancelRacesLost                          uint64 // cancel requested, but the op completed anyway

	// Which mechanism served the operations submitted (they add up to
	// Submitted; see mechanism.go): Direct, done at once in the caller
	// without waiting (a read of cached data); Readiness, the caller's
	// non-blocking system call, waiting in Go's netpoller if it had to (a
	// socket's or a pipe's blocking calls); Driver, the backend's driver
	// (the ring, the portable backend's workers, IOCP, the simulator).
	Direct, Readiness, Driver uint64

	// What the transfers (ReadFrom, WriteTo; see mechanism.go) moved:
	// ZeroCopyBytes by the kernel alone (sendfile, splice,
	// copy_file_range), CopiedBytes through a buffer in userspace.
	ZeroCopyBytes, CopiedBytes uint64
}

// Ring is an asynchronous I/O instance: an io_uring, or another backend
// keeping the same contract. It is safe for concurrent use. Close it when
// done: Close cancels what is in flight and waits for every completion.
type Ring struct {
	table   *core.Table
	driver  core.Driver
	many    core.ManyDoer // driver's, if it can do many reads at once (now.go)
	kindsOK atomic.Uint64 // bit k: the driver supports kind k (learnKinds)
	refs    core.Refs     // one per operation in flight
	closeMu sync.Mutex
	closed  bool

	noDirect  bool // files made from now on submit every operation (tests)
	dirfsWalk bool // DirFSs made from now on resolve names themselves, without openat2 (tests)

	poolMu sync.Mutex                    // serialises changes to pools
	pools  atomic.Pointer[[]*BufferPool] // open buffer pools; nil while there are none

	polls  pollSet       // the live descriptors of the readiness path (poll_unix.go)
	xfer   transferState // ReadFrom and WriteTo: counters, splice pipes (transfer.go)
	atOnce fsNowState    // file system calls done at once (fsnow_linux.go)
}

// New creates a Ring with the backend cfg asks for.
func New(cfg Config) (*Ring, error) {
	name := cfg.Backend
	if name == "" {
		name = os.Getenv("AIO_BACKEND")
	}
	if name == "" {
		name = defaultBackend() // "iocp" on Windows; elsewhere "", the probe below
	}
	t := core.NewTable()
	d, err := newDriver(name, cfg, t)
	if err != nil {
		return nil, err
	}
	t.Driver = d
	t.Hinter, _ = d.(core.WaitHinter)
	// The simulator checks ownership itself, more closely, and names its
	// seed in what it reports.
	t.Check = (cfg.Check || os.Getenv("AIO_CHECK") == "1") && d.Name() != "sim"
	core.Register(t)
	many, _ := d.(core.ManyDoer)
	r := &Ring{table: t, driver: d, many: many}
	r.learnKinds()
	return r, nil
}

func newDriver(name string, cfg Config, t *core.Table) (core.Driver, error) {
	switch name {
	case "uring":
		return newURing(cfg, t)
	case "portable":
		return newPortable(cfg, t)
	case "iocp":
		return newIOCP(cfg, t)
	case "sim":
		return newSim(cfg, t)
	case "":
		// io_uring when it can be set up with every opcode we need (Probe
		// says why not), else the portable backend.
		if Probe().Backend == "uring" {
			if d, err := newURing(cfg, t); err == nil {
				return d, nil
			}
			// io_uring worked when probed; this ring failed for want of
			// memory or descriptors. The portable backend still serves.
		}
		return newPortable(cfg, t)
	}
	return nil, fmt.Errorf("aio: unknown backend %q: %w", name, errors.ErrUnsupported)
}

// Backend names the backend in use: "uring", "portable", "iocp" or "sim".
func (r *Ring) Backend() string { return r.driver.Name() }

// Seed returns the simulator's seed for a ring of the "sim" backend (the
// one to set in AIO_SIM_SEED to replay its run), and 0 for other backends.
func (r *Ring) Seed() int64 {
	if s, ok := r.driver.(interface{ Seed() int64 }); ok {
		return s.Seed()
	}
	return 0
}

// checked reports whether checked ownership is on: the simulator, or
// Config.Check (AIO_CHECK=1).
func (r *Ring) checked() bool { return r.table.Check || r.driver.Name() == "sim" }

// Stats returns the ring's counters.
func (r *Ring) Stats() Stats {
	s := r.table.Stats()
	return Stats{Submitted: s.Submitted, Completed: s.Completed, Canceled: s.Canceled,
		InFlight: s.InFlight, CancelRacesLost: s.CancelRacesLost,
		Direct: s.Direct, Readiness: s.Readiness, Driver: s.Driver,
		ZeroCopyBytes: r.xfer.zeroCopy.Load(), CopiedBytes: r.xfer.copied.Load()}
}

// Close cancels every operation in flight on the ring, waits until each
// has completed, then releases the ring. After Close returns the kernel
// references no caller memory through this ring, and every later
// operation fails with an error matching os.ErrClosed. Files opened on the
// ring stay open (their descriptors are theirs) until their own Close.
func (r *Ring) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed {
		return fmt.Errorf("aio: close ring: %w", os.ErrClosed)
	}
	r.closed = true
	r.refs.StartClose()
	if r.refs.Count() > 0 {
		r.driver.CancelAll()
	}
	r.polls.close() // the calls waiting in the netpoller end too
	<-r.refs.Drained()
	for _, p := range r.poolList() {
		p.Close() // nothing is in flight: returns at once
	}
	r.xfer.pipes.close() // a transfer still running closes its pipe when it ends
	r.atOnce.close()
	err := r.driver.Close()
	core.Unregister(r.table)
	return err
}

// learnKinds notes which kinds the backend supports (supported's fast
// answer). A driver's answers are fixed once it is set up, except where a
// test hides a kind (export_test.go), which calls this again.
func (r *Ring) learnKinds() {
	var ok uint64
	for k := core.Kind(0); k < 64; k++ {
		if yes, _ := r.driver.Supported(k); yes {
			ok |= 1 << k
		}
	}
	r.kindsOK.Store(ok)
}

// acquire takes a ring reference for one operation.
func (r *Ring) acquire() bool { return r.refs.Acquire() }

// supported checks that the backend can do k, before anything is submitted.
func (r *Ring) supported(k core.Kind) error {
	if k < 64 && r.kindsOK.Load()&(1<<k) != 0 {
		return nil // one load for the usual answer, asked at every Start
	}
	if ok, op := r.driver.Supported(k); !ok {
		return &UnsupportedError{Backend: r.driver.Name(), Op: op}
	}
	return nil
}
