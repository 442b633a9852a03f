package aio

import (
	"context"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/waitforit/aio/internal/core"
)

// maxIO is the most one operation transfers; the blocking calls split
// larger buffers, the Start calls refuse them (the kernel's own limit is
// a little under 2 GiB).
const maxIO = 1 << 30

// File is an open file descriptor whose I/O goes through a Ring. It
// implements io.ReaderAt, io.WriterAt, io.Reader, io.Writer, io.Closer,
// io.Seeker, io.StringWriter, io.ReaderFrom and io.WriterTo, has
// os.File's Stat, Truncate, Sync, SyncData and ReadDir (file_fs.go), and
// is safe for concurrent use.
//
// Buffer ownership, for every method that takes one: from the call until
// the operation's completion the buffer belongs to the kernel. The
// blocking methods (Read, ReadAtContext, ...) return only after the
// completion, so the buffer is the caller's again when they return, even
// when their context ended early. The Start methods hand the buffer over
// until the Op completes (Op.Done is closed): the caller must not read,
// write or reuse it before then. The library keeps it reachable and
// pinned until that moment even if the caller drops every reference.
type File struct {
	ring *Ring
	// poll is the readiness path of a stream whose open file description
	// is aio's (see mechanism.go): its blocking calls wait in Go's
	// netpoller and never reach the driver. nil: they go to the driver.
	// (Beside ring: a call on that path reads both, and nothing else of
	// the File's.)
	poll   *pollFD
	fd     int
	name   string
	handle any       // the driver's per-descriptor state, if it keeps any
	refs   core.Refs // one per operation in flight; Close drains them

	// writes counts the writes in flight, so that a sync waits for those
	// submitted before it (rule 10; see core.Barrier).
	writes core.Barrier

	// direct is the driver's way to do a blocking call's operation at
	// once (core.DirectDoer), nil if it has none or fd is O_DIRECT.
	// readSkip and writeSkip count the calls in each direction that go
	// straight to the ring after a try found the operation would wait:
	// on a pipe ping-pong or an uncached file every try would be a wasted
	// system call, so after a miss the next tryEvery-1 do not try.
	direct core.DirectDoer
	// directCtr counts the calls done in the caller. Its own allocation
	// (a line of its own), not a field: every goroutine reading the File
	// at once writes it, and it would drag the fields beside it along.
	directCtr           *core.Counters
	readSkip, writeSkip atomic.Int32
	// callerWrites: the kernel cannot take a write to this regular file
	// without waiting (RWF_NOWAIT refused: ext4's buffered writes), so its
	// blocking writes are made in the caller's thread, as os.File makes
	// them, instead of waiting for a kernel worker through the driver.
	callerWrites atomic.Bool
	regular      bool // a regular file or block device

	fs fileFS // directory reading and what is known of the file's type (file_fs.go)

	xfers xferHooks // transfers in flight (ReadFrom, WriteTo): Close cancels them
}

// tryEvery: after a miss, one call in tryEvery tries at once again.
const tryEvery = 8

// newFile wraps fd, which the File then owns (and closes on error),
// choosing its mechanisms (see mechanism.go) and telling the driver.
func (r *Ring) newFile(fd int, name string, origin fdOrigin) (*File, error) {
	return r.newFileAt(fd, name, origin, nil)
}

// newFileAt is newFile whose readiness state, if it has one, is made in
// into (nil: allocated).
func (r *Ring) newFileAt(fd int, name string, origin fdOrigin, into *pollFD) (*File, error) {
	fd, poll, err := r.prepareFD(fd, name, origin, into)
	if err != nil {
		return nil, err
	}
	regular, dir := fdType(fd)
	f := &File{ring: r, fd: fd, name: name, poll: poll, regular: regular}
	f.fs.kind.Store(dir) // ReadDir of a non-directory then submits nothing
	if d, ok := r.driver.(core.DirectDoer); ok && poll == nil && !r.noDirect && !isDirectIO(fd) {
		f.direct, f.directCtr = d, r.table.NewCounters(core.MechDirect)
	}
	if a, ok := r.driver.(core.FileAttacher); ok {
		h, err := a.Attach(fd)
		if err != nil {
			f.closeFD()
			return nil, err
		}
		f.handle = h
	}
	return f, nil
}

