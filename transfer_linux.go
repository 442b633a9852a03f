package aio

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// side is one side of a zero-copy transfer.
type side struct {
	f         *File       // aio's own; nil for a foreign descriptor
	closedErr error       // what a closed f reports: net.ErrClosed for a Conn
	mu        *sync.Mutex // held throughout: a Conn's read or write lock

	// regular: a regular file (or block device), whose transfers never
	// wait for readiness; else a stream, waiting in poll.
	regular bool
	poll    *pollFD
	refs    *core.Refs // f's, or the side's own for a foreign descriptor
	fd      int
	off     int64 // regular: the offset to use, updated by the kernel; -1: the file position
	appends bool  // regular, opened O_APPEND: nothing may write at an offset

	// A foreign descriptor: a regular file's is used inside raw's
	// callback (which keeps it open); a stream's is a duplicate, in the
	// netpoller through poll (tmp), closed when the transfer ends.
	raw syscall.RawConn
	tmp bool
}

// closedErr is what the side reports once closed: net.ErrClosed for a
// Conn, os.ErrClosed for a File.
func (e xend) closedErr() error {
	if e.c != nil {
		return net.ErrClosed
	}
	return os.ErrClosed
}

// transferKind is a mechanism for a transfer (see mechanism.go).
type transferKind uint8

const (
	transferNone      transferKind = iota // copy through a pooled buffer
	transferSendfile                      // a regular file to a stream: sendfile(2), waiting on the stream
	transferSplice                        // a stream to a stream or a file: splice(2) through a pooled pipe
	transferCopyRange                     // a regular file to a regular file: copy_file_range(2)
)

// transferMechanism decides, in one place, how bytes move from src to
// dst on Linux (mechanism.go's table): only the kernel touches them in
// every case it names; the rest are copied through a pooled buffer.
func transferMechanism(dst, src *side) transferKind {
	switch {
	case src.regular && dst.regular:
		return transferCopyRange
	case src.regular:
		return transferSendfile
	case src.off >= 0: // a stream has no offsets
		return transferNone
	case dst.regular && dst.appends:
		return transferNone // splice(2) refuses O_APPEND files
	default:
		return transferSplice
	}
}

// zeroCopyOK reports whether this ring moves bytes without a userspace
// copy: on the readiness backends only (the simulator sees every
// operation and so copies; see mechanism.go).
func (r *Ring) zeroCopyOK() bool { return r.readinessBackend() && !r.noDirect }

// zeroCopy moves src into dst, an aio File or Conn, without a userspace
// copy if transferMechanism can. handled false: nothing was done, and the
// caller copies.
func (r *Ring) zeroCopy(ctx context.Context, dst xend, src io.Reader) (int64, error, bool) {
	if !r.zeroCopyOK() {
		return 0, nil, false
	}
	s := unwrapSource(src)
	if s.lr != nil && s.limit <= 0 {
		return 0, nil, true
	}
	x := &transferOp{r: r, ctx: ctx}
	var ok bool
	if x.src, ok = r.readSide(&s); !ok {
		return 0, nil, false
	}
	if x.dst, ok = aioSide(dst.f, dst.closedErr()); !ok {
		x.src.release()
		return 0, nil, false
	}
	return x.transfer(&s)
}

// zeroCopyTo moves src, an aio File or Conn, into dst, as zeroCopy.
func (r *Ring) zeroCopyTo(ctx context.Context, dst io.Writer, src xend) (int64, error, bool) {
	if !r.zeroCopyOK() {
		return 0, nil, false
	}
	x := &transferOp{r: r, ctx: ctx}
	var ok bool
	if x.src, ok = aioSide(src.f, src.closedErr()); !ok {
		return 0, nil, false
	}
	if x.dst, ok = r.writeSide(dst); !ok {
		return 0, nil, false
	}
	s := source{r: nil, limit: -1, off: -1}
	return x.transfer(&s)
}

