//go:build unix

package portable

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// Available reports whether the backend exists on this system: it does on
// every Unix.
func Available() error { return nil }

// Driver is the portable backend for one core.Table.
//
// Each record index has an op (its per-operation state, reused with the
// record). Who may touch what:
//
//   - op.mu guards the identity of the use in flight (id, fd, path, pf,
//     dir, r). Submit sets them, the completer clears id just before
//     Table.Complete, and Cancel acts only while id still equals its
//     argument: a stale cancel finds another id, or 0, and does nothing.
//   - pool.mu guards the work queue (op.next, op.prev, op.queued).
//   - direction.mu guards who is inside the netpoller (op.inside and the
//     direction's counters; see wait).
//   - op.cancelled is set under op.mu and read anywhere: it only ever asks
//     an operation to stop, it never completes one.
//
// Lock order: op.mu before pool.mu or direction.mu; nobody holds a lock
// while calling Table.Complete.
type Driver struct {
	table    *core.Table
	complete func(r *core.Record, res int32) // table.Complete, or Options.Complete
	noWait   bool

	opsMu sync.Mutex
	ops   atomic.Pointer[[]*op] // by record index; grows, never shrinks

	pool   pool
	parked sync.WaitGroup // goroutines of operations in the netpoller
	closed atomic.Bool

	// beforeExec, when set (by tests), runs on the worker just before it
	// starts a blocking syscall for r.
	beforeExec func(r *core.Record)

	disabled [32]bool // kinds hidden from Supported, for tests (DisableOpcode)
}

// Where an operation in flight is.
const (
	pathPool = iota // queued for, or running on, a worker
	pathPoll        // parked in the netpoller (or about to be)
)

// op is the driver's state for the operation of one record index.
type op struct {
	mu   sync.Mutex
	id   uint64 // the use in flight (Record.ID), 0 when none
	r    *core.Record
	fd   int // for CancelFD; -1 when the operation has no descriptor
	path uint8
	dir  uint8      // pathPoll: dirRead or dirWrite
	pf   *fileState // pathPoll: the descriptor's netpoller registration

	cancelled atomic.Bool

	// The work queue, guarded by pool.mu.
	next, prev *op
	queued     bool

	// pathPoll, guarded by pf.dirs[dir].mu: inside the RawConn call.
	inside bool
	// pathPoll: the result found by io, owned by the op's goroutine.
	res  int32
	ioFn func(fd uintptr) bool // o.io, made once so parking does not allocate

	// A pipe whose write end a cancel writes to, waking a worker that
	// waits in poll(2) for a blocking stream (execPolled); made at the
	// first such wait, under mu, closed with the driver. -1: none yet.
	wakeR, wakeW int
}

// New returns a driver for t.
func New(t *core.Table, opts Options) (core.Driver, error) {
	d := &Driver{table: t, complete: t.Complete, noWait: opts.NoWait && noWaitSupported}
	if opts.Complete != nil {
		d.complete = opts.Complete
	}
	ops := make([]*op, 0)
	d.ops.Store(&ops)
	workers := opts.Workers
	if workers <= 0 {
		workers = DefaultWorkers()
	}
	d.pool.init(workers, d.run)
	return d, nil
}

// Name is "portable".
func (d *Driver) Name() string { return "portable" }

// Supported reports whether the driver implements k.
func (d *Driver) Supported(k core.Kind) (bool, string) {
	if int(k) < len(d.disabled) && d.disabled[k] {
		return false, k.String()
	}
	return Supports(k)
}

// Supports reports whether the portable driver implements k on this
// system, and names k.
func Supports(k core.Kind) (bool, string) {
	switch k {
	case core.KindNop, core.KindRead, core.KindWrite, core.KindFsync, core.KindOpen, core.KindClose,
		core.KindAccept, core.KindConnect, core.KindRecv, core.KindSend, core.KindShutdown:
		return true, k.String()
	case core.KindSendmsg, core.KindRecvmsg:
		return dgramSupported, k.String()
	case core.KindStat, core.KindFtruncate, core.KindFallocate, core.KindFadvise, core.KindSeek,
		core.KindReadDir, core.KindOpenAt, core.KindMkdir, core.KindRename, core.KindUnlink,
		core.KindLink, core.KindSymlink, core.KindReadlink:
		return true, k.String()
	case core.KindOpenat2:
		return openat2Supported, k.String()
	}
	return false, k.String()
}

