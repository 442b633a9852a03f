package aio

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/waitforit/aio/internal/core"
)

// fileFS is a File's state for the file system methods.
type fileFS struct {
	dir  atomic.Pointer[dirReader] // made by the first ReadDir; dropped by Seek, as os does
	kind atomic.Int32              // what the file is known to be: kindUnknown, kindDir, kindNotDir
}

const (
	kindUnknown = iota
	kindDir
	kindNotDir
)

// noteType remembers whether the file is a directory (a descriptor's type
// never changes).
func (f *File) noteType(mode fs.FileMode) {
	if mode.IsDir() {
		f.fs.kind.Store(kindDir)
	} else {
		f.fs.kind.Store(kindNotDir)
	}
}

// Seek sets the offset for the next Read or Write to offset, interpreted
// according to whence (io.SeekStart, io.SeekCurrent, io.SeekEnd, and
// SEEK_DATA and SEEK_HOLE where the system has them), and returns the new
// offset, as os.File.Seek. Read, ReadContext, Write and WriteContext use
// and advance the offset; ReadAt, WriteAt and their Start forms neither
// use nor change it. Seek on a pipe or a socket fails with ESPIPE; an
// unknown whence fails with EINVAL and does nothing. Seeking a directory
// restarts its ReadDir from the offset, as in os.
//
// lseek(2) never waits for a device, so Seek takes no context; it runs
// on the backend's worker path at once (io_uring has no lseek).
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if !validWhence(whence) {
		return 0, f.pathErr("seek", syscall.EINVAL)
	}
	f.fs.dir.Store(nil) // a ReadDir after this starts afresh
	_, off, err := f.ring.fsDo(context.Background(), &fsReq{kind: core.KindSeek, file: f, off: offset, flags: whence})
	if err != nil {
		return 0, f.pathErr("seek", err)
	}
	return off, nil
}

// Stat is StatContext without a context.
func (f *File) Stat() (fs.FileInfo, error) { return f.StatContext(context.Background()) }

// StatContext returns the file's fs.FileInfo, as os.File.Stat: on Unix its
// Sys is a *syscall.Stat_t. On io_uring it is IORING_OP_STATX (Linux
// 5.6), elsewhere fstat(2) on a worker. A context that ends while the
// stat is in flight cancels it if it has not started.
func (f *File) StatContext(ctx context.Context) (fs.FileInfo, error) {
	b := new(statBuf) // the operation's until its completion, which fsDo waits for
	if _, _, err := f.ring.fsDo(ctx, &fsReq{kind: core.KindStat, file: f, flags: statFlagsFD, buf: b.bytes()}); err != nil {
		return nil, f.pathErr("stat", err)
	}
	fi := b.fileInfo(f.name)
	f.noteType(fi.Mode())
	return fi, nil
}

// Truncate is TruncateContext without a context.
func (f *File) Truncate(size int64) error { return f.TruncateContext(context.Background(), size) }

// TruncateContext changes the size of the file (ftruncate(2)), as
// os.File.Truncate. A negative size fails with EINVAL and submits
// nothing. On io_uring it is IORING_OP_FTRUNCATE where the kernel has it
// (6.9), otherwise a worker's ftruncate.
func (f *File) TruncateContext(ctx context.Context, size int64) error {
	if size < 0 {
		return f.pathErr("truncate", syscall.EINVAL)
	}
	_, _, err := f.ring.fsDo(ctx, &fsReq{kind: core.KindFtruncate, file: f, off: size})
	return f.pathErr("truncate", err)
}

// Allocate makes sure the file has disk space for length bytes from off
// (fallocate(2)): mode 0 allocates and extends the file if off+length
// is beyond its end; unix.FALLOC_FL_KEEP_SIZE allocates without
// changing the size; unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE
// frees the range. A negative off or a length <= 0 fails with EINVAL and
// submits nothing. Errors name the operation "allocate". fallocate is
// Linux's: elsewhere the error matches errors.ErrUnsupported
// (EOPNOTSUPP). On io_uring it is IORING_OP_FALLOCATE (5.6).
func (f *File) Allocate(ctx context.Context, mode uint32, off, length int64) error {
	if off < 0 || length <= 0 {
		return f.pathErr("allocate", syscall.EINVAL)
	}
	_, _, err := f.ring.fsDo(ctx, &fsReq{kind: core.KindFallocate, file: f, flags: int(mode), off: off, length: length})
	return f.pathErr("allocate", err)
}