// aioSide describes an aio File as a side: a regular file, or a stream on
// the readiness path. ok false: neither (a stream the driver serves).
func aioSide(f *File, closedErr error) (side, bool) {
	s := side{f: f, closedErr: closedErr, refs: &f.refs, fd: f.fd, off: -1}
	switch {
	case f.regular:
		s.regular = true
		if fl, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0); err == nil {
			s.appends = fl&unix.O_APPEND != 0
		}
	case f.poll != nil:
		s.poll = f.poll
	default:
		return side{}, false
	}
	return s, true
}

// readSide describes a transfer's source (unwrapped) as a side.
func (r *Ring) readSide(s *source) (side, bool) {
	var sd side
	var ok bool
	switch v := s.r.(type) {
	case *File:
		sd, ok = aioSide(v, os.ErrClosed)
	case *dirFile:
		sd, ok = aioSide(v.f, os.ErrClosed)
	case *Conn:
		if v.dgram {
			return side{}, false
		}
		sd, ok = aioSide(v.f, net.ErrClosed)
		sd.mu = &v.readMu
	case readerAtAsReader: // a section: a regular file at an offset
		switch a := v.ReaderAt.(type) {
		case *File:
			sd, ok = aioSide(a, os.ErrClosed)
		case *dirFile:
			sd, ok = aioSide(a.f, os.ErrClosed)
		default:
			sd, ok = r.foreignSide(a)
		}
		ok = ok && sd.regular
	default:
		sd, ok = r.foreignSide(v)
	}
	if !ok {
		return side{}, false
	}
	sd.off = s.off
	return sd, true
}

// writeSide describes a transfer's destination as a side.
func (r *Ring) writeSide(w io.Writer) (side, bool) {
	switch v := w.(type) {
	case *File:
		return aioSide(v, os.ErrClosed)
	case *Conn:
		if v.dgram {
			return side{}, false
		}
		sd, ok := aioSide(v.f, net.ErrClosed)
		sd.mu = &v.writeMu
		return sd, ok
	}
	return r.foreignSide(w)
}

// foreignSide describes a descriptor aio does not own (an *os.File, a
// *net.TCPConn, a *net.UnixConn, or anything else with SyscallConn): a
// regular file, or a non-blocking stream socket or pipe, which is
// duplicated and put in the netpoller for the transfer.
func (r *Ring) foreignSide(v any) (side, bool) {
	sc, ok := v.(syscall.Conn)
	if !ok {
		return side{}, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return side{}, false
	}
	var st unix.Stat_t
	var fl, dup int
	var typeErr error
	if err := raw.Control(func(fd uintptr) {
		if typeErr = unix.Fstat(int(fd), &st); typeErr != nil {
			return
		}
		if fl, typeErr = unix.FcntlInt(fd, unix.F_GETFL, 0); typeErr != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFSOCK:
			var typ int
			if typ, typeErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); typeErr == nil && typ != unix.SOCK_STREAM {
				typeErr = unix.EINVAL
			}
			fallthrough
		case unix.S_IFIFO:
			if typeErr == nil && fl&unix.O_NONBLOCK != 0 {
				dup, typeErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
			}
		}
	}); err != nil || typeErr != nil {
		return side{}, false
	}
	sd := side{closedErr: os.ErrClosed, refs: new(core.Refs), off: -1, raw: raw}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		sd.regular, sd.appends = true, fl&unix.O_APPEND != 0
		return sd, true
	case unix.S_IFSOCK, unix.S_IFIFO:
		if fl&unix.O_NONBLOCK == 0 {
			return side{}, false // blocking: aio does not change its flags
		}
		p, ok := newPollFD(dup, "", r, false, nil)
		if !ok {
			unix.Close(dup)
			return side{}, false
		}
		sd.poll, sd.tmp, sd.fd, sd.raw = p, true, dup, nil
		return sd, true
	}
	return side{}, false
}

// release gives back what describing the side took (a duplicate).
func (sd *side) release() {
	if sd.tmp {
		sd.poll.close()
		sd.tmp = false
	}
}

