package aio

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// Transfers: Conn.ReadFrom and Conn.WriteTo, File.ReadFrom and
// File.WriteTo, and their Context forms. Which mechanism moves the bytes
// is decided in one place, transferMechanism (see mechanism.go's table):
// the kernel alone where it can (sendfile, splice through a pipe,
// copy_file_range: transfer_linux.go), else a copy through a buffer from
// a pool, never one allocated per call.

// transferState is a ring's share of the transfers: its counters and,
// on Linux, its pool of pipes for splice.
type transferState struct {
	copied   atomic.Uint64 // bytes moved through a userspace buffer
	zeroCopy atomic.Uint64 // bytes moved by the kernel alone
	pipes    pipePool
}

// xend is an aio side of a transfer: its File, and its Conn if it is one.
type xend struct {
	f *File
	c *Conn // nil: a File
}

func connEnd(c *Conn) xend { return xend{c.f, c} }
func fileEnd(f *File) xend { return xend{f, nil} }

// UndeliveredError reports bytes that left a transfer's source but never
// reached its destination: they were in the pipe between the two halves
// of a splice when the transfer was cancelled (a deadline, a context, a
// Close) or when the destination failed. They are not lost: Data holds
// them, in order, and they come right after the n bytes the transfer
// reported as delivered. Err is why the transfer stopped. The source's
// position (a LimitedReader's N) counts them as read.
type UndeliveredError struct {
	Data []byte
	Err  error
}

func (e *UndeliveredError) Error() string {
	return e.Err.Error() + " (" + strconv.Itoa(len(e.Data)) + " bytes read from the source were not delivered: see UndeliveredError.Data)"
}

// Unwrap returns why the transfer stopped.
func (e *UndeliveredError) Unwrap() error { return e.Err }

// Timeout reports whether a deadline stopped the transfer (net.Error).
func (e *UndeliveredError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary is false (net.Error asks).
func (e *UndeliveredError) Temporary() bool { return false }

// copyBufSize is the size of the pooled buffers of copies that cannot be
// zero-copy.
const copyBufSize = 64 << 10

var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// copyPooled moves bytes from read to write through a pooled buffer until
// read's io.EOF (or limit bytes, if limit >= 0), checking ctx between
// buffers, and counts them in r's Stats. read and write are the blocking
// calls of the two sides, bound to ctx where they take one. It returns
// the bytes written.
//
// Bytes read but not written (the write failed, or was cancelled) are
// never dropped: they are put back where the source can take them back
// (a file's or a section's position, a LimitedReader's N), else returned
// in an *UndeliveredError.
func (r *Ring) copyPooled(ctx context.Context, write func([]byte) (int, error), read func([]byte) (int, error), src io.Reader, limit int64) (written int64, err error) {
	buf := copyBufs.Get().(*[copyBufSize]byte)
	defer copyBufs.Put(buf)
	defer func() {
		r.xfer.copied.Add(uint64(written))
		// A call that found ctx done (a ReadContext, say) says so with
		// the context's bare error; the transfer it ended was cancelled.
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) && !errors.Is(err, ErrCanceled) {
			var ue *UndeliveredError
			if errors.As(err, &ue) {
				ue.Err = canceledBy(ctx.Err())
			} else {
				err = canceledBy(ctx.Err())
			}
		}
	}()
	for limit != 0 {
		if err := ctx.Err(); err != nil {
			return written, canceledBy(err)
		}
		p := buf[:]
		if limit > 0 && limit < int64(len(p)) {
			p = p[:limit]
		}
		nr, rerr := read(p)
		if nr > 0 {
			nw, werr := write(p[:nr])
			if nw < 0 || nw > nr {
				nw, werr = 0, errors.New("aio: invalid write result")
			}
			written += int64(nw)
			if limit > 0 {
				limit -= int64(nw)
			}
			if werr == nil && nw != nr {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				if rest := p[nw:nr]; len(rest) > 0 && !unread(src, int64(len(rest))) {
					werr = &UndeliveredError{Data: append([]byte(nil), rest...), Err: werr}
				}
				return written, werr
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
	return written, nil
}

// unread puts the last k bytes read from src back, where src can take
// them back: a file or section seeks back, a LimitedReader gives back
// its N. It reports false for a stream.
func unread(src io.Reader, k int64) bool {
	switch s := src.(type) {
	case *io.LimitedReader:
		if unread(s.R, k) {
			s.N += k
			return true
		}
		return false
	case *Conn:
		return false
	case io.Seeker: // a pipe's File is one too, whose Seek fails
		_, err := s.Seek(-k, io.SeekCurrent)
		return err == nil
	}
	return false
}

// readerWithContext returns src's blocking read bound to ctx, for the
// readers that take one (aio's), and src.Read for the others.
func readerWithContext(ctx context.Context, src io.Reader) func([]byte) (int, error) {
	switch s := src.(type) {
	case *File:
		return func(p []byte) (int, error) { return s.ReadContext(ctx, p) }
	case *Conn:
		return func(p []byte) (int, error) { return s.ReadContext(ctx, p) }
	case *dirFile:
		return func(p []byte) (int, error) { return s.f.ReadContext(ctx, p) }
	}
	return src.Read
}

// writerWithContext is readerWithContext for a destination.
func writerWithContext(ctx context.Context, dst io.Writer) func([]byte) (int, error) {
	switch d := dst.(type) {
	case *File:
		return func(p []byte) (int, error) { return d.WriteContext(ctx, p) }
	case *Conn:
		return func(p []byte) (int, error) { return d.WriteContext(ctx, p) }
	}
	return dst.Write
}

// ReadFrom copies r to the connection until r's io.EOF (io.ReaderFrom;
// io.Copy and net/http use it). A file (an aio File or DirFS file, an
// *os.File on a regular file) or a stream socket or pipe (an aio Conn or
// File, a *net.TCPConn, a *net.UnixConn), bare or in an
// *io.LimitedReader or *io.SectionReader, moves without a copy in
// userspace where mechanism.go says it can; anything else is copied
// through a pooled buffer. See ReadFromContext.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	return c.ReadFromContext(context.Background(), r)
}

// ReadFromContext is ReadFrom that also ends when ctx does. Whatever ends
// a transfer (ctx, the connection's write deadline while it waits to
// send, the source's read deadline while it waits for data, a Close of
// either side), n is exactly what the connection took, the source's
// position (a File's offset, a LimitedReader's N, a SectionReader's
// position) is left just after the bytes taken from it, and bytes taken
// from a stream source but not delivered are returned in an
// *UndeliveredError, never dropped.
func (c *Conn) ReadFromContext(ctx context.Context, r io.Reader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, c.opError("readfrom", err)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if !c.dgram {
		if n, err, handled := c.f.ring.zeroCopy(ctx, connEnd(c), r); handled {
			return n, c.opError("readfrom", err)
		}
	}
	n, err := c.f.ring.copyPooled(ctx, func(p []byte) (int, error) { return c.writeLocked(ctx, p) }, readerWithContext(ctx, r), r, -1)
	return n, c.opError("readfrom", unwrapOpError(err))
}

// WriteTo copies from the connection to w until the peer closes its side
// (io.WriterTo), without a userspace copy where mechanism.go says it
// can (w a stream socket or pipe, or a regular file), else through a
// pooled buffer. See ReadFromContext for how it ends.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	return c.WriteToContext(context.Background(), w)
}

// WriteToContext is WriteTo that also ends when ctx does; see
// ReadFromContext.
func (c *Conn) WriteToContext(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, c.opError("writeto", err)
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if !c.dgram {
		if n, err, handled := c.f.ring.zeroCopyTo(ctx, w, connEnd(c)); handled {
			return n, c.opError("writeto", err)
		}
	}
	n, err := c.f.ring.copyPooled(ctx, writerWithContext(ctx, w), func(p []byte) (int, error) { return c.readLocked(ctx, p) }, c, -1)
	return n, c.opError("writeto", unwrapOpError(err))
}

// unwrapOpError drops the *net.OpError of an aio Conn's own call, which
// the transfer wraps again in its own.
func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && err == error(oe) {
		return oe.Err
	}
	return err
}