// Advise tells the kernel how the range [off, off+length) will be read
// (posix_fadvise(2); length 0 means to the end of the file): advice is
// unix.FADV_WILLNEED to read it ahead (a prefetch), FADV_SEQUENTIAL,
// FADV_RANDOM, FADV_DONTNEED, ... A negative off or length fails with
// EINVAL and submits nothing. Errors name the operation "advise". Where
// the system has no posix_fadvise (Darwin, OpenBSD) it does nothing: it
// is only a hint. On io_uring it is IORING_OP_FADVISE (5.6).
func (f *File) Advise(ctx context.Context, off, length int64, advice int) error {
	if off < 0 || length < 0 {
		return f.pathErr("advise", syscall.EINVAL)
	}
	_, _, err := f.ring.fsDo(ctx, &fsReq{kind: core.KindFadvise, file: f, flags: advice, off: off, length: length})
	return f.pathErr("advise", err)
}

// WriteString is Write of s's bytes (io.StringWriter), without a copy:
// the kernel only reads them.
func (f *File) WriteString(s string) (int, error) {
	return f.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// ReadFrom copies r into the file from the file's offset until r's
// io.EOF (io.ReaderFrom), writing through the ring in the buffers
// io.Copy uses.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(onlyWriter{f}, r)
}

// WriteTo copies the file from its offset to w until the end of the file
// (io.WriterTo), reading through the ring.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, onlyReader{f})
}

// onlyWriter and onlyReader hide File's ReadFrom and WriteTo from
// io.Copy, which would otherwise call them again.
type (
	onlyWriter struct{ io.Writer }
	onlyReader struct{ io.Reader }
)

// ReadDir is ReadDirContext without a context.
func (f *File) ReadDir(n int) ([]fs.DirEntry, error) {
	return f.ReadDirContext(context.Background(), n)
}

// ReadDirContext reads the directory f and returns its entries in
// directory order, as os.File.ReadDir: with n > 0, at most n, and
// io.EOF (with an empty slice) at the end of the directory; with n <= 0,
// all that remain, and a nil error at the end. Later calls continue
// where the last one stopped; Seek(0, io.SeekStart) starts over.
//
// Reading a directory is getdents(2) on a worker on every backend
// (io_uring has no such operation). An entry whose type the file system
// does not report is looked at with an lstat through the ring, as os
// does. On a file that is not a directory it fails with ENOTDIR and
// submits nothing (the File learnt its type when it was made; where it
// could not, the first ReadDir asks with a stat). Errors name the
// operation "readdirent", as os's do.
func (f *File) ReadDirContext(ctx context.Context, n int) ([]fs.DirEntry, error) {
	parent := &osParent{ring: f.ring, dir: f.name}
	raw, err := f.readDir(ctx, n, false)
	entries := make([]fs.DirEntry, len(raw))
	for i := range raw {
		entries[i] = &dirEntry{parent: parent, raw: raw[i]}
	}
	return entries, err
}

// rawEntry is one entry read from a directory: its name and type, and its
// lstat when the type had to be found that way.
type rawEntry struct {
	name string
	typ  fs.FileMode
	info fs.FileInfo
}

// dirReader is the state of reading a File's directory (os's dirInfo).
type dirReader struct {
	mu         sync.Mutex
	buf        []byte // directory records from getdents; the operation's until its completion
	nbuf, bufp int
}

// direntBufSize is the getdents buffer, as os's (more than 5760 bytes:
// golang.org/issue/24015).
const direntBufSize = 8192