// transferOp is one zero-copy transfer in flight.
type transferOp struct {
	r        *Ring
	ctx      context.Context // the caller's
	dst, src side
	limit    int64 // bytes at most; -1: until the source's end

	unflushed int64 // bytes moved, not yet in the ring's Stats (moved)

	// aborted: a Close of one of the aio sides stopped the transfer
	// (abort); a wait on the other side is kicked (pollFD.doFunc).
	aborted atomic.Bool

	// The system call that call makes (see sysCall), and what it needs.
	sys   transferCall
	offp  *int64 // sendfile's source offset, nil: the position
	count int    // the next call's size
	pipe  *splicePipe
}

// transferCall is the system call transferOp.call makes.
type transferCall uint8

const (
	callSendfile transferCall = iota // from the source file into the stream
	callDrain                        // from the source stream into the pipe
	callPump                         // from the pipe into the destination stream
)

// moved counts n bytes moved in the ring's Stats, a megabyte at a time
// (and the rest at the end, flush): one counter shared by every transfer
// of the ring, written per system call, would bounce between cores.
func (x *transferOp) moved(n int64) {
	x.unflushed += n
	if x.unflushed >= 1<<20 {
		x.flush()
	}
}

func (x *transferOp) flush() {
	x.r.xfer.zeroCopy.Add(uint64(x.unflushed))
	x.unflushed = 0
}

// abort stops the transfer: a Close of one of its aio sides.
func (x *transferOp) abort() {
	x.aborted.Store(true)
	if x.src.poll != nil {
		x.src.poll.dirs[dirRead].kickAbort(&x.aborted)
	}
	if x.dst.poll != nil {
		x.dst.poll.dirs[dirWrite].kickAbort(&x.aborted)
	}
}

