//go:build unix

package aio

import (
	"os"

	"golang.org/x/sys/unix"
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
