package aio

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/waitforit/aio/internal/core"
)

// The Ring's path operations are the os package's functions of the same
// names, with a context: their errors are os's (*fs.PathError or
// *os.LinkError, with os's Op names), and relative names are relative to
// the process's working directory. On io_uring each goes through the
// ring where the kernel has the opcode (aio.Probe lists which) and to a
// worker thread otherwise; on the portable backend, to a worker.
//
// A context that ends while an operation is in flight cancels it if it
// has not started, and the call still waits for it: an operation that
// happened anyway (the directory was made, the rename was done) reports
// its success, not the context's error. A context already done submits
// nothing. A name holding a NUL byte fails with EINVAL and submits
// nothing. The library copies every name it is given: none is retained.

// Stat returns the fs.FileInfo of the named file, following symbolic
// links, as os.Stat (IORING_OP_STATX on io_uring).
func (r *Ring) Stat(ctx context.Context, name string) (fs.FileInfo, error) {
	return r.stat(ctx, "stat", name, 0)
}

// Lstat returns the fs.FileInfo of the named file without following a
// final symbolic link, as os.Lstat.
func (r *Ring) Lstat(ctx context.Context, name string) (fs.FileInfo, error) {
	return r.stat(ctx, "lstat", name, atSymlinkNoFollow)
}

func (r *Ring) stat(ctx context.Context, op, name string, flags int) (fs.FileInfo, error) {
	if badPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	b := new(statBuf) // the operation's until its completion, which fsDo waits for
	if _, _, err := r.fsDo(ctx, &fsReq{kind: core.KindStat, dirfd: atFDCWD, path: name, flags: flags, buf: b.bytes()}); err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return b.fileInfo(name), nil
}

// Mkdir creates a directory with the permission bits perm (before the
// umask), as os.Mkdir (IORING_OP_MKDIRAT on io_uring, Linux 5.15).
func (r *Ring) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	if badPath(name) {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EINVAL}
	}
	if _, _, err := r.fsDo(ctx, &fsReq{kind: core.KindMkdir, dirfd: atFDCWD, path: name, mode: syscallMode(perm)}); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return nil
}

// MkdirAll creates a directory and any parents it needs, as os.MkdirAll:
// nothing to do if it already is a directory; an error naming the
// operation "mkdir" otherwise.
func (r *Ring) MkdirAll(ctx context.Context, name string, perm os.FileMode) error {
	if badPath(name) { // where os.MkdirAll ends up, without submitting
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EINVAL}
	}
	// os.MkdirAll, operation for operation.
	dir, err := r.Stat(ctx, name)
	if err == nil {
		if dir.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
	}
	if ctx.Err() != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: ctx.Err()}
	}
	i := len(name) - 1
	for i >= 0 && name[i] == '/' {
		i--
	}
	for i >= 0 && name[i] != '/' {
		i--
	}
	if i < 0 {
		i = 0
	}
	if parent := name[:i]; len(parent) > 0 {
		if err := r.MkdirAll(ctx, parent, perm); err != nil {
			return err
		}
	}
	if err := r.Mkdir(ctx, name, perm); err != nil {
		// Names like "foo/." : the directory may be there after all.
		if dir, err1 := r.Lstat(ctx, name); err1 == nil && dir.IsDir() {
			return nil
		}
		return err
	}
	return nil
}

// Rename renames (moves) oldpath to newpath, replacing newpath if it is
// not a directory, as os.Rename (IORING_OP_RENAMEAT on io_uring, 5.11).
// Errors are *os.LinkError with Op "rename". Like os, it refuses to
// replace a directory (EEXIST), which takes an Lstat of newpath first.
func (r *Ring) Rename(ctx context.Context, oldpath, newpath string) error {
	if badPath(oldpath) || badPath(newpath) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EINVAL}
	}
	if fi, err := r.Lstat(ctx, newpath); err == nil && fi.IsDir() {
		// As os: report oldpath's error first; a case-only rename on a
		// case-insensitive file system (the same file) is fine.
		if ofi, err := r.Lstat(ctx, oldpath); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		} else if newpath == oldpath || !sameFile(fi, ofi) {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EEXIST}
		}
	}
	if _, _, err := r.fsDo(ctx, &fsReq{kind: core.KindRename, dirfd: atFDCWD, path: oldpath, path2: newpath}); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// Remove removes the named file or empty directory, as os.Remove