// closeFD closes the descriptor: through its netpoller registration if it
// has one.
func (f *File) closeFD() error {
	if f.directCtr != nil {
		f.directCtr.Retire()
	}
	if f.poll != nil {
		return f.poll.close()
	}
	return closeFD(f.fd)
}

// Open opens the named file (openat(2) through the ring), like os.OpenFile.
// The descriptor is close-on-exec. If ctx ends first, the open is
// cancelled and Open waits for the kernel's answer: an open that completed
// anyway returns its File (nothing is leaked), a cancelled one returns an
// error matching ctx's error.
func (r *Ring) Open(ctx context.Context, name string, flag int, perm os.FileMode) (*File, error) {
	if err := ctx.Err(); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EINVAL}
	}
	if err := r.supported(core.KindOpen); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if !r.acquire() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: os.ErrClosed}
	}
	rec := r.table.Get()
	rec.Kind = core.KindOpen
	rec.Path = append([]byte(name), 0)
	rec.Flags = flag | oCloexec
	rec.Mode = syscallMode(perm)
	rec.RingRefs = &r.refs
	if err := r.table.Submit(rec); err != nil {
		r.table.Put(rec)
		r.refs.Release()
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	res, ctxErr := r.await(ctx, rec)
	r.table.Put(rec)
	if res < 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: r.errnoErr(res, ctxErr, nil, os.ErrClosed)}
	}
	f, err := r.newFile(int(res), name, madeByAio)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// NewFile adopts a duplicate of f's descriptor (close-on-exec); f stays
// open and usable, and closing one does not close the other.
//
// aio never changes the flags of the open file description it adopts,
// which it shares with f and with whoever else holds it (the shell that
// started the program, for a terminal; the parent, for an inherited
// pipe): O_NONBLOCK stays as it was, while aio uses the descriptor and
// after. A blocking pipe, FIFO or terminal is reopened privately on
// Linux (a new open file description of the same pipe or device, whose
// flags are aio's), so that its calls still wait without holding a
// thread and cancel at once; a blocking socket, or a stream on systems
// without such a reopening, is served by the backend's driver without
// touching its flags.
//
// On Windows a file on disk is reopened likewise (ReOpenFile, with f's
// access rights and position), overlapped, so that its operations go
// through the ring's completion port whatever mode f's handle is in. The
// File then has a file object of its own: its position is its own from
// the start, and byte-range locks taken through f bind it as they bind
// another opener. Pipes, consoles and handles that cannot be reopened
// are duplicated.
func (r *Ring) NewFile(f *os.File) (*File, error) {
	if !r.refs.Acquire() {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: os.ErrClosed}
	}
	defer r.refs.Release()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: err}
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = dupFD(s) }); err != nil {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: err}
	}
	if dupErr != nil {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: dupErr}
	}
	nf, err := r.newFile(fd, f.Name(), adopted)
	if err != nil {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: err}
	}
	return nf, nil
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.name }

// Fd returns the descriptor. It stays valid until Close; using it for I/O
// of your own bypasses the library's guarantees.
func (f *File) Fd() uintptr { return uintptr(f.fd) }