// ReadFrom copies r into the file from the file's offset until r's
// io.EOF (io.ReaderFrom). From another file it is copy_file_range, from
// a stream socket or pipe a splice through a pipe (see mechanism.go),
// else a copy through a pooled buffer. See ReadFromContext.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	return f.ReadFromContext(context.Background(), r)
}

// ReadFromContext is ReadFrom that also ends when ctx does; n is what
// reached the file, and the source's position is left consistent with it
// (see Conn.ReadFromContext).
func (f *File) ReadFromContext(ctx context.Context, r io.Reader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, f.pathErr("write", err)
	}
	if n, err, handled := f.ring.zeroCopy(ctx, fileEnd(f), r); handled {
		return n, f.pathErr("write", err)
	}
	n, err := f.ring.copyPooled(ctx, func(p []byte) (int, error) { return f.write(ctx, p, -1) }, readerWithContext(ctx, r), r, -1)
	return n, f.pathErr("write", unwrapPathError(err))
}

// WriteTo copies the file from its offset to w until the end of the file
// (io.WriterTo): sendfile to a stream socket or pipe, copy_file_range to
// another file (see mechanism.go), else through a pooled buffer.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	return f.WriteToContext(context.Background(), w)
}

// WriteToContext is WriteTo that also ends when ctx does; see
// Conn.ReadFromContext.
func (f *File) WriteToContext(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, f.pathErr("read", err)
	}
	if n, err, handled := f.ring.zeroCopyTo(ctx, w, fileEnd(f)); handled {
		return n, f.pathErr("read", err)
	}
	n, err := f.ring.copyPooled(ctx, writerWithContext(ctx, w), func(p []byte) (int, error) { return f.ReadContext(ctx, p) }, f, -1)
	return n, f.pathErr("read", unwrapPathError(err))
}

// unwrapPathError drops a *fs.PathError of the File's own call, which
// the transfer wraps again in its own.
func unwrapPathError(err error) error {
	if pe, ok := err.(interface{ Unwrap() error }); ok {
		if _, isPath := err.(*os.PathError); isPath {
			return pe.Unwrap()
		}
	}
	return err
}

// WriteTo copies the DirFS file from its offset to w (io.WriterTo), as
// File.WriteTo, with the file system's context.
func (d *dirFile) WriteTo(w io.Writer) (int64, error) { return d.f.WriteToContext(d.fsys.ctx, w) }