// DisableOpcode hides k from Supported, as if the system could not do
// it. For tests of the unsupported-operation path; call it before any
// operation of kind k is started.
func (d *Driver) DisableOpcode(k core.Kind) { d.disabled[k] = true }

// opFor returns the op of r's index, creating ops up to it.
func (d *Driver) opFor(r *core.Record) *op {
	if ops := *d.ops.Load(); int(r.Index) < len(ops) {
		return ops[r.Index]
	}
	d.opsMu.Lock()
	defer d.opsMu.Unlock()
	ops := *d.ops.Load()
	if int(r.Index) < len(ops) {
		return ops[r.Index]
	}
	grown := make([]*op, max(int(r.Index)+1, 2*len(ops), 64))
	copy(grown, ops)
	for i := len(ops); i < len(grown); i++ {
		o := &op{fd: -1, wakeR: -1, wakeW: -1}
		o.ioFn = o.io
		grown[i] = o
	}
	d.ops.Store(&grown)
	return grown[r.Index]
}

// Submit starts r. Operations that can finish without waiting (a nop, a
// shutdown, a non-blocking transfer that is ready, a read served from the
// page cache) complete before Submit returns; the rest are handed to a
// worker or parked in the netpoller. Nothing here waits for an operation.
func (d *Driver) Submit(r *core.Record) error {
	if d.closed.Load() {
		return os.ErrClosed
	}
	switch r.Kind {
	case core.KindNop:
		d.complete(r, 0)
		return nil
	case core.KindShutdown, core.KindSeek: // never block
		d.complete(r, exec(r))
		return nil
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend, core.KindAccept, core.KindConnect,
		core.KindSendmsg, core.KindRecvmsg:
		if !dgramSupported && (r.Kind == core.KindSendmsg || r.Kind == core.KindRecvmsg) {
			return fmt.Errorf("portable backend: %v on %s: %w", r.Kind, runtime.GOOS, errors.ErrUnsupported)
		}
		fs, _ := r.Handle.(*fileState)
		if fs != nil && fs.pollable {
			return d.submitPoll(r, fs)
		}
		if r.Kind == core.KindRead && d.noWait && fs != nil && len(r.Buf) > 0 && !fs.noWaitRefused.Load() {
			// A positioned read cut short where the cached data ends is
			// not its result: a worker reads it again, all of it, as a
			// blocking read would. A read without an offset (a stream, the
			// file's position) keeps what it got: its bytes are consumed.
			if res, ok := readNoWait(r.FD, r.Buf, r.Off, fs); ok && (res == int32(len(r.Buf)) || r.Off < 0) {
				d.complete(r, res)
				return nil
			}
		}
	case core.KindFsync, core.KindOpen, core.KindClose,
		core.KindStat, core.KindFtruncate, core.KindFallocate, core.KindFadvise, core.KindReadDir,
		core.KindOpenAt, core.KindOpenat2, core.KindMkdir, core.KindRename, core.KindUnlink,
		core.KindLink, core.KindSymlink, core.KindReadlink:
	default:
		return fmt.Errorf("portable backend: %v: %w", r.Kind, errors.ErrUnsupported)
	}
	return d.submitPool(r)
}

func (d *Driver) submitPool(r *core.Record) error {
	o := d.opFor(r)
	fd := r.FD
	if r.Kind == core.KindOpen || fd < 0 { // no descriptor, or AT_FDCWD
		fd = -1
	}
	o.mu.Lock()
	o.id, o.r, o.fd, o.path, o.pf = r.ID(), r, fd, pathPool, nil
	o.cancelled.Store(false)
	// Queued under o.mu, so a cancel sees it either not yet ours (another
	// id) or in the queue.
	ok := d.pool.push(o)
	if !ok {
		o.id = 0
	}
	o.mu.Unlock()
	if !ok {
		return os.ErrClosed
	}
	return nil
}