// Close cancels every operation in flight on f, waits until each has
// completed, and only then closes the descriptor, so its number cannot be
// reused under an operation. Later operations fail with an error matching
// os.ErrClosed, as does a second Close.
func (f *File) Close() error {
	if f == nil {
		return os.ErrInvalid
	}
	if !f.refs.StartClose() {
		return &fs.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	if f.poll != nil {
		f.poll.closing() // wakes the calls waiting in the netpoller and waits for them
	}
	f.xfers.close()
	if f.refs.Count() > 0 {
		f.ring.driver.CancelFD(f.fd)
	}
	<-f.refs.Drained()
	if a, ok := f.ring.driver.(core.FileAttacher); ok {
		a.Detach(f.fd, f.handle)
	}
	if err := f.closeFD(); err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// CancelAll requests cancellation of every operation in flight on f. Like
// Op.Cancel it only asks: each operation still completes, cancelled or not.
func (f *File) CancelAll() {
	if !f.refs.Acquire() { // closed or closing: Close cancels
		return
	}
	f.ring.driver.CancelFD(f.fd)
	f.refs.Release()
}

// start submits one operation on f. o, if not nil, is told of the
// completion; otherwise the caller waits on the record. On error nothing
// was submitted.
func (f *File) start(kind core.Kind, p []byte, off int64, flags int, addr []byte, notify core.Notifier) (*core.Record, error) {
	if err := f.check(kind, p); err != nil {
		return nil, err
	}
	return f.startChecked(kind, p, off, flags, addr, notify)
}

// startChecked is start for an operation that check passed.
func (f *File) startChecked(kind core.Kind, p []byte, off int64, flags int, addr []byte, notify core.Notifier) (*core.Record, error) {
	rec, err := f.record(kind, p, off, flags, addr, notify)
	if err != nil {
		return nil, err
	}
	return f.submit(rec)
}

// submit submits a record that record filled; on error it gives back
// what record took, and nothing was submitted.
func (f *File) submit(rec *core.Record) (*core.Record, error) {
	if err := f.ring.table.Submit(rec); err != nil {
		f.unrecord(rec)
		return nil, err
	}
	return rec, nil
}

// check refuses what can never be submitted, before anything is taken.
func (f *File) check(kind core.Kind, p []byte) error {
	if len(p) > maxIO {
		return errTooLarge
	}
	return f.ring.supported(kind)
}

// record takes the references an operation holds until its completion
// and fills a record for it, bound to notify.
func (f *File) record(kind core.Kind, p []byte, off int64, flags int, addr []byte, notify core.Notifier) (*core.Record, error) {
	if !f.refs.Acquire() {
		return nil, os.ErrClosed
	}
	if !f.ring.acquire() {
		f.refs.Release()
		return nil, os.ErrClosed
	}
	t := f.ring.table
	rec := t.Get()
	rec.Kind, rec.FD, rec.Buf, rec.Off, rec.Flags, rec.Addr = kind, f.fd, p, off, flags, addr
	rec.FileRefs, rec.RingRefs, rec.Handle = &f.refs, &f.ring.refs, f.handle
	if notify != nil {
		if b, ok := notify.(binder); ok {
			b.bind(rec)
		}
		rec.Notify = notify
	}
	if kind == core.KindRead || kind == core.KindWrite {
		if h, ok := notify.(startHolder); !ok || !h.giveHold(rec) {
			f.ring.holdBuffer(rec)
		}
	}
	if kind == core.KindWrite {
		rec.Barrier = &f.writes
	}
	return rec, nil
}

// startHolder is a Notifier that may hold its buffer's pool slot since
// its Start call (an Op started in a Batch), to hand to its record.
type startHolder interface {
	giveHold(rec *core.Record) bool
}

// closing reports whether f's Close, or its ring's, has begun.
func (f *File) closing() bool { return f.refs.Closing() || f.ring.refs.Closing() }

// unrecord gives back what record took, for a record never submitted.
func (f *File) unrecord(rec *core.Record) {
	f.ring.table.Put(rec)
	f.ring.refs.Release()
	f.refs.Release()
}

// do runs one operation and waits for it honestly (see Ring.await).
// It retries EINTR. The result is the kernel's (a count, or -errno).
// binder is a Notifier that must know its record (to cancel it, say)
// before the record is submitted, since it may complete at once.
type binder interface {
	bind(rec *core.Record)
}

func (f *File) do(ctx context.Context, kind core.Kind, p []byte, off int64, flags int) (int32, error) {
	if f.poll != nil && off < 0 && streamOp(kind) {
		res, _, err := f.pollDo(ctx, kind, p, flags, nil, os.ErrClosed)
		return res, err
	}
	if res, ok := f.tryNow(kind, p, off, flags); ok {
		if res >= 0 {
			return res, nil
		}
		return res, syscall.Errno(-res)
	}
	return f.submitWait(ctx, kind, p, off, flags)
}

// submitWait is do through the driver: it submits the operation and
// waits for its completion (see Ring.await), again after an EINTR.
func (f *File) submitWait(ctx context.Context, kind core.Kind, p []byte, off int64, flags int) (int32, error) {
	for {
		rec, err := f.start(kind, p, off, flags, nil, nil)
		if err != nil {
			return 0, err
		}
		res, ctxErr := f.ring.await(ctx, rec)
		f.ring.table.Put(rec)
		if res >= 0 {
			return res, nil
		}
		if res == -int32(syscall.EINTR) {
			if ctx.Err() == nil && !f.closing() {
				continue
			}
			// Interrupted before it transferred anything, and the context
			// has ended or Close has begun meanwhile: that is a cancel by
			// it (a retry would be refused, as if the call had come after
			// the Close).
			res, ctxErr = -int32(syscall.ECANCELED), ctx.Err()
		}
		return res, f.ring.errnoErr(res, ctxErr, &f.refs, os.ErrClosed)
	}
}

// pollDo runs a blocking call on the readiness path (see pollFD.call) and
// turns its outcome into the kernel's result and an error, as do does:
// a call refused because f is closed fails with closedErr, a cancelled
// one with a canceledError saying why.
func (f *File) pollDo(ctx context.Context, kind core.Kind, p []byte, flags int, addr []byte, closedErr error) (int32, int, error) {
	dir := dirRead
	switch kind {
	case core.KindWrite, core.KindSend, core.KindSendmsg, core.KindConnect:
		dir = dirWrite
	}
	var res int32
	var addrLen int
	var cause error
	if f.ring.refs.Closing() { // the ring is closed: so are its Files' calls
		return 0, 0, closedErr
	}
	if kind == core.KindConnect {
		res, cause = f.poll.connect(ctx, p)
	} else {
		res, addrLen, cause = f.poll.call(ctx, dir, kind, p, flags, addr, nil, nil)
	}
	if cause != nil || res < 0 {
		return res, 0, f.pollErr(res, cause, closedErr)
	}
	return res, addrLen, nil
}

// pollErr is the error of a call on the readiness path that failed with
// res, or whose wait ended for cause (see pollFD.call): a call refused
// because f is closed fails with closedErr, a cancelled one with a
// canceledError saying why. Not inlined: an error path, whose locals
// stay out of its callers' frames (see WriteContext).
//
//go:noinline
func (f *File) pollErr(res int32, cause, closedErr error) error {
	switch {
	case cause == errClosedBeforeStart:
		return closedErr
	case cause == os.ErrClosed:
		return canceledBy(closedErr)
	case cause != nil:
		return canceledBy(cause)
	}
	return syscall.Errno(-res)
}

// tryNow does the operation of a blocking call at once, without
// submitting it, if the driver can and the kernel need not wait for it
// (core.DirectDoer). It holds f's reference meanwhile, as a submitted
// operation would, so f's Close still waits for it; it takes none of the
// ring's, since it does not use the ring (Ring.Close need not wait for
// it, and a reference count shared by every File of the ring would be
// written by every call); and since nothing waits, there is nothing a
// context could cancel. ok false: the operation must be submitted.
func (f *File) tryNow(kind core.Kind, p []byte, off int64, flags int) (res int32, ok bool) {
	if f.direct == nil || len(p) == 0 || len(p) > maxIO || f.ring.supported(kind) != nil {
		return 0, false // submitting says why not, if it cannot be done
	}
	skip := &f.readSkip
	if kind == core.KindWrite || kind == core.KindSend {
		skip = &f.writeSkip
	}
	if skip.Load() > 0 {
		skip.Add(-1)
		return 0, false
	}
	if f.ring.refs.Closing() || !f.refs.Acquire() {
		return 0, false // closed: submitting says so
	}
	if kind == core.KindWrite { // a sync called meanwhile waits for it
		epoch := f.writes.Enter()
		if !f.callerWrites.Load() {
			res, ok = f.direct.TryNow(kind, f.fd, f.handle, p, off, flags)
			if !ok && res == -int32(syscall.EOPNOTSUPP) && f.regular {
				// See mechanism.go: such a write waits for the file
				// system anyway; a kernel worker would only add hops.
				f.callerWrites.Store(true)
			}
		}
		if f.callerWrites.Load() {
			f.directCtr.Begin() // in flight meanwhile
			res = callerWrite(f.fd, p, off)
			f.directCtr.End(res, false)
			f.writes.Exit(epoch)
			f.refs.Release()
			return res, true
		}
		f.writes.Exit(epoch)
	} else {
		res, ok = f.direct.TryNow(kind, f.fd, f.handle, p, off, flags)
	}
	if ok {
		f.directCtr.AtOnce()
	}
	f.refs.Release()
	if !ok {
		if res == -int32(syscall.EOPNOTSUPP) {
			skip.Store(math.MaxInt32) // never at once on this file
		} else {
			skip.Store(tryEvery - 1)
		}
	}
	return res, ok
}

// await waits for rec's completion. If ctx ends first it requests the
// cancel and still waits: it never returns while the kernel may touch the
// operation's memory. ctxErr is ctx's error when the cancel came from ctx.
func (r *Ring) await(ctx context.Context, rec *core.Record) (res int32, ctxErr error) {
	return r.awaitCancellable(ctx, rec, false)
}

// awaitCancellable is await for an operation that something besides ctx
// (a deadline) may cancel, if deadline is true.
func (r *Ring) awaitCancellable(ctx context.Context, rec *core.Record, deadline bool) (res int32, ctxErr error) {
	done := ctx.Done()
	if r.table.Hinter != nil {
		r.table.Waiting(rec, rec.Gen(), done != nil || deadline)
	}
	if done == nil {
		<-rec.Wake
		return rec.Res, nil
	}
	gen := rec.Gen()
	select {
	case <-rec.Wake:
		return rec.Res, nil
	case <-done:
		r.table.Cancel(rec, gen)
		<-rec.Wake
		return rec.Res, ctx.Err()
	}
}

// errnoErr turns a negative result into an error. A cancelled operation
// says why: ctx's error (or a deadline's), or closedErr (os.ErrClosed,
// net.ErrClosed) when its descriptor or ring is closing.
func (r *Ring) errnoErr(res int32, ctxErr error, fileRefs *core.Refs, closedErr error) error {
	errno := syscall.Errno(-res)
	if errno != syscall.ECANCELED {
		return errno
	}
	cause := ctxErr
	if cause == nil && (r.refs.Closing() || fileRefs != nil && fileRefs.Closing()) {
		cause = closedErr
	}
	return canceledBy(cause)
}

func (f *File) pathErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}

// ReadAtContext reads len(p) bytes at off, as io.ReaderAt: fewer bytes come
// with a non-nil error, io.EOF at end of file. If ctx ends, the read in
// flight is cancelled and waited for; bytes it transferred anyway are
// counted and, if that fills p, reported without error. p is the caller's
// again when ReadAtContext returns.
func (f *File) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, f.pathErr("readat", errNegativeOffset)
	}
	if len(p) > 0 && len(p) <= maxIO && ctx.Err() == nil {
		// As in ReadAt.
		res, ok := f.tryNow(core.KindRead, p, off, 0)
		if ok && int(res) == len(p) {
			return len(p), nil
		}
		return f.readAtRest(ctx, p, off, res, ok)
	}
	return f.readAtLoop(ctx, p, off)
}

