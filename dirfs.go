package aio

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/waitforit/aio/internal/core"
)

// errPathEscapes is the error of a DirFS name that leads out of the
// directory through a symbolic link (os.Root's words).
var errPathEscapes = errors.New("path escapes from parent")

// ContextFS is an fs.FS whose operations can be bound to a context.
// Ring.DirFS returns one.
type ContextFS interface {
	fs.FS
	// WithContext returns a view of the same tree whose operations take
	// ctx: its opens, stats and directory reads, and every operation on
	// the files opened through it (Read, ReadAt, Stat, ReadDir). When
	// ctx ends, the operation in flight is cancelled if the kernel can
	// still stop it, and waited for either way (see Ring.Open).
	WithContext(ctx context.Context) fs.FS
}

// DirFS returns a file system (an fs.FS) for the tree of files rooted at
// the directory dir, read through the ring: every open, stat, directory
// read and file read is an operation of r, with r's contract.
//
// The result implements fs.StatFS, fs.ReadFileFS, fs.ReadDirFS,
// fs.ReadLinkFS and fs.SubFS, and ContextFS: WithContext(ctx) gives a
// view whose operations, and those of the files it opens, take ctx (a
// file server passes each request's context, so that a client that goes
// away cancels the disk reads of its request). DirFS(dir) itself uses
// context.Background. Its files are fs.ReadDirFile, io.Seeker and
// io.ReaderAt; Read reads from the file's offset, ReadAt does not move
// it.
//
// Symbolic links: unlike os.DirFS, and like os.Root, DirFS never leaves
// dir. A symbolic link inside the tree is followed as long as it stays
// inside (relative, and no ".." above dir); one that is absolute or
// leads out of the tree fails with an error that says "path escapes from
// parent". A file server cannot be made to serve /etc/passwd by a link
// someone left in its tree. On Linux the kernel checks this as it
// resolves the name (openat2 with RESOLVE_BENEATH, 5.6; IORING_OP_OPENAT2
// on io_uring); elsewhere DirFS resolves names itself, one element at a
// time relative to the directory it holds open, reading each symbolic
// link it meets, as os.Root does.
//
// Like os.Root, DirFS holds dir open from its first use (it is closed
// when the file system, and every view and Sub of it, is no longer
// reachable): renaming dir later does not change what it serves. The
// names DirFS takes are fs.ValidPath names (slash-separated, unrooted,
// no "." or ".." elements); others fail with fs.ErrInvalid. Errors are
// *fs.PathError naming the operation and the name as given, as
// os.DirFS's.
func (r *Ring) DirFS(dir string) fs.FS {
	root := &dirRoot{dir: dir}
	root.walk.Store(r.dirfsWalk)
	return &dirFS{ring: r, root: root, prefix: ".", ctx: context.Background()}
}

// dirFS is Ring.DirFS's file system, or a view of it (WithContext, Sub).
type dirFS struct {
	ring   *Ring
	root   *dirRoot
	prefix string // the tree's root inside root: "." or a relative path
	ctx    context.Context
}

// dirRoot is the directory a DirFS serves, held open from first use.
type dirRoot struct {
	dir  string
	mu   sync.Mutex   // serialises the first open
	fd   atomic.Int64 // the descriptor plus one; 0 until opened
	walk atomic.Bool  // no openat2 here: resolve names one element at a time
}

var (
	_ fs.StatFS     = (*dirFS)(nil)
	_ fs.ReadFileFS = (*dirFS)(nil)
	_ fs.ReadDirFS  = (*dirFS)(nil)
	_ fs.ReadLinkFS = (*dirFS)(nil)
	_ fs.SubFS      = (*dirFS)(nil)
	_ ContextFS     = (*dirFS)(nil)
)

// WithContext returns a view of fsys whose operations take ctx.
func (fsys *dirFS) WithContext(ctx context.Context) fs.FS {
	v := *fsys
	v.ctx = ctx
	return &v
}