// readDir reads up to n entries (n <= 0: all) of the directory f, with
// os.File.readdir's rules. namesOnly skips the lstat of entries of
// unknown type.
func (f *File) readDir(ctx context.Context, n int, namesOnly bool) ([]rawEntry, error) {
	switch f.fs.kind.Load() {
	case kindUnknown:
		if _, err := f.StatContext(ctx); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, f.pathErr("readdirent", err)
		}
		if f.fs.kind.Load() != kindDir {
			return nil, f.pathErr("readdirent", syscall.ENOTDIR)
		}
	case kindNotDir:
		return nil, f.pathErr("readdirent", syscall.ENOTDIR)
	}
	d := f.fs.dir.Load()
	for d == nil { // a Seek may drop it again at once
		f.fs.dir.CompareAndSwap(nil, &dirReader{})
		d = f.fs.dir.Load()
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	var out []rawEntry
	if n == 0 {
		n = -1 // below: negative means all, positive counts down to 0
	}
	for n != 0 {
		if d.bufp >= d.nbuf {
			d.bufp = 0
			if d.buf == nil {
				d.buf = make([]byte, direntBufSize)
			}
			res, _, err := f.ring.fsDo(ctx, &fsReq{kind: core.KindReadDir, file: f, buf: d.buf})
			if err != nil {
				d.nbuf = 0
				return out, f.pathErr("readdirent", err)
			}
			d.nbuf = int(res)
			if d.nbuf <= 0 {
				d.buf = nil
				break // end of the directory
			}
		}
		reclen, ino, name, typ, ok := parseDirent(d.buf[d.bufp:d.nbuf])
		if !ok {
			d.bufp = d.nbuf // a record the kernel never makes: skip the rest
			continue
		}
		d.bufp += reclen
		if ino == 0 && skipZeroIno || string(name) == "." || string(name) == ".." {
			continue
		}
		if n > 0 {
			n--
		}
		e := rawEntry{name: string(name)}
		mode, known := direntMode(typ)
		e.typ = mode
		if !known && !namesOnly {
			info, err := f.lstatAt(ctx, e.name)
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone between getdents and lstat, as os treats it
			}
			if err != nil {
				return out, err
			}
			e.typ, e.info = info.Mode().Type(), info
		}
		out = append(out, e)
	}
	if n > 0 && len(out) == 0 {
		return out, io.EOF
	}
	return out, nil
}

// lstatAt is an lstat of name in the directory f (fstatat with
// AT_SYMLINK_NOFOLLOW), through the ring.
func (f *File) lstatAt(ctx context.Context, name string) (fs.FileInfo, error) {
	b := new(statBuf)
	if _, _, err := f.ring.fsDo(ctx, &fsReq{kind: core.KindStat, file: f, path: name, flags: atSymlinkNoFollow, buf: b.bytes()}); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: f.name + "/" + name, Err: err}
	}
	return b.fileInfo(name), nil
}

// entryParent is the directory a dirEntry came from: its Info looks the
// entry up there.
type entryParent interface {
	lstatEntry(name string) (fs.FileInfo, error)
}

// osParent is a directory named by a path, as os's entries have.
type osParent struct {
	ring *Ring
	dir  string
}

func (p *osParent) lstatEntry(name string) (fs.FileInfo, error) {
	return p.ring.Lstat(context.Background(), p.dir+"/"+name)
}

// dirEntry is an fs.DirEntry from ReadDir.
type dirEntry struct {
	parent entryParent
	raw    rawEntry
}

func (e *dirEntry) Name() string      { return e.raw.name }
func (e *dirEntry) IsDir() bool       { return e.raw.typ.IsDir() }
func (e *dirEntry) Type() fs.FileMode { return e.raw.typ }
func (e *dirEntry) String() string    { return fs.FormatDirEntry(e) }

// Info returns the entry's fs.FileInfo: an lstat of the entry, through
// the ring, made now (or when it was read, if its type was not known).
func (e *dirEntry) Info() (fs.FileInfo, error) {
	if e.raw.info != nil {
		return e.raw.info, nil
	}
	return e.parent.lstatEntry(e.raw.name)
}