// readAtLoop is ReadAtContext's reading, a chunk of at most maxIO at a
// time, each done at once or through the driver (see do).
func (f *File) readAtLoop(ctx context.Context, p []byte, off int64) (int, error) {
	n := 0
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return n, f.pathErr("read", err)
		}
		res, err := f.do(ctx, core.KindRead, p[:min(len(p), maxIO)], off, 0)
		if err != nil {
			return n, f.pathErr("read", err)
		}
		if res == 0 {
			return n, io.EOF
		}
		n += int(res)
		p = p[res:]
		off += int64(res)
	}
	return n, nil
}

// WriteAtContext writes all of p at off, as io.WriterAt. If ctx ends, the
// write in flight is cancelled and waited for, and n counts what reached
// the file. p is the caller's again when WriteAtContext returns.
func (f *File) WriteAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, f.pathErr("writeat", errNegativeOffset)
	}
	return f.write(ctx, p, off)
}

func (f *File) write(ctx context.Context, p []byte, off int64) (int, error) {
	// The whole call counts as one write for the barrier (rule 10): a sync
	// called once it has begun waits for all of it, including a retry
	// after EINTR and the rest after a short write, which are submissions
	// of their own. (Only a file that can be synced has a barrier to keep:
	// a pipe's or a socket's writes skip it.)
	if f.poll == nil {
		epoch := f.writes.Enter()
		defer f.writes.Exit(epoch)
	} else if off < 0 {
		return f.WriteContext(ctx, p) // the readiness path's
	}
	n := 0
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return n, f.pathErr("write", err)
		}
		res, err := f.do(ctx, core.KindWrite, p[:min(len(p), maxIO)], off, 0)
		if err != nil {
			return n, f.pathErr("write", err)
		}
		if res == 0 {
			return n, f.pathErr("write", io.ErrUnexpectedEOF)
		}
		n += int(res)
		p = p[res:]
		if off >= 0 {
			off += int64(res)
		}
	}
	return n, nil
}

