//go:build unix

package aio

import (
	"context"
	"io"
	"io/fs"
	"path"
	"syscall"

	"golang.org/x/sys/unix"
)

// The values of the *at(2) system calls and open(2) flags the file
// system operations use.
const (
	atFDCWD           = unix.AT_FDCWD
	atRemoveDir       = unix.AT_REMOVEDIR
	atSymlinkNoFollow = unix.AT_SYMLINK_NOFOLLOW
	oDirectory        = unix.O_DIRECTORY
	oNofollow         = unix.O_NOFOLLOW
)

// direntMode is the type bits of a d_type value, or ok false if the file
// system did not say (DT_UNKNOWN).
func direntMode(typ uint8) (mode fs.FileMode, ok bool) {
	switch typ {
	case unix.DT_BLK:
		return fs.ModeDevice, true
	case unix.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice, true
	case unix.DT_DIR:
		return fs.ModeDir, true
	case unix.DT_FIFO:
		return fs.ModeNamedPipe, true
	case unix.DT_LNK:
		return fs.ModeSymlink, true
	case unix.DT_REG:
		return 0, true
	case unix.DT_SOCK:
		return fs.ModeSocket, true
	}
	return 0, false
}

// validWhence reports whether lseek(2) knows whence: io.SeekStart,
// io.SeekCurrent, io.SeekEnd, and SEEK_DATA and SEEK_HOLE where the
// system has them.
func validWhence(whence int) bool {
	switch whence {
	case io.SeekStart, io.SeekCurrent, io.SeekEnd:
		return true
	}
	return whence == seekData || whence == seekHole
}

// errInvalidArg is what an argument out of range fails with (a negative
// size, an unknown whence), as the kernel says it.
const errInvalidArg = unix.EINVAL

// Op names of os's errors on Unix, and its path separator.
const (
	opStat          = "stat"
	opLstat         = "lstat"
	opReadDir       = "readdirent"
	opReadDirCall   = "readdirent"
	opFileStat      = "stat"
	pathSeparator   = "/"
	removeAnyFlags  = 0 // unused: Remove is unlink, then rmdir (see Ring.remove)
	renameChecksDir = true
)

// direntInfo is nil: a getdents record holds a type, not a FileInfo.
func direntInfo(rec []byte, name string) fs.FileInfo { return nil }

// isPathSep reports whether c separates path elements.
func isPathSep(c byte) bool { return c == '/' }

// volumeNameLen is 0: Unix paths have no volume name.
func volumeNameLen(path string) int { return 0 }

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

// symlinkTarget is a symbolic link's target as the kernel stores it:
// as given.
func symlinkTarget(oldname string) string { return oldname }

// badFSName is false: every fs.ValidPath name is a Unix name.
func badFSName(name string) bool { return false }

// linkParts splits a symbolic link's target into elements and reports
// whether it is absolute.
func linkParts(target string) (parts []string, abs bool) {
	return splitParts(target), path.IsAbs(target)
}

// removeAllParentFlags opens the parent of what RemoveAll removes.
const removeAllParentFlags = unix.O_RDONLY

// remove is os.Remove's work, its error the bare cause: unlink, then
// rmdir.
func (r *Ring) remove(ctx context.Context, name string) error {
	e := r.unlinkAt(ctx, nil, name, 0)
	if e == nil || isCancel(ctx, e) {
		return e
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
	return e
}
