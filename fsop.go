package aio

import (
	"context"
	"os"
	"strings"
	"syscall"

	"github.com/waitforit/aio/internal/core"
)

// fsReq is one file system operation (see the core.Kind comments for
// what each kind takes). buf, when set, is written by the operation (a
// stat buffer, directory entries, a link's target) or read by it (a
// struct open_how): it belongs to the operation until its completion,
// and fsDo returns only after that.
type fsReq struct {
	kind        core.Kind
	file        *File // the descriptor operated on or relative to; its Close waits for the operation
	dirfd       int   // the directory when file is nil (atFDCWD: the working directory)
	path, path2 string
	buf         []byte
	off, length int64
	flags       int
	mode        uint32
}

// fsDo runs q and waits for it honestly (see Ring.await): a context
// that ends cancels the operation in flight and still waits, and an
// operation that happened anyway reports its success. A context already
// done, a closed file or ring, or a kind the backend cannot do submits
// nothing. It returns the kernel's result (a count, a descriptor) and the
// record's Off after completion (KindSeek's new offset); err is the
// bare cause, for the caller to put in its *fs.PathError or
// *os.LinkError.
func (r *Ring) fsDo(ctx context.Context, q *fsReq) (res int32, off int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if err := r.supported(q.kind); err != nil {
		return 0, 0, err
	}
	var path, path2 []byte
	switch q.kind {
	case core.KindRename, core.KindLink, core.KindSymlink:
		path2 = cpath(q.path2)
		fallthrough
	case core.KindStat, core.KindOpenAt, core.KindOpenat2, core.KindMkdir, core.KindUnlink, core.KindReadlink:
		path = cpath(q.path) // "" is the descriptor itself for a stat with statFlagsFD
	}
	for {
		var fileRefs *core.Refs
		if q.file != nil {
			if !q.file.refs.Acquire() {
				return 0, 0, os.ErrClosed
			}
			fileRefs = &q.file.refs
		}
		if !r.acquire() {
			if fileRefs != nil {
				fileRefs.Release()
			}
			return 0, 0, os.ErrClosed
		}
		rec := r.table.Get()
		rec.Kind, rec.FD, rec.Path, rec.Path2, rec.Buf = q.kind, q.dirfd, path, path2, q.buf
		rec.Off, rec.Len, rec.Flags, rec.Mode = q.off, q.length, q.flags, q.mode
		rec.FileRefs, rec.RingRefs = fileRefs, &r.refs
		if q.file != nil {
			rec.FD, rec.Handle = q.file.fd, q.file.handle
		}
		if err := r.table.Submit(rec); err != nil {
			r.table.Put(rec)
			r.refs.Release()
			if fileRefs != nil {
				fileRefs.Release()
			}
			return 0, 0, err
		}
		res, ctxErr := r.await(ctx, rec)
		off = rec.Off
		r.table.Put(rec)
		switch {
		case res >= 0:
			return res, off, nil
		case res == -int32(syscall.EINTR) && ctxErr == nil:
			continue // interrupted, not cancelled: again, as os does
		case res == -int32(syscall.EINTR):
			// A cancel interrupted the worker before the call did
			// anything: the kernel reports that as EINTR.
			res = -int32(syscall.ECANCELED)
		}
		return res, off, r.errnoErr(res, ctxErr, fileRefs, os.ErrClosed)
	}
}

// cpath is a path as the kernel takes it: NUL-terminated, in memory of
// its own that the record pins until the completion. The caller has
// refused names with a NUL inside (see badPath).
func cpath(p string) []byte {
	if p == "" {
		return emptyPath
	}
	b := make([]byte, len(p)+1)
	copy(b, p)
	return b
}

// emptyPath is the empty path: the kernel answers ENOENT, except for a
// stat of the descriptor itself (AT_EMPTY_PATH on Linux; fstat
// elsewhere). Operations only read it.
var emptyPath = []byte{0}

// badPath reports whether name cannot be a path: it holds a NUL byte.
// Such names get EINVAL and submit nothing, as in os.
func badPath(name string) bool { return strings.IndexByte(name, 0) >= 0 }