// ReadContext reads up to len(p) bytes from the file position or stream
// (pipes, ttys, sockets as files), like os.File.Read: (0, io.EOF) at end
// of stream. If ctx ends, the read is cancelled and waited for: it returns
// the bytes that arrived anyway, or an error matching ctx's error and
// ErrCanceled with n == 0. p is the caller's again when it returns.
func (f *File) ReadContext(ctx context.Context, p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, f.pathErr("read", err)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.poll != nil && !f.ring.refs.Closing() { // the readiness path, kept short
		res, _, cause := f.poll.call(ctx, dirRead, core.KindRead, p[:min(len(p), maxIO)], 0, nil, nil, nil)
		switch {
		case res > 0 && cause == nil:
			return int(res), nil
		case res == 0 && cause == nil:
			return 0, io.EOF
		}
		return 0, f.pollCallErr("read", res, cause)
	}
	return f.readDriver(ctx, p)
}

// readDriver is ReadContext through the driver, out of ReadContext's
// frame (see WriteContext).
func (f *File) readDriver(ctx context.Context, p []byte) (int, error) {
	res, err := f.do(ctx, core.KindRead, p[:min(len(p), maxIO)], -1, 0)
	if err != nil {
		return 0, f.pathErr("read", err)
	}
	if res == 0 {
		return 0, io.EOF
	}
	return int(res), nil
}