// run is a worker's job: one queued operation, unless it was cancelled
// between leaving the queue and getting here.
func (d *Driver) run(o *op) {
	r := o.r // set before push; ours until we complete it
	var res int32
	if o.cancelled.Load() {
		res = -int32(unix.ECANCELED)
	} else {
		if d.beforeExec != nil {
			d.beforeExec(r)
		}
		if fs, _ := r.Handle.(*fileState); fs != nil && (fs.blocking || fs.pollable) && waitsForReadiness(r.Kind) {
			res = d.execPolled(o, r, fs)
		} else {
			res = exec(r)
		}
	}
	o.retire()
	d.complete(r, res)
}

// retire ends the current use: cancels from now on find no id.
func (o *op) retire() {
	o.mu.Lock()
	o.id = 0
	o.pf = nil
	o.mu.Unlock()
}

// Cancel asks the operation r's use id to stop: a queued one completes
// now with ECANCELED, a parked one is woken to complete so, a running
// blocking syscall is left to finish.
func (d *Driver) Cancel(r *core.Record, id uint64) { d.CancelOwned(r, id) }

// CancelOwned is Cancel, reporting whether the use id was in flight in
// this driver when asked: a driver that hands some operations to this
// one (the io_uring driver's worker pool) learns whether the cancel was
// its to make. It never reads r's request fields, which a stale id's
// record may be changing.
func (d *Driver) CancelOwned(r *core.Record, id uint64) bool {
	ops := *d.ops.Load()
	if int(r.Index) >= len(ops) {
		return false // never submitted to us
	}
	o := ops[r.Index]
	o.mu.Lock()
	if o.id != id {
		o.mu.Unlock()
		return false // stale, or not ours: that use is not in flight here
	}
	d.cancelLocked(o)
	return true
}

// CancelFD cancels every operation on fd.
func (d *Driver) CancelFD(fd int) { d.cancelMatching(fd, false) }

// CancelAll cancels every operation of the driver.
func (d *Driver) CancelAll() { d.cancelMatching(-1, true) }

func (d *Driver) cancelMatching(fd int, all bool) {
	for _, o := range *d.ops.Load() {
		o.mu.Lock()
		if o.id == 0 || !all && o.fd != fd {
			o.mu.Unlock()
			continue
		}
		d.cancelLocked(o)
	}
}

// cancelLocked cancels o's use in flight. Called with o.mu held and o.id
// the use to cancel; returns with o.mu released.
func (d *Driver) cancelLocked(o *op) {
	o.cancelled.Store(true)
	switch o.path {
	case pathPool:
		if d.pool.remove(o) { // never ran, and now never will
			r := o.r
			o.id = 0
			o.mu.Unlock()
			d.complete(r, -int32(unix.ECANCELED))
			return
		}
		// Running (or popped and about to see cancelled): it completes
		// itself; one waiting in poll(2) is woken to see it.
		if o.wakeW >= 0 {
			unix.Write(o.wakeW, []byte{1})
		}
	case pathPoll:
		o.pf.kick(o)
	}
	o.mu.Unlock()
}

// Close stops the workers and waits until every goroutine of the driver
// has finished. The core calls it only when nothing is in flight.
func (d *Driver) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return os.ErrClosed
	}
	d.pool.close()
	d.parked.Wait()
	for _, o := range *d.ops.Load() {
		if o.wakeR >= 0 {
			unix.Close(o.wakeR)
			unix.Close(o.wakeW)
		}
	}
	return nil
}

// Exec runs r's operation as one blocking system call in the calling
// goroutine, as a worker does (retrying EINTR), and returns the kernel's
// result: a count or descriptor, or -errno. It is how the simulator
// (internal/backend/sim) executes what it schedules, so that every kind
// of operation this backend knows works there too. On a pollable
// descriptor a transfer would block the caller: use Submit for those.
func Exec(r *core.Record) int32 { return exec(r) }

// Describe tells what Attach found fd to be, from its handle: pollable
// (its transfers wait in the netpoller) or disk (a regular file,
// directory or block device: its operations never wait for a peer).
// Anything else (a character device the netpoller refused, say) is
// neither and its operations go to the workers.
func Describe(handle any) (pollable, disk bool) {
	fs, _ := handle.(*fileState)
	if fs == nil {
		return false, false
	}
	return fs.pollable, fs.disk
}

