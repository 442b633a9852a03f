package aio

import (
	"context"
	"io"
	"os"
	"sync/atomic"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// Zero-copy transfers on Windows: a regular file to an aio stream Conn is
// TransmitFile (core.KindSendFile on the IOCP driver), as Go's net does
// for a *net.TCPConn. Everything else is a copy through a pooled buffer
// (see mechanism.go).

// pipePool: splice is Linux's; no pipes here.
type pipePool struct{}

func (p *pipePool) close() {}

// maxSendFileChunk is the most one TransmitFile sends: its count is a
// DWORD (at most 2 GiB - 2), a completion reports an int32, and a context
// is looked at between chunks.
const maxSendFileChunk = 1 << 30

// zeroCopy moves src into dst without a userspace copy where dst is a
// stream Conn and src a regular file: an aio File or DirFS file, an
// *os.File, bare or in an *io.LimitedReader or *io.SectionReader (or
// net/http's file wrapper). handled false: nothing was done, and the
// caller copies.
func (r *Ring) zeroCopy(ctx context.Context, dst xend, src io.Reader) (int64, error, bool) {
	if dst.c == nil || dst.c.dgram || r.supported(core.KindSendFile) != nil {
		return 0, nil, false
	}
	s := unwrapSource(src)
	if s.lr != nil && s.limit <= 0 {
		return 0, nil, true
	}
	var v any = s.r
	if ra, ok := v.(readerAtAsReader); ok {
		v = ra.ReaderAt
	}
	switch f := v.(type) {
	case *dirFile:
		return r.transmitFile(ctx, dst.c, f.f, &s)
	case *File:
		return r.transmitFile(ctx, dst.c, f, &s)
	case *os.File:
		return r.transmitOSFile(ctx, dst.c, f, &s)
	}
	return 0, nil, false
}

// zeroCopyTo moves src into dst without a userspace copy where src is a
// regular aio File and dst a stream Conn (File.WriteTo); see zeroCopy.
func (r *Ring) zeroCopyTo(ctx context.Context, dst io.Writer, src xend) (int64, error, bool) {
	c, ok := dst.(*Conn)
	if !ok || src.c != nil || c.dgram || r.supported(core.KindSendFile) != nil {
		return 0, nil, false
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	s := source{r: src.f, limit: -1, off: -1}
	return r.transmitFile(ctx, c, src.f, &s)
}

// transmitFile sends the aio File f (a regular file) on c from s's
// offset, or f's position, which it moves by what was sent. It holds a
// reference on f, so that f's Close waits for it after aborting it.
func (r *Ring) transmitFile(ctx context.Context, c *Conn, f *File, s *source) (int64, error, bool) {
	if !f.regular {
		return 0, nil, false
	}
	if !f.refs.Acquire() {
		return 0, os.ErrClosed, true
	}
	defer f.refs.Release()
	x := &transmit{r: r, c: c, h: windows.Handle(f.fd)}
	ctx, x.cancel = context.WithCancel(ctx)
	defer x.cancel()
	f.xfers.add(x)
	defer f.xfers.remove(x)
	off := s.off
	if off < 0 { // the file's position
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, unwrapPathError(err), true
		}
		off = pos
	}
	n, err := x.run(ctx, off, s.limit)
	if s.off < 0 && n > 0 {
		if _, serr := f.Seek(off+n, io.SeekStart); serr != nil && err == nil {
			err = unwrapPathError(serr)
		}
	}
	s.consumed(n)
	return n, err, true
}

// transmitOSFile sends an *os.File on a regular file, inside its
// RawConn's callback (which keeps its handle open), from s's offset or
// the handle's position, which it moves by what was sent (as Go's own
// sendfile on Windows does).
func (r *Ring) transmitOSFile(ctx context.Context, c *Conn, of *os.File, s *source) (n int64, err error, handled bool) {
	raw, rerr := of.SyscallConn()
	if rerr != nil {
		return 0, nil, false
	}
	x := &transmit{r: r, c: c}
	rerr = raw.Read(func(fd uintptr) bool {
		x.h = windows.Handle(fd)
		if t, terr := windows.GetFileType(x.h); terr != nil || t != windows.FILE_TYPE_DISK {
			return true // not a file on a disk: copied
		}
		off := s.off
		if off < 0 {
			pos, serr := windows.Seek(x.h, 0, io.SeekCurrent)
			if serr != nil {
				return true
			}
			off = pos
		}
		handled = true
		n, err = x.run(ctx, off, s.limit)
		if s.off < 0 && n > 0 {
			if _, serr := windows.Seek(x.h, off+n, io.SeekStart); serr != nil && err == nil {
				err = os.NewSyscallError("SetFilePointerEx", serr)
			}
		}
		return true
	})
	if rerr != nil || !handled {
		return 0, nil, false
	}
	s.consumed(n)
	return n, err, true
}

// transmit is one file's transfer to a Conn in flight.
type transmit struct {
	r      *Ring
	c      *Conn
	h      windows.Handle // the file
	cancel context.CancelFunc
	// aborted: a Close of the file stopped the transfer (abort), by
	// cancelling the context its sends wait with.
	aborted atomic.Bool
}

// abort stops the transfer: a Close of its source File.
func (x *transmit) abort() {
	x.aborted.Store(true)
	x.cancel()
}

// run sends the file from off on x.c, limit bytes at most (-1: to the
// end of the file), TransmitFile by TransmitFile. n is what the
// connection took, including what a cancelled one had sent.
func (x *transmit) run(ctx context.Context, off, limit int64) (n int64, err error) {
	c := x.c
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(x.h, &fi); err != nil {
		return 0, os.NewSyscallError("GetFileInformationByHandle", err)
	}
	if rest := int64(fi.FileSizeHigh)<<32 | int64(fi.FileSizeLow) - off; limit < 0 || limit > rest {
		limit = max(rest, 0)
	}
	defer func() {
		if err != nil && x.aborted.Load() {
			err = canceledBy(os.ErrClosed) // the file's Close ended it
		}
	}()
	for n < limit {
		switch {
		case x.aborted.Load():
			return n, canceledBy(os.ErrClosed)
		case ctx.Err() != nil:
			return n, canceledBy(ctx.Err())
		case c.wd.passed():
			return n, os.ErrDeadlineExceeded
		}
		op := sockOp{kind: core.KindSendFile, src: int(x.h), off: off + n, n: min(limit-n, maxSendFileChunk)}
		res, _, err := c.ioRing(ctx, &op, &c.wd)
		if res > 0 { // a cancelled send may have sent some: they count
			n += int64(res)
			x.r.xfer.zeroCopy.Add(uint64(res))
		}
		if err != nil {
			return n, err
		}
		if res == 0 {
			break // the file is shorter than it was
		}
	}
	return n, nil
}