// pollCallErr is the error of op on the readiness path (see pollErr),
// made out of the caller's frame (see WriteContext).
//
//go:noinline
func (f *File) pollCallErr(op string, res int32, cause error) error {
	return f.pathErr(op, f.pollErr(res, cause, os.ErrClosed))
}

// WriteContext writes all of p at the file position or to the stream. If
// ctx ends, the write in flight is cancelled and waited for, and n counts
// what was written. p is the caller's again when it returns.
//
// On the readiness path (a stream: see mechanism.go) the calls are made
// here, in as few frames as the call chain allows: each is stack the
// goroutine writes per call (and pulls over from another CPU's cache
// when it moves: see pollDir), and, after the system call, a return the
// CPU mispredicts (see pollDir.attempt). The rarer paths' locals live in
// frames of their own (write, pollCallErr).
func (f *File) WriteContext(ctx context.Context, p []byte) (int, error) {
	if f.poll == nil {
		return f.write(ctx, p, -1)
	}
	n := 0
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return n, f.pathErr("write", err)
		}
		if f.ring.refs.Closing() { // the ring is closed: so are its Files' calls
			return n, f.pathErr("write", os.ErrClosed)
		}
		res, _, cause := f.poll.call(ctx, dirWrite, core.KindWrite, p[:min(len(p), maxIO)], 0, nil, nil, nil)
		if cause != nil || res < 0 {
			return n, f.pollCallErr("write", res, cause)
		}
		if res == 0 {
			return n, f.pathErr("write", io.ErrUnexpectedEOF)
		}
		n += int(res)
		p = p[res:]
	}
	return n, nil
}