// exec runs r's blocking syscall on a worker, retrying EINTR. (Socket
// operations come here only on a socket the netpoller refused.)
func exec(r *core.Record) int32 {
	for {
		n, err := execOnce(r)
		switch {
		case err == nil:
			return int32(n)
		case err == unix.EINTR && r.Kind != core.KindClose && r.Kind != core.KindConnect:
			continue // close(2) and connect(2) go on without us: not retried
		}
		return errnoRes(err)
	}
}

func execOnce(r *core.Record) (int, error) {
	switch r.Kind {
	case core.KindRead:
		if r.Off >= 0 {
			return unix.Pread(r.FD, r.Buf, r.Off)
		}
		return unix.Read(r.FD, r.Buf)
	case core.KindWrite:
		if r.Off >= 0 {
			return unix.Pwrite(r.FD, r.Buf, r.Off)
		}
		return unix.Write(r.FD, r.Buf)
	case core.KindFsync:
		return 0, syncFD(r.FD, r.Flags&core.FsyncDatasync != 0)
	case core.KindOpen:
		if len(r.Path) == 0 || r.Path[len(r.Path)-1] != 0 {
			return 0, unix.EINVAL
		}
		return unix.Open(string(r.Path[:len(r.Path)-1]), r.Flags, r.Mode)
	case core.KindClose:
		return 0, unix.Close(r.FD)
	case core.KindNop:
		return 0, nil
	case core.KindConnect:
		sa, err := parseSockaddr(r.Buf)
		if err != nil {
			return 0, err
		}
		if err := unix.Connect(r.FD, sa); err != nil && err != unix.EISCONN {
			return 0, err
		}
		return 0, nil

	// File system operations. Paths arrive NUL-terminated (see core.Kind).
	case core.KindStat:
		return 0, statAt(r.FD, cstr(r.Path), r.Flags, r.Buf)
	case core.KindFtruncate:
		return 0, unix.Ftruncate(r.FD, r.Off)
	case core.KindFallocate:
		return 0, fallocate(r.FD, uint32(r.Flags), r.Off, r.Len)
	case core.KindFadvise:
		return 0, fadvise(r.FD, r.Off, r.Len, r.Flags)
	case core.KindSeek:
		off, err := unix.Seek(r.FD, r.Off, r.Flags)
		if err == nil {
			r.Off = off // the result (see core.KindSeek); read after Complete
		}
		return 0, err
	case core.KindReadDir:
		return unix.ReadDirent(r.FD, r.Buf)
	case core.KindOpenAt:
		return unix.Openat(r.FD, cstr(r.Path), r.Flags, r.Mode)
	case core.KindOpenat2:
		return openat2(r.FD, cstr(r.Path), r.Buf)
	case core.KindMkdir:
		return 0, unix.Mkdirat(r.FD, cstr(r.Path), r.Mode)
	case core.KindRename:
		return 0, unix.Renameat(r.FD, cstr(r.Path), r.FD, cstr(r.Path2))
	case core.KindUnlink:
		return 0, unix.Unlinkat(r.FD, cstr(r.Path), r.Flags)
	case core.KindLink:
		return 0, unix.Linkat(r.FD, cstr(r.Path), r.FD, cstr(r.Path2), 0)
	case core.KindSymlink:
		return 0, unix.Symlinkat(cstr(r.Path), r.FD, cstr(r.Path2))
	case core.KindReadlink:
		return readlinkat(r.FD, cstr(r.Path), r.Buf)
	}
	return attempt(r.FD, r)
}

// cstr is a record's NUL-terminated path as a Go string ("" for none).
func cstr(p []byte) string {
	if len(p) > 0 && p[len(p)-1] == 0 {
		p = p[:len(p)-1]
	}
	return string(p)
}

// errnoRes turns a syscall error into a negative result.
func errnoRes(err error) int32 {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 {
		return -int32(errno)
	}
	return -int32(unix.EIO)
}

// syncFD is fsync(fd), or with datasync fdatasync where the system has
// it, as this driver makes them (on darwin F_FULLFSYNC).
func syncFD(fd int, datasync bool) error {
	if datasync {
		return fdatasync(fd)
	}
	return fsync(fd)
}

// Sync is the driver's fsync (syncFD) made in the caller's own thread,
// again after EINTR, for the aio package's blocking syncs (see its
// mechanism.go).
func Sync(fd int, datasync bool) error {
	for {
		if err := syncFD(fd, datasync); err != unix.EINTR {
			return err
		}
	}
}