// (unlink, then rmdir: IORING_OP_UNLINKAT on io_uring, 5.11).
func (r *Ring) Remove(ctx context.Context, name string) error {
	if badPath(name) {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EINVAL}
	}
	e := r.unlinkAt(ctx, nil, name, 0)
	if e == nil {
		return nil
	}
	if isCancel(ctx, e) {
		return &fs.PathError{Op: "remove", Path: name, Err: e}
	}
	e1 := r.unlinkAt(ctx, nil, name, atRemoveDir)
	if e1 == nil {
		return nil
	}
	// As os: both failed. Systems differ on what unlink of a directory
	// says, but agree that rmdir of a file says ENOTDIR.
	if e1 != syscall.ENOTDIR {
		e = e1
	}
	return &fs.PathError{Op: "remove", Path: name, Err: e}
}

// isCancel reports whether err ended an operation because ctx did.
func isCancel(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, ErrCanceled))
}

// unlinkAt is unlinkat(2) of name in dir (nil: the working directory).
// Its error is the bare cause.
func (r *Ring) unlinkAt(ctx context.Context, dir *File, name string, flags int) error {
	_, _, err := r.fsDo(ctx, &fsReq{kind: core.KindUnlink, file: dir, dirfd: atFDCWD, path: name, flags: flags})
	return err
}

// RemoveAll removes path and everything it contains, as os.RemoveAll: it
// removes what it can and returns the first error; a path that does not
// exist is no error. Like os it works relative to directories it holds
// open (unlinkat, openat with O_NOFOLLOW), so it never follows a
// symbolic link out of the tree, whatever the tree does meanwhile.
func (r *Ring) RemoveAll(ctx context.Context, path string) error {
	if path == "" {
		return nil // as os: compatibility with its past
	}
	if endsWithDot(path) || badPath(path) {
		return &fs.PathError{Op: "RemoveAll", Path: path, Err: syscall.EINVAL}
	}
	err := r.Remove(ctx, path)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if isCancel(ctx, err) {
		return err
	}
	parentDir, base := splitPath(path)
	parent, err := r.Open(ctx, parentDir, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no parent, no base
	}
	if err != nil {
		return err
	}
	defer parent.Close()
	if err := r.removeAllFrom(ctx, parent, base); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = parentDir + "/" + pe.Path
		}
		return err
	}
	return nil
}

// removeAllFrom is os's removeAllFrom: base in the directory parent.
func (r *Ring) removeAllFrom(ctx context.Context, parent *File, base string) error {
	err := r.unlinkAt(ctx, parent, base, 0)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// EISDIR: a directory, whose contents go first. EPERM, EACCES: no
	// right to unlink in parent, but it may still be a directory.
	if err != syscall.EISDIR && err != syscall.EPERM && err != syscall.EACCES {
		return &fs.PathError{Op: "unlinkat", Path: base, Err: err}
	}
	uErr := err

	const reqSize = 1024
	var recurseErr error
	for {
		var respSize int
		dir, err := r.openAt(ctx, parent, base, os.O_RDONLY|oDirectory|oNofollow, 0)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err == syscall.ENOTDIR {
				return &fs.PathError{Op: "unlinkat", Path: base, Err: uErr}
			}
			if err == syscall.ELOOP || err == syscall.EMLINK { // a symbolic link: not to be followed
				err = uErr
			}
			recurseErr = &fs.PathError{Op: "openfdat", Path: base, Err: err}
			break
		}
		dir.noteType(fs.ModeDir)
		for {
			numErr := 0
			names, readErr := dir.readDir(ctx, reqSize, true)
			if readErr != nil && readErr != io.EOF {
				dir.Close()
				if errors.Is(readErr, fs.ErrNotExist) {
					return nil
				}
				return &fs.PathError{Op: "readdirnames", Path: base, Err: readErr}
			}
			respSize = len(names)
			for _, e := range names {
				if err := r.removeAllFrom(ctx, dir, e.name); err != nil {
					var pe *fs.PathError
					if errors.As(err, &pe) {
						pe.Path = base + "/" + pe.Path
					}
					numErr++
					if recurseErr == nil {
						recurseErr = err
					}
				}
			}
			// Something could be removed: read again. Otherwise these
			// names stay, and the next ones are read.
			if numErr != reqSize {
				break
			}
		}
		// Removing entries may reorder the directory: reading on could
		// skip some, so reopen it (golang.org/issue/20841).
		dir.Close()
		if respSize < reqSize {
			break
		}
	}
	unlinkErr := r.unlinkAt(ctx, parent, base, atRemoveDir)
	if unlinkErr == nil || errors.Is(unlinkErr, fs.ErrNotExist) {
		return nil
	}
	if recurseErr != nil {
		return recurseErr
	}
	return &fs.PathError{Op: "unlinkat", Path: base, Err: unlinkErr}
}

