//go:build unix

package aio

import (
	"io"
	"io/fs"

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