// Sub returns the file system rooted at dir inside fsys (fs.SubFS). It
// shares fsys's open directory and context; symbolic links may lead
// anywhere inside fsys's tree, as with fs.Sub of an os.Root's FS.
func (fsys *dirFS) Sub(dir string) (fs.FS, error) {
	if !validName(dir) {
		return nil, &fs.PathError{Op: "sub", Path: dir, Err: fs.ErrInvalid}
	}
	if dir == "." {
		return fsys, nil
	}
	v := *fsys
	v.prefix = path.Join(fsys.prefix, dir)
	return &v, nil
}

// validName reports whether name is one fs.FS takes (and the kernel can).
func validName(name string) bool { return fs.ValidPath(name) && !badPath(name) }

// full is name inside the root, for the kernel.
func (fsys *dirFS) full(name string) string { return path.Join(fsys.prefix, name) }

// display is how the os package would name the file: dir joined with
// the name (File names and their errors use it, as os.DirFS's files do).
func (fsys *dirFS) display(full string) string {
	if full == "." {
		return fsys.root.dir
	}
	return fsys.root.dir + "/" + full
}

// rootFD returns the directory's descriptor, opening it on first use.
// The caller keeps fsys.root reachable while it uses the descriptor.
func (fsys *dirFS) rootFD() (int, error) {
	root := fsys.root
	if v := root.fd.Load(); v != 0 {
		return int(v - 1), nil
	}
	root.mu.Lock()
	defer root.mu.Unlock()
	if v := root.fd.Load(); v != 0 {
		return int(v - 1), nil
	}
	if root.dir == "" {
		return -1, errors.New("aio: DirFS with empty root")
	}
	if badPath(root.dir) {
		return -1, syscall.EINVAL
	}
	res, _, err := fsys.ring.fsDo(fsys.ctx, &fsReq{kind: core.KindOpenAt, dirfd: atFDCWD, path: root.dir, flags: oPathDir | oCloexec})
	if err != nil {
		return -1, err
	}
	fd := int(res)
	root.fd.Store(int64(fd) + 1)
	runtime.AddCleanup(root, func(fd int) { closeFD(fd) }, fd)
	return fd, nil
}

