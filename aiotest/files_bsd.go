//go:build unix && !linux

package aiotest

import "golang.org/x/sys/unix"

// Linux's fallocate modes; these systems have no fallocate.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

// fdatasync is what the aio backends do here: a full sync (Darwin's
// F_FULLFSYNC is stronger, but both succeed or fail alike).
func fdatasync(fd int) error { return unix.Fsync(fd) }

func fallocate(fd int, mode uint32, off, length int64) error { return unix.EOPNOTSUPP }
