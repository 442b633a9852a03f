package aio

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/backend/iocp"
)

// The file system operations on Windows are the iocp backend's: the
// values below are what its records take (see internal/backend/iocp,
// fs_windows.go), and the calls mirror the os package's own on Windows.

const (
	atFDCWD           = iocp.AtFDCWD
	atRemoveDir       = iocp.AtRemoveDir
	atSymlinkNoFollow = iocp.AtSymlinkNoFollow
	oDirectory        = iocp.ODirectory // as syscall.Open's O_DIRECTORY: ENOTDIR unless a directory
	oNofollow         = iocp.ONofollow
	oPathDir          = iocp.ODirectory // no O_PATH: a directory opened to read
	oPathAny          = 0
	statFlagsFD       = 0 // an empty path is the handle itself
	hasOpenat2        = false
	skipZeroIno       = false
)

// errInvalidArg is what an argument out of range fails with: on Windows,
// as os reports it there (Truncate(-1), a Seek's unknown whence),
// ERROR_INVALID_PARAMETER.
const errInvalidArg = windows.ERROR_INVALID_PARAMETER

// Op names of os's errors on Windows: os.Stat and os.Lstat name the
// function itself when no call was made (an empty name, a NUL in it),
// and File.ReadDir says "readdir".
const (
	opStat          = "Stat"
	opLstat         = "Lstat"
	opReadDir       = "readdir"
	opReadDirCall   = "GetFileInformationByHandleEx"
	opFileStat      = "stat"
	pathSeparator   = `\`
	removeAnyFlags  = iocp.RemoveAny
	renameChecksDir = false
)

// statBuf holds what a KindStat fills on the iocp backend.
type statBuf struct{ st iocp.Stat }

func (b *statBuf) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b.st)), unsafe.Sizeof(b.st))
}

// failedOp is the Op of the error of a stat that failed: the call os
// names on Windows ("GetFileAttributesEx", "CreateFile", ...), or op.
func (b *statBuf) failedOp(op string) string {
	if c := b.st.FailedCall(); c != "" {
		return c
	}
	return op
}

// fileInfo is the fs.FileInfo of the file, named by the last element of
// name, as os's on Windows.
func (b *statBuf) fileInfo(name string) fs.FileInfo {
	return &fileStat{name: filepath.Base(name), st: b.st}
}

// fileStat is os's Windows fileStat: Sys returns a
// *syscall.Win32FileAttributeData, and Mode is os's.
type fileStat struct {
	name string
	st   iocp.Stat
}

func (s *fileStat) Name() string { return s.name }
func (s *fileStat) Size() int64  { return int64(s.st.FileSizeHigh)<<32 + int64(s.st.FileSizeLow) }
func (s *fileStat) IsDir() bool  { return s.Mode().IsDir() }

func (s *fileStat) ModTime() time.Time {
	return time.Unix(0, s.st.LastWriteTime.Nanoseconds())
}

func (s *fileStat) Sys() any {
	return &syscall.Win32FileAttributeData{
		FileAttributes: s.st.FileAttributes,
		CreationTime:   syscall.Filetime(s.st.CreationTime),
		LastAccessTime: syscall.Filetime(s.st.LastAccessTime),
		LastWriteTime:  syscall.Filetime(s.st.LastWriteTime),
		FileSizeHigh:   s.st.FileSizeHigh,
		FileSizeLow:    s.st.FileSizeLow,
	}
}

// Mode is os's (its fileStat.mode, Go 1.23 and later): permission bits
// from the read-only attribute; directories, pipes and character devices
// as such unless the file is a name surrogate; a symbolic link is
// ModeSymlink, a unix socket ModeSocket, another reparse point (but a
// deduplicated file) ModeIrregular.
func (s *fileStat) Mode() fs.FileMode {
	var m fs.FileMode
	if s.st.FileAttributes&windows.FILE_ATTRIBUTE_READONLY != 0 {
		m |= 0o444
	} else {
		m |= 0o666
	}
	if !s.st.IsNameSurrogate() {
		if s.st.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
			m |= fs.ModeDir | 0o111
		}
		switch s.st.FileType {
		case windows.FILE_TYPE_PIPE:
			m |= fs.ModeNamedPipe
		case windows.FILE_TYPE_CHAR:
			m |= fs.ModeDevice | fs.ModeCharDevice
		}
	}
	if s.st.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		switch s.st.ReparseTag {
		case windows.IO_REPARSE_TAG_SYMLINK:
			m |= fs.ModeSymlink
		case iocp.ReparseTagAFUnix:
			m |= fs.ModeSocket
		case iocp.ReparseTagDedup:
		default:
			m |= fs.ModeIrregular
		}
	}
	return m
}

// sameFile reports whether a and b describe the same file, when both
// know its identity (a stat through a handle does; a stat of a path that
// GetFileAttributesEx answered does not).
func sameFile(a, b fs.FileInfo) bool {
	sa, ok1 := a.(*fileStat)
	sb, ok2 := b.(*fileStat)
	return ok1 && ok2 && sa.st.HasID != 0 && sb.st.HasID != 0 && sa.st.Volume == sb.st.Volume &&
		sa.st.FileIndexHigh == sb.st.FileIndexHigh && sa.st.FileIndexLow == sb.st.FileIndexLow
}

// direntMode is never asked on Windows: every record says what its file
// is (see direntInfo).
func direntMode(typ uint8) (fs.FileMode, bool) { return 0, false }

// parseDirent reads the first FILE_FULL_DIR_INFO record of buf.
func parseDirent(buf []byte) (reclen int, ino uint64, name []byte, typ uint8, ok bool) {
	reclen, n, _, ok := iocp.ParseDirInfo(buf)
	return reclen, 1, []byte(n), 0, ok
}

// direntInfo is the fs.FileInfo of a directory record, as os's entries
// on Windows have it (their Info is the record itself: attributes, times
// and size).
func direntInfo(rec []byte, name string) fs.FileInfo {
	_, _, st, ok := iocp.ParseDirInfo(rec)
	if !ok {
		return nil
	}
	return &fileStat{name: name, st: st}
}

func validWhence(whence int) bool {
	return whence == 0 || whence == 1 || whence == 2
}

func openHowBeneath(flags int) []byte { return nil }

// isPathSep reports whether c separates path elements: both slashes do
// on Windows.
func isPathSep(c byte) bool { return c == '\\' || c == '/' }

// volumeNameLen is the length of path's volume name ("C:",
// `\\server\share`), as filepath.VolumeName's.
func volumeNameLen(path string) int { return len(filepath.VolumeName(path)) }

// splitPath is os's on Windows: the directory holding path (at least
// ".", and the volume's root for a path at the root) and the last
// element.
func splitPath(path string) (string, string) {
	if path == "" {
		return ".", "."
	}
	prefixlen := volumeNameLen(path)
	if len(path) > prefixlen && isPathSep(path[prefixlen]) {
		if prefixlen == 0 {
			prefixlen = 1 // \foo: relative to the current volume
		} else if path[prefixlen-1] == ':' {
			prefixlen++ // c:\foo
		}
	}
	i := len(path) - 1
	for i >= prefixlen && isPathSep(path[i]) {
		i--
	}
	path = path[:i+1]
	for i >= prefixlen && !isPathSep(path[i]) {
		i--
	}
	basename := path[i+1:]
	if basename == "" {
		basename = "."
	}
	for i >= prefixlen && isPathSep(path[i]) {
		i--
	}
	dirname := path[:i+1]
	if dirname == "" {
		dirname = "."
	}
	return dirname, basename
}

// symlinkTarget is a symbolic link's target as os.Symlink stores it on
// Windows: with backslashes ('/' does not work in a link's content).
func symlinkTarget(oldname string) string { return filepath.FromSlash(oldname) }

// badFSName reports whether name, valid for fs.ValidPath, cannot name a
// file of a DirFS on Windows: backslashes and colons would give it a
// meaning (a separator, a drive, a stream) the slash-separated name does
// not have, as os.DirFS and os.Root refuse them.
func badFSName(name string) bool { return strings.ContainsAny(name, `\:`) }

// linkParts splits a symbolic link's target into elements (both slashes
// separate them), and reports whether it is absolute: rooted, or on a
// volume.
func linkParts(target string) (parts []string, abs bool) {
	abs = volumeNameLen(target) > 0 || target != "" && isPathSep(target[0])
	return splitParts(strings.ReplaceAll(target, `\`, "/")), abs
}

// removeAllParentFlags opens the parent of what RemoveAll removes, as
// os does on Windows: for its attributes only (no read access to the
// directory is needed to delete in it, go.dev/issue/74134).
const removeAllParentFlags = syscall.O_WRONLY | syscall.O_RDWR

// remove is os.Remove's work on Windows, its error the bare cause: one
// operation does os's algorithm (DeleteFile, then RemoveDirectory, then
// the error that fits what the name is).
func (r *Ring) remove(ctx context.Context, name string) error {
	return r.unlinkAt(ctx, nil, name, removeAnyFlags)
}
