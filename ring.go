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
	Workers int
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
}

// Ring is an asynchronous I/O instance: an io_uring, or another backend
// keeping the same contract. It is safe for concurrent use. Close it when
// done: Close cancels what is in flight and waits for every completion.
type Ring struct {
	table   *core.Table
	driver  core.Driver
	refs    core.Refs // one per operation in flight
	closeMu sync.Mutex
	closed  bool

	noDirect  bool // files made from now on submit every operation (tests)
	dirfsWalk bool // DirFSs made from now on resolve names themselves, without openat2 (tests)

	poolMu sync.Mutex                    // serialises changes to pools
	pools  atomic.Pointer[[]*BufferPool] // open buffer pools; nil while there are none
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
	core.Register(t)
	return &Ring{table: t, driver: d}, nil
}

func newDriver(name string, cfg Config, t *core.Table) (core.Driver, error) {
	switch name {
	case "uring":
		return newURing(cfg, t)
	case "portable":
		return newPortable(cfg, t)
	case "iocp":
		return newIOCP(cfg, t)
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

// Stats returns the ring's counters.
func (r *Ring) Stats() Stats {
	s := r.table.Stats()
	return Stats{Submitted: s.Submitted, Completed: s.Completed, Canceled: s.Canceled,
		InFlight: s.InFlight, CancelRacesLost: s.CancelRacesLost,
		Direct: s.Direct, Readiness: s.Readiness, Driver: s.Driver}
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
	<-r.refs.Drained()
	for _, p := range r.poolList() {
		p.Close() // nothing is in flight: returns at once
	}
	err := r.driver.Close()
	core.Unregister(r.table)
	return err
}

// acquire takes a ring reference for one operation.
func (r *Ring) acquire() bool { return r.refs.Acquire() }

// supported checks that the backend can do k, before anything is submitted.
func (r *Ring) supported(k core.Kind) error {
	if ok, op := r.driver.Supported(k); !ok {
		return &UnsupportedError{Backend: r.driver.Name(), Op: op}
	}
	return nil
}
