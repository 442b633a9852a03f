package uring

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/waitforit/aio/internal/backend/portable"
	"github.com/waitforit/aio/internal/core"
	abi "github.com/waitforit/aio/internal/uring"
)

// workerPool is the io_uring driver's way to do what the ring cannot: a
// portable driver on the same core.Table, made on first use, that runs
// blocking system calls on worker threads (its executor is the one
// implementation of every kind's system call; see the portable package).
// Records keep their one lifecycle: the table does not care which of the
// two drivers completes them.
type workerPool struct {
	once   sync.Once
	driver atomic.Pointer[portable.Driver] // nil until the first operation sent to it
	forced [64]atomic.Bool                 // kinds sent to workers even if the ring has their opcode (tests)
}

// route decides, in one place, how the driver does an operation of kind
// k on this kernel: through the ring with an opcode the kernel's probe
// reports (onRing, and its name), or on the worker pool (io_uring has no
// getdents, readlinkat or lseek; FTRUNCATE came only in 6.9, MKDIRAT,
// SYMLINKAT and LINKAT in 5.15, RENAMEAT and UNLINKAT in 5.11).
// fsync goes to the worker pool too, by measurement: io_uring always
// hands an fsync to an io-wq thread, whose completion then reaches the
// waiter through the ring's owner and the netpoller, and the pool's
// thread calling fsync(2) costs less CPU per sync (aiobench write-fsync,
// ops per CPU-second against std: 0.65-0.74 through the ring, 0.74-0.99
// on the pool, in alternating runs) and fewer context switches (1.2
// against 0.6-0.8 per op). Opens go to the worker pool, for what they
// must wait for: io_uring tries an open first with O_NONBLOCK added and
// keeps what that gives unless it is EAGAIN, so an open of a FIFO for
// reading returned before any writer had opened it (a read then found
// the end of the stream) and one for writing failed ENXIO while no
// reader had. Forced to io-wq (IOSQE_ASYNC) they wait, but on io-wq's
// bounded workers (4 per CPU): 32 opens of 16 FIFOs' two ends waited for
// each other for good. The pool's thread calls open(2), as os does, and
// adds threads when its queue stops moving (see the portable package's
// pool); it also cost less: 6 us per open and close of a file, against
// 17-21 us through the ring (BenchmarkOpen). Operations the driver
// always did through the ring (reads, writes, sockets, close) are not
// routed: they are the ring's or unsupported, as Supported says.
func (d *Driver) route(k core.Kind) (onRing bool, via string) {
	op, ok := fsOpcode[k]
	switch {
	case k == core.KindFsync:
		return false, "worker threads (fsync(2): io_uring would hand it to an io-wq thread anyway)"
	case k == core.KindOpen || k == core.KindOpenAt || k == core.KindOpenat2:
		return false, "worker threads (open(2) waits for a FIFO's other end, as os's does)"
	case !isFSKind(k):
		return true, ""
	case ok && d.probe.Supported(op) && !d.disabled[op] && !d.workers.forced[k].Load():
		return true, abi.OpName(op)
	case ok:
		return false, "worker threads (kernel lacks " + abi.OpName(op) + ")"
	}
	return false, "worker threads (io_uring has no " + k.String() + ")"
}

// Route names the path an operation of kind k takes, for aio.Probe:
// the io_uring opcode, or the worker threads and why.
func (d *Driver) Route(k core.Kind) string {
	if ok, _ := d.Supported(k); !ok {
		return "unsupported"
	}
	if onRing, via := d.route(k); !onRing || via != "" {
		return via
	}
	op := kindOpcode[k]
	return abi.OpName(op)
}

// isFSKind reports whether k is one of the file system kinds route
// decides for.
func isFSKind(k core.Kind) bool {
	switch k {
	case core.KindSeek, core.KindReadDir, core.KindReadlink:
		return true
	}
	_, ok := fsOpcode[k]
	return ok
}

// supportedFS answers Supported for the file system kinds (ok false, is
// false for the others): everything the ring cannot do, the workers can.
func (d *Driver) supportedFS(k core.Kind) (ok bool, op string, is bool) {
	if !isFSKind(k) {
		return false, "", false
	}
	if onRing, via := d.route(k); onRing {
		return true, via, true
	}
	ok, _ = portable.Supports(k)
	return ok, k.String(), true
}

// onWorkers reports whether r goes to the worker pool.
func (d *Driver) onWorkers(r *core.Record) bool {
	if streamTransfer(r) {
		return true
	}
	if t := d.kinds.Load(); t != nil && int(r.Kind) < len(t) {
		return t[r.Kind].onWorkers
	}
	onRing, _ := d.route(r.Kind)
	return !onRing
}

// workerDriver returns the worker pool's driver, making it on first use.
func (d *Driver) workerDriver() *portable.Driver {
	d.workers.once.Do(func() {
		w, err := portable.New(d.table, portable.Options{})
		if err != nil {
			panic("aio: inconsistent: the portable driver is unavailable on Linux: " + err.Error())
		}
		d.workers.driver.Store(w.(*portable.Driver))
	})
	return d.workers.driver.Load()
}

// submitWorkers hands r to the worker pool.
func (d *Driver) submitWorkers(r *core.Record) error {
	d.sqMu.Lock()
	closed := d.closed
	d.sqMu.Unlock()
	if closed {
		return os.ErrClosed
	}
	if sh, ok := r.Handle.(*streamHandle); ok {
		r.Handle = sh.ps // the pool's state for the stream (see Attach)
	}
	return d.workerDriver().Submit(r)
}

// submitEach submits recs one at a time, each by its own route: a batch
// that mixes ring and worker operations.
func (d *Driver) submitEach(recs []*core.Record) (int, error) {
	for i, r := range recs {
		if err := d.Submit(r); err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

// anyOnWorkers reports whether some record of recs goes to the workers.
func (d *Driver) anyOnWorkers(recs []*core.Record) bool {
	for _, r := range recs {
		if d.onWorkers(r) {
			return true
		}
	}
	return false
}

// cancelWorkers cancels the use id of r if the worker pool has it in
// flight, and reports whether it had.
func (d *Driver) cancelWorkers(r *core.Record, id uint64) bool {
	w := d.workers.driver.Load()
	return w != nil && w.CancelOwned(r, id)
}

// cancelWorkersFD cancels the worker pool's operations on fd.
func (d *Driver) cancelWorkersFD(fd int) {
	if w := d.workers.driver.Load(); w != nil {
		w.CancelFD(fd)
	}
}

// cancelWorkersAll cancels every operation of the worker pool.
func (d *Driver) cancelWorkersAll() {
	if w := d.workers.driver.Load(); w != nil {
		w.CancelAll()
	}
}

// closeWorkers stops the worker pool. Called by Close, when nothing is in
// flight.
func (d *Driver) closeWorkers() {
	d.workers.once.Do(func() {}) // none made from now on
	if w := d.workers.driver.Load(); w != nil {
		w.Close()
	}
}

// ForceWorkers sends operations of kind k to the worker pool even when the
// kernel has their opcode, as an older kernel would. For tests of that
// path.
func (d *Driver) ForceWorkers(k core.Kind) { d.workers.forced[k].Store(true); d.refreshKinds() }
