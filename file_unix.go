//go:build unix

package aio

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/backend/portable"
)

const oCloexec = unix.O_CLOEXEC

func closeFD(fd int) error { return unix.Close(fd) }

// dupFD duplicates a descriptor, close-on-exec.
func dupFD(fd uintptr) (int, error) { return unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }

// syscallMode converts a FileMode to open(2)'s mode bits.
func syscallMode(m os.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		o |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		o |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		o |= unix.S_ISVTX
	}
	return o
}

// fdType reports whether fd is a regular file or a block device, and
// whether it is a directory (kindDir, kindNotDir; kindUnknown if fstat
// fails).
func fdType(fd int) (regular bool, dir int32) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false, kindUnknown
	}
	m := uint32(st.Mode) & unix.S_IFMT
	dir = kindNotDir
	if m == unix.S_IFDIR {
		dir = kindDir
	}
	return m == unix.S_IFREG || m == unix.S_IFBLK, dir
}

// callerSync makes fd's fsync (datasync: fdatasync) in the caller's
// thread, as os.File.Sync does (see syncInCaller), as the portable
// driver makes it.
func callerSync(fd int, datasync bool) error { return portable.Sync(fd, datasync) }

// callerWrite is a blocking write made in the caller's thread, as
// os.File makes it (see File.callerWrites): at off, or at the file
// position if off < 0. It returns the count or -errno.
func callerWrite(fd int, p []byte, off int64) int32 {
	for {
		var n int
		var err error
		if off >= 0 {
			n, err = unix.Pwrite(fd, p, off)
		} else {
			n, err = unix.Write(fd, p)
		}
		switch {
		case err == nil:
			return int32(n)
		case err == unix.EINTR:
			continue
		}
		if errno, ok := err.(unix.Errno); ok {
			return -int32(errno)
		}
		return -int32(unix.EIO)
	}
}