// Open opens the named file for reading (fs.FS).
func (fsys *dirFS) Open(name string) (fs.File, error) {
	f, err := fsys.openFile(name, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openFile opens name read-only, with extra flags (O_DIRECTORY).
func (fsys *dirFS) openFile(name string, flags int) (*dirFile, error) {
	if !validName(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	defer runtime.KeepAlive(fsys.root)
	full := fsys.full(name)
	fd, err := fsys.openFD(full, flags)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f, err := fsys.ring.newFile(fd, fsys.display(full), madeByAio)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if flags&oDirectory != 0 {
		f.noteType(fs.ModeDir)
	}
	return &dirFile{f: f, fsys: fsys, full: full}, nil
}

// openFD opens full inside the root, read-only with flags, never leaving
// the root: the raw descriptor, the caller's to close.
func (fsys *dirFS) openFD(full string, flags int) (int, error) {
	rootfd, err := fsys.rootFD()
	if err != nil {
		return -1, err
	}
	flags |= oCloexec
	if hasOpenat2 && !fsys.root.walk.Load() {
		fd, err := fsys.openBeneath(rootfd, full, flags)
		switch err {
		case syscall.ENOSYS:
			fsys.root.walk.Store(true) // a kernel before 5.6: walk from now on
		case syscall.EPERM:
			// A seccomp filter that knows no openat2 (older container
			// runtimes) says EPERM: walk, this once. A real EPERM
			// (O_NOATIME on another's file) comes back from the walk.
		default:
			return fd, err
		}
	}
	fd := -1
	err = fsys.walk(rootfd, full, func(dirfd int, base string) (string, error) {
		var err error
		fd, err = fsys.openAt(dirfd, base, flags|oNofollow)
		if err == nil || err == syscall.ENOENT {
			return "", err
		}
		// O_NOFOLLOW refuses a symbolic link (ELOOP; EMLINK on FreeBSD,
		// EFTYPE on NetBSD; ENOTDIR with O_DIRECTORY): follow it, if
		// it is one, by the walk's rules.
		if target, lerr := fsys.readlinkAt(dirfd, base); lerr == nil {
			return target, nil
		}
		return "", err
	})
	return fd, err
}

// openBeneath is openat2(rootfd, full, RESOLVE_BENEATH): the kernel
// refuses (EXDEV) any resolution that would leave the root.
func (fsys *dirFS) openBeneath(rootfd int, full string, flags int) (int, error) {
	for try := 0; ; try++ {
		res, _, err := fsys.ring.fsDo(fsys.ctx, &fsReq{kind: core.KindOpenat2, dirfd: rootfd, path: full, buf: openHowBeneath(flags)})
		switch {
		case err == nil:
			return int(res), nil
		case err == syscall.EXDEV:
			return -1, errPathEscapes
		case err == syscall.EAGAIN && try < 8:
			continue // a rename raced the lookup; openat2(2) says to retry
		case errors.Is(err, errors.ErrUnsupported):
			return -1, syscall.ENOSYS // this backend has no openat2: walk
		}
		return -1, err
	}
}

// maxSymlinks bounds the symbolic links one resolution follows, as
// Linux's MAXSYMLINKS.
const maxSymlinks = 40

// walk resolves full, a clean relative path inside the root, one element
// at a time, as os.Root does: each directory is opened relative to the
// last with O_NOFOLLOW, and a symbolic link met on the way is read and
// spliced into the path, which may then not rise above the root (an
// absolute link, or ".." beyond it, fails with errPathEscapes). last
// does the final step on the directory holding the last element (base
// "." names that directory itself); it returns a symbolic link's target
// to follow it, or "" and its result.
func (fsys *dirFS) walk(rootfd int, full string, last func(dirfd int, base string) (target string, err error)) error {
	parts := splitParts(full)
	if len(parts) == 0 {
		parts = []string{"."}
	}
	dirfd := rootfd
	defer func() {
		if dirfd != rootfd {
			closeFD(dirfd)
		}
	}()
	links := 0
	for i := 0; ; {
		part := parts[i]
		switch {
		case part == "." && i < len(parts)-1:
			parts = slices.Delete(parts, i, i+1)
			continue
		case part == "..":
			if i == 0 {
				return errPathEscapes
			}
			// Back to the root with the path rewritten: a directory
			// already opened may have moved since.
			parts = slices.Delete(parts, i-1, i+1)
			if len(parts) == 0 {
				parts = []string{"."}
			}
			if dirfd != rootfd {
				closeFD(dirfd)
			}
			dirfd, i = rootfd, 0
			continue
		}
		var target string
		if i == len(parts)-1 {
			t, err := last(dirfd, part)
			if err != nil || t == "" {
				return err
			}
			target = t
		} else {
			fd, err := fsys.openAt(dirfd, part, oPathDir|oNofollow|oCloexec)
			if err == nil {
				if dirfd != rootfd {
					closeFD(dirfd)
				}
				dirfd, i = fd, i+1
				continue
			}
			t, lerr := fsys.readlinkAt(dirfd, part)
			if err == syscall.ENOENT || lerr != nil {
				return err // not a symbolic link: the open's error
			}
			target = t
		}
		if links++; links > maxSymlinks {
			return syscall.ELOOP
		}
		if path.IsAbs(target) {
			return errPathEscapes
		}
		parts = slices.Concat(parts[:i], splitParts(target), parts[i+1:])
		if i >= len(parts) {
			parts = append(parts, ".") // the link named its own directory
		}
	}
}

// splitParts splits a path into its elements, without empty and "."
// ones.
func splitParts(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			parts = append(parts, s)
		}
	}
	return parts
}

// openAt, readlinkAt and statAt are the walk's steps, each an operation
// of the ring relative to a directory descriptor.
func (fsys *dirFS) openAt(dirfd int, name string, flags int) (int, error) {
	res, _, err := fsys.ring.fsDo(fsys.ctx, &fsReq{kind: core.KindOpenAt, dirfd: dirfd, path: name, flags: flags})
	return int(res), err
}

func (fsys *dirFS) readlinkAt(dirfd int, name string) (string, error) {
	for size := 128; ; size *= 2 {
		b := make([]byte, size) // the operation's until its completion
		n, _, err := fsys.ring.fsDo(fsys.ctx, &fsReq{kind: core.KindReadlink, dirfd: dirfd, path: name, buf: b})
		if err != nil {
			return "", err
		}
		if int(n) < size {
			return string(b[:n]), nil
		}
	}
}

func (fsys *dirFS) statAt(dirfd int, name string, flags int, display string) (fs.FileInfo, error) {
	b := new(statBuf)
	if _, _, err := fsys.ring.fsDo(fsys.ctx, &fsReq{kind: core.KindStat, dirfd: dirfd, path: name, flags: flags, buf: b.bytes()}); err != nil {
		return nil, err
	}
	return b.fileInfo(display), nil
}

// Stat returns the fs.FileInfo of the named file, following symbolic
// links inside the tree (fs.StatFS).
func (fsys *dirFS) Stat(name string) (fs.FileInfo, error) {
	fi, err := fsys.stat(name, true)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

// Lstat returns the fs.FileInfo of the named file without following a
// final symbolic link (fs.ReadLinkFS).
func (fsys *dirFS) Lstat(name string) (fs.FileInfo, error) {
	fi, err := fsys.stat(name, false)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// stat is Stat (follow) or Lstat; its error is the bare cause.
func (fsys *dirFS) stat(name string, follow bool) (fs.FileInfo, error) {
	if !validName(name) {
		return nil, fs.ErrInvalid
	}
	defer runtime.KeepAlive(fsys.root)
	full := fsys.full(name)
	display := fsys.display(full)
	rootfd, err := fsys.rootFD()
	if err != nil {
		return nil, err
	}
	if follow && hasOpenat2 && !fsys.root.walk.Load() {
		// Name it (O_PATH: no I/O, no wait on a FIFO), then fstat it.
		fd, err := fsys.openFD(full, oPathAny)
		if err != nil {
			return nil, err
		}
		defer closeFD(fd)
		return fsys.statAt(fd, "", statFlagsFD, display)
	}
	var fi fs.FileInfo
	err = fsys.parentDo(rootfd, full, func(dirfd int, base string) (string, error) {
		info, err := fsys.statAt(dirfd, base, atSymlinkNoFollow, display)
		if err != nil {
			return "", err
		}
		if follow && info.Mode().Type() == fs.ModeSymlink {
			target, err := fsys.readlinkAt(dirfd, base)
			if err != nil {
				return "", err
			}
			if target == "" {
				return "", syscall.ENOENT
			}
			return target, nil
		}
		fi = info
		return "", nil
	})
	return fi, err
}

// parentDo runs last on the directory holding full's last element,
// reached without leaving the root (openat2 RESOLVE_BENEATH, or the
// walk). With the walk, last may return a symbolic link's target to
// follow it; with openat2 it is not asked to (a link's target is
// relative to a directory openat2 may have reached through links).
func (fsys *dirFS) parentDo(rootfd int, full string, last func(dirfd int, base string) (string, error)) error {
	if hasOpenat2 && !fsys.root.walk.Load() {
		dir, base := path.Split(full)
		if full == "." {
			dir, base = ".", "."
		}
		pfd, err := fsys.openBeneath(rootfd, path.Clean(dir), oPathDir|oCloexec)
		switch {
		case err == nil:
			// last follows no link here: a Stat that follows one opens
			// its name with openat2 instead (see stat).
			_, err := last(pfd, base)
			closeFD(pfd)
			return err
		case err != syscall.ENOSYS:
			return err
		}
		fsys.root.walk.Store(true)
	}
	return fsys.walk(rootfd, full, last)
}

// ReadLink returns the target of the named symbolic link (fs.ReadLinkFS),
// as it is written: DirFS follows it only as far as the tree goes.
func (fsys *dirFS) ReadLink(name string) (string, error) {
	if !validName(name) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	defer runtime.KeepAlive(fsys.root)
	rootfd, err := fsys.rootFD()
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	var target string
	err = fsys.parentDo(rootfd, fsys.full(name), func(dirfd int, base string) (string, error) {
		t, err := fsys.readlinkAt(dirfd, base)
		target = t
		return "", err
	})
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return target, nil
}

// ReadFile reads the named file whole (fs.ReadFileFS).
func (fsys *dirFS) ReadFile(name string) ([]byte, error) {
	if !validName(name) {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: fs.ErrInvalid}
	}
	f, err := fsys.openFile(name, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 512
	if fi, err := f.f.StatContext(fsys.ctx); err == nil && fi.Mode().IsRegular() && int64(int(fi.Size())) == fi.Size() {
		size += int(fi.Size())
	}
	data := make([]byte, 0, size)
	for {
		n, err := f.f.ReadContext(fsys.ctx, data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // grow
		}
	}
}

// ReadDir reads the named directory and returns its entries sorted by
// name (fs.ReadDirFS).
func (fsys *dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !validName(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	f, err := fsys.openFile(name, oDirectory)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

// dirFile is a file opened by a DirFS: an fs.ReadDirFile, io.Seeker and
// io.ReaderAt whose operations take its file system's context.
type dirFile struct {
	f    *File
	fsys *dirFS
	full string // its name inside the root
}

var (
	_ fs.ReadDirFile = (*dirFile)(nil)
	_ io.Seeker      = (*dirFile)(nil)
	_ io.ReaderAt    = (*dirFile)(nil)
)

// Stat returns the file's fs.FileInfo.
func (d *dirFile) Stat() (fs.FileInfo, error) { return d.f.StatContext(d.fsys.ctx) }

// Read reads from the file's offset; p is the caller's again when it
// returns (see File.ReadContext).
func (d *dirFile) Read(p []byte) (int, error) { return d.f.ReadContext(d.fsys.ctx, p) }

// ReadAt reads len(p) bytes at off without moving the offset; p is the
// caller's again when it returns (see File.ReadAtContext).
func (d *dirFile) ReadAt(p []byte, off int64) (int, error) {
	return d.f.ReadAtContext(d.fsys.ctx, p, off)
}

// Seek sets the offset of the next Read (see File.Seek).
func (d *dirFile) Seek(offset int64, whence int) (int64, error) { return d.f.Seek(offset, whence) }

// ReadDir reads the directory's entries, as File.ReadDir; their Info
// looks them up without leaving the tree.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	raw, err := d.f.readDir(d.fsys.ctx, n, false)
	parent := &dirFSParent{fsys: d.fsys, dir: d.full}
	entries := make([]fs.DirEntry, len(raw))
	for i := range raw {
		entries[i] = &dirEntry{parent: parent, raw: raw[i]}
	}
	return entries, err
}

// Close closes the file (see File.Close).
func (d *dirFile) Close() error { return d.f.Close() }

// dirFSParent is a directory of a DirFS, for its entries' Info.
type dirFSParent struct {
	fsys *dirFS
	dir  string // inside the root
}

func (p *dirFSParent) lstatEntry(name string) (fs.FileInfo, error) {
	v := *p.fsys
	v.prefix = "."
	full := path.Join(p.dir, name)
	fi, err := v.stat(full, false)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: v.display(full), Err: err}
	}
	return fi, nil
}