// SyncContext commits the file's contents to stable storage (fsync). It
// is a barrier, as POSIX aio_fsync: it covers every write on f submitted
// before the call, by a blocking method, a Start method or a Batch
// already submitted, and commits them only once they have all completed
// (the kernel would otherwise run the fsync beside writes still in
// flight). Writes started after the call are not waited for. If ctx ends
// while the sync waits for earlier writes, the sync is cancelled (an
// error matching ctx's error and ErrCanceled); the writes are not, and
// keep their own outcomes.
func (f *File) SyncContext(ctx context.Context) error { return f.sync(ctx, "sync", false) }

// SyncDataContext is SyncContext with fdatasync: the data and only the
// metadata needed to read it back (the size, not the times) are
// committed. Where the system has no fdatasync it is a full sync.
func (f *File) SyncDataContext(ctx context.Context) error {
	return f.sync(ctx, "syncdata", true)
}

// SyncData is SyncDataContext without a context.
func (f *File) SyncData() error { return f.SyncDataContext(context.Background()) }

// sync is Sync and SyncData: wait for the writes submitted before it (the
// barrier), then fsync.
func (f *File) sync(ctx context.Context, op string, datasync bool) error {
	if err := ctx.Err(); err != nil {
		return f.pathErr(op, err)
	}
	if drained := f.writes.Wait(); drained != nil {
		f.ring.table.WaitingWrites(f.fd) // (the simulator decides now)
		select {
		case <-drained:
		case <-ctx.Done():
			return f.pathErr(op, canceledBy(ctx.Err()))
		}
	}
	if f.syncInCaller(ctx) {
		if !f.refs.Acquire() { // Close waits for the fsync
			return f.pathErr(op, os.ErrClosed)
		}
		f.directCtr.Begin() // in flight meanwhile
		err := callerSync(f.fd, datasync)
		res := int32(0)
		if errno, ok := err.(syscall.Errno); ok {
			res = -int32(errno)
		}
		f.directCtr.End(res, false)
		f.refs.Release()
		if err != nil {
			return f.pathErr(op, err)
		}
		return nil
	}
	flags := 0
	if datasync {
		flags = core.FsyncDatasync
	}
	_, err := f.do(ctx, core.KindFsync, nil, 0, flags)
	return f.pathErr(op, err)
}

// ReadAt is ReadAtContext without a context (io.ReaderAt).
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	// A read the kernel can do at once (cached data) is made here, not
	// in ReadAtContext's frame: each frame a call returns through after
	// its system call costs it (see File.WriteContext).
	if off >= 0 && len(p) > 0 && len(p) <= maxIO {
		res, ok := f.tryNow(core.KindRead, p, off, 0)
		if ok && int(res) == len(p) {
			return len(p), nil
		}
		return f.readAtRest(context.Background(), p, off, res, ok)
	}
	return f.ReadAtContext(context.Background(), p, off)
}

// readAtRest is ReadAt and ReadAtContext after their try at once
// (tryNow's res and ok) did not fill p, out of their frames: the read goes
// through the driver if it was not done, and the rest is read as
// readAtLoop reads.
//
//go:noinline
func (f *File) readAtRest(ctx context.Context, p []byte, off int64, res int32, ok bool) (int, error) {
	if !ok {
		var err error
		if res, err = f.submitWait(ctx, core.KindRead, p, off, 0); err != nil {
			return 0, f.pathErr("read", err)
		}
	} else if res < 0 {
		return 0, f.pathErr("read", syscall.Errno(-res))
	}
	if res == 0 {
		return 0, io.EOF
	}
	n, err := f.readAtLoop(ctx, p[res:], off+int64(res))
	return int(res) + n, err
}

// WriteAt is WriteAtContext without a context (io.WriterAt).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	return f.WriteAtContext(context.Background(), p, off)
}

// Read is ReadContext without a context (io.Reader).
func (f *File) Read(p []byte) (int, error) { return f.ReadContext(context.Background(), p) }

// Write is WriteContext without a context (io.Writer).
func (f *File) Write(p []byte) (int, error) { return f.WriteContext(context.Background(), p) }

// Sync is SyncContext without a context.
func (f *File) Sync() error { return f.SyncContext(context.Background()) }