// openAt opens name in dir (nil: the working directory) through the
// ring (openat(2), IORING_OP_OPENAT), close-on-exec. Its error is the
// bare cause. An open that completed although ctx ended returns its
// File, as Ring.Open does.
func (r *Ring) openAt(ctx context.Context, dir *File, name string, flags int, mode uint32) (*File, error) {
	fd, _, err := r.fsDo(ctx, &fsReq{kind: core.KindOpenAt, file: dir, dirfd: atFDCWD, path: name, flags: flags | oCloexec, mode: mode})
	if err != nil {
		return nil, err
	}
	return r.newFile(int(fd), name, madeByAio)
}

// Link creates newname as a hard link to oldname, as os.Link
// (IORING_OP_LINKAT on io_uring, 5.15). Errors are *os.LinkError.
func (r *Ring) Link(ctx context.Context, oldname, newname string) error {
	if badPath(oldname) || badPath(newname) {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EINVAL}
	}
	if _, _, err := r.fsDo(ctx, &fsReq{kind: core.KindLink, dirfd: atFDCWD, path: oldname, path2: newname}); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// Symlink creates newname as a symbolic link to oldname, as os.Symlink
// (IORING_OP_SYMLINKAT on io_uring, 5.15). Errors are *os.LinkError.
func (r *Ring) Symlink(ctx context.Context, oldname, newname string) error {
	if badPath(oldname) || badPath(newname) {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: syscall.EINVAL}
	}
	if _, _, err := r.fsDo(ctx, &fsReq{kind: core.KindSymlink, dirfd: atFDCWD, path: oldname, path2: newname}); err != nil {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// Readlink returns the target of the named symbolic link, as
// os.Readlink. io_uring has no readlink: it runs on a worker.
func (r *Ring) Readlink(ctx context.Context, name string) (string, error) {
	if badPath(name) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	return r.readlinkAt(ctx, nil, name, name)
}

// readlinkAt reads the link name in dir (nil: the working directory);
// errors name display.
func (r *Ring) readlinkAt(ctx context.Context, dir *File, name, display string) (string, error) {
	for size := 128; ; size *= 2 {
		b := make([]byte, size) // the operation's until its completion
		n, _, err := r.fsDo(ctx, &fsReq{kind: core.KindReadlink, file: dir, dirfd: atFDCWD, path: name, buf: b})
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: display, Err: err}
		}
		if int(n) < size {
			return string(b[:n]), nil
		}
	}
}

// ReadDir reads the named directory and returns its entries sorted by
// name, as os.ReadDir: on an error reading it, the entries read before
// it and the error. The directory is opened through the ring and read by
// getdents on a worker (see File.ReadDirContext).
func (r *Ring) ReadDir(ctx context.Context, name string) ([]fs.DirEntry, error) {
	f, err := r.Open(ctx, name, os.O_RDONLY|oDirectory, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	f.noteType(fs.ModeDir)
	dirs, err := f.ReadDirContext(ctx, -1)
	slices.SortFunc(dirs, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return dirs, err
}

// splitPath is os's: the directory holding path (at least ".") and the
// last element.
func splitPath(path string) (string, string) {
	dirname := "."
	for len(path) > 1 && path[0] == '/' && path[1] == '/' {
		path = path[1:]
	}
	i := len(path) - 1
	for ; i > 0 && path[i] == '/'; i-- {
		path = path[:i]
	}
	basename := path
	for i--; i >= 0; i-- {
		if path[i] == '/' {
			if i == 0 {
				dirname = path[:1]
			} else {
				dirname = path[:i]
			}
			basename = path[i+1:]
			break
		}
	}
	return dirname, basename
}

// endsWithDot reports whether the last element of path is ".".
func endsWithDot(path string) bool {
	return path == "." || len(path) >= 2 && path[len(path)-1] == '.' && path[len(path)-2] == '/'
}
