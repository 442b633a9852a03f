package aiotest

import "golang.org/x/sys/unix"

const (
	fallocKeepSize  = unix.FALLOC_FL_KEEP_SIZE
	fallocPunchHole = unix.FALLOC_FL_PUNCH_HOLE
)

func fdatasync(fd int) error { return unix.Fdatasync(fd) }

func fallocate(fd int, mode uint32, off, length int64) error {
	return unix.Fallocate(fd, mode, off, length)
}