// call makes x.sys on fd, the descriptor a readiness wait is for (a
// sysCall of pollFD.doFunc).
func (x *transferOp) call(fd int) (int, syscall.Errno) {
	var n int
	var err error
	switch x.sys {
	case callSendfile:
		n, err = unix.Sendfile(fd, x.src.fd, x.offp, x.count)
	case callDrain:
		m, e := unix.Splice(fd, nil, x.pipe.w, nil, x.count, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		n, err = int(m), e
	case callPump:
		m, e := unix.Splice(x.pipe.r, nil, fd, nil, x.count, unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
		n, err = int(m), e
	}
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return n, 0
}

// stop reports whether the transfer must stop before its next call, and
// why.
func (x *transferOp) stop(waitedOn *side) error {
	if x.aborted.Load() {
		return x.stopped(errAborted, waitedOn)
	}
	if err := x.ctx.Err(); err != nil {
		return canceledBy(err)
	}
	return nil
}

// errAborted: a transfer's wait ended because abort was called.
var errAborted = errors.New("transfer aborted")

// transfer runs x, from x.src to x.dst, with the mechanism
// transferMechanism chooses. It takes both sides' references (so that
// their Close waits, after aborting it), and tells s what was taken from
// the source. It allocates nothing when both sides are aio's.
func (x *transferOp) transfer(s *source) (n int64, err error, handled bool) {
	dst, src := &x.dst, &x.src
	defer dst.release()
	defer src.release()
	mech := transferMechanism(dst, src)
	if mech == transferNone {
		return 0, nil, false
	}
	if dst.f != nil {
		if !dst.refs.Acquire() {
			return 0, dst.closedErr, true
		}
		defer dst.refs.Release()
	}
	if src.f != nil {
		if !src.refs.Acquire() {
			return 0, src.closedErr, true
		}
		defer src.refs.Release()
	}
	if dst.mu != nil {
		dst.mu.Lock()
		defer dst.mu.Unlock()
	}
	if src.mu != nil {
		src.mu.Lock()
		defer src.mu.Unlock()
	}
	if dst.f != nil && dst.regular { // a sync called meanwhile waits for it (rule 10)
		epoch := dst.f.writes.Enter()
		defer dst.f.writes.Exit(epoch)
	}
	x.limit = s.limit
	if dst.f != nil {
		dst.f.xfers.add(x)
		defer dst.f.xfers.remove(x)
	}
	if src.f != nil {
		src.f.xfers.add(x)
		defer src.f.xfers.remove(x)
	}
	// A foreign regular file is used inside its RawConn's callback, which
	// keeps its descriptor open (and, as os.File's own calls, takes its
	// read or write lock).
	var taken int64
	switch {
	case src.raw != nil && dst.raw != nil:
		panic("aio: inconsistent transfer: neither side is aio's")
	case src.raw != nil:
		n, taken, err, handled = x.runInside(src, false, mech)
	case dst.raw != nil:
		n, taken, err, handled = x.runInside(dst, true, mech)
	default:
		n, taken, err, handled = x.run(mech)
	}
	x.flush()
	if taken > 0 {
		s.consumed(taken)
	}
	return n, err, handled
}

// run moves the bytes with mech: n reached the destination, taken left
// the source (more than n only if a splice stopped with bytes in its
// pipe).
func (x *transferOp) run(mech transferKind) (n, taken int64, err error, handled bool) {
	switch mech {
	case transferSendfile:
		n, err, handled = x.sendfile()
		taken = n
	case transferCopyRange:
		n, err, handled = x.copyRange()
		taken = n
	case transferSplice:
		n, taken, err, handled = x.splice()
	}
	return n, taken, err, handled
}

// runInside is run inside the callback of sd's RawConn (sd is a foreign
// regular file), as its reader or, if write, its writer.
func (x *transferOp) runInside(sd *side, write bool, mech transferKind) (n, taken int64, err error, handled bool) {
	fn := func(fd uintptr) bool {
		sd.fd = int(fd)
		n, taken, err, handled = x.run(mech)
		return true
	}
	var rerr error
	if write {
		rerr = sd.raw.Write(fn)
	} else {
		rerr = sd.raw.Read(fn)
	}
	if rerr != nil {
		return 0, 0, nil, false
	}
	return n, taken, err, handled
}

// unsupported reports whether errno says the kernel cannot do this
// transfer between these descriptors at all (so that, with nothing
// moved, the caller copies instead).
func unsupported(errno syscall.Errno) bool {
	switch errno {
	case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP, unix.EXDEV, unix.EBADF:
		return true
	}
	return false
}

// maxTransferChunk is the most one system call of a transfer moves: the
// kernel's own limit is a little under 2 GiB, and a context is looked at
// between chunks.
const maxTransferChunk = 1 << 30

// chunk is the size of the next system call, at most max.
func (x *transferOp) chunk(max int) int {
	if x.limit >= 0 && x.limit < int64(max) {
		return int(x.limit)
	}
	return max
}

// stopped turns why a wait on sd ended without a result into the
// transfer's error.
func (x *transferOp) stopped(cause error, sd *side) error {
	switch {
	case x.aborted.Load():
		// A Close of one of the sides stopped the transfer (whatever
		// the wait it ended says).
		for _, s := range []*side{&x.dst, &x.src} {
			if s.f != nil && s.f.refs.Closing() {
				return canceledBy(s.closedErr)
			}
		}
		return canceledBy(os.ErrClosed)
	case cause == errClosedBeforeStart || cause == os.ErrClosed:
		return canceledBy(sd.closedErr)
	}
	return canceledBy(cause)
}

// sendfile moves a regular file into a stream: sendfile(2) from the
// file's position (or the side's offset), waiting in the netpoller while
// the stream is full.
func (x *transferOp) sendfile() (written int64, err error, handled bool) {
	src, dst := &x.src, &x.dst
	if src.off >= 0 {
		x.offp = &src.off
	}
	x.sys = callSendfile
	for x.limit != 0 {
		if err := x.stop(dst); err != nil {
			return written, err, true
		}
		x.count = x.chunk(maxTransferChunk)
		res, cause := dst.poll.doFunc(x.ctx, dirWrite, &x.aborted, x)
		if cause != nil {
			return written, x.stopped(cause, dst), true
		}
		if res < 0 {
			errno := syscall.Errno(-res)
			if written == 0 && unsupported(errno) {
				return 0, nil, false
			}
			return written, os.NewSyscallError("sendfile", errno), true
		}
		if res == 0 {
			break // the end of the file
		}
		written += int64(res)
		x.moved(int64(res))
		if x.limit > 0 {
			x.limit -= int64(res)
		}
	}
	return written, nil, true
}

// copyRange moves a regular file into another: copy_file_range(2) in the
// caller's thread, which waits for the file system as a write would (see
// mechanism.go), in chunks between which a context is looked at.
func (x *transferOp) copyRange() (written int64, err error, handled bool) {
	src, dst := &x.src, &x.dst
	var offp *int64
	if src.off >= 0 {
		offp = &src.off
	}
	for x.limit != 0 {
		if err := x.stop(dst); err != nil {
			return written, err, true
		}
		n, err := unix.CopyFileRange(src.fd, offp, dst.fd, nil, x.chunk(copyRangeChunk), 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			errno := err.(syscall.Errno)
			if written == 0 && unsupported(errno) {
				return 0, nil, false
			}
			return written, os.NewSyscallError("copy_file_range", errno), true
		}
		if n == 0 {
			break
		}
		written += int64(n)
		x.moved(int64(n))
		if x.limit > 0 {
			x.limit -= int64(n)
		}
	}
	return written, nil, true
}

// copyRangeChunk is the most one copy_file_range moves, so that a
// context ends a long copy soon.
const copyRangeChunk = 8 << 20

// splice moves a stream into a stream or a file through a pooled pipe:
// each round drains what the source has (up to the pipe's size) into the
// pipe, waiting in the netpoller for the source, then pumps all of it
// into the destination, waiting for the destination. taken counts what
// left the source: what the destination got, plus, if the transfer was
// stopped with bytes in the pipe, those bytes, returned in an
// UndeliveredError.
func (x *transferOp) splice() (written, taken int64, err error, handled bool) {
	src, dst := &x.src, &x.dst
	sp, perr := x.r.xfer.pipes.get()
	if perr != nil {
		return 0, 0, nil, false
	}
	x.pipe = sp
	inPipe := 0
	defer func() {
		if inPipe > 0 { // stopped with bytes in the pipe: hand them over
			err = &UndeliveredError{Data: sp.drain(inPipe), Err: err}
		}
		x.r.xfer.pipes.put(sp)
	}()
	for x.limit != 0 {
		if err := x.stop(src); err != nil {
			return written, taken, err, true
		}
		x.count, x.sys = x.chunk(sp.size), callDrain
		res, cause := src.poll.doFunc(x.ctx, dirRead, &x.aborted, x)
		if cause != nil {
			return written, taken, x.stopped(cause, src), true
		}
		if res < 0 {
			errno := syscall.Errno(-res)
			if taken == 0 && unsupported(errno) {
				return 0, 0, nil, false
			}
			return written, taken, os.NewSyscallError("splice", errno), true
		}
		if res == 0 {
			break // the end of the stream
		}
		inPipe = int(res)
		taken += int64(res)
		if x.limit > 0 {
			x.limit -= int64(res)
		}
		for inPipe > 0 {
			var res int32
			var cause error
			if dst.regular {
				res = spliceToFile(sp.r, dst, inPipe)
			} else {
				x.count, x.sys = inPipe, callPump
				res, cause = dst.poll.doFunc(x.ctx, dirWrite, &x.aborted, x)
			}
			if cause != nil {
				return written, taken, x.stopped(cause, dst), true
			}
			if res <= 0 {
				if res == 0 {
					res = -int32(unix.EIO) // the destination took nothing and said nothing
				}
				return written, taken, os.NewSyscallError("splice", syscall.Errno(-res)), true
			}
			written += int64(res)
			x.moved(int64(res))
			inPipe -= int(res)
		}
	}
	return written, taken, nil, true
}

// spliceToFile splices up to n bytes from the pipe into a regular file at
// the side's offset (or its position), in the caller's thread as a write
// to the file is: the count, or -errno.
func spliceToFile(pipeR int, dst *side, n int) int32 {
	var offp *int64
	if dst.off >= 0 {
		offp = &dst.off
	}
	for {
		m, err := unix.Splice(pipeR, nil, dst.fd, offp, n, unix.SPLICE_F_MOVE)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -int32(err.(syscall.Errno))
		}
		return int32(m)
	}
}
