//go:build unix && !linux

package portable

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// openat2Supported: openat2(2) is Linux's alone.
const openat2Supported = false

// statAt is fstatat(2) (fstat(2) for an empty path) into buf, which
// holds a unix.Stat_t (the aio package's stat buffer on these systems).
func statAt(dirfd int, path string, flags int, buf []byte) error {
	if len(buf) < int(unsafe.Sizeof(unix.Stat_t{})) {
		return unix.EINVAL
	}
	st := (*unix.Stat_t)(unsafe.Pointer(&buf[0]))
	if path == "" {
		return unix.Fstat(dirfd, st)
	}
	return unix.Fstatat(dirfd, path, st, flags)
}

// fallocate: these systems have no fallocate(2) with Linux's modes.
func fallocate(fd int, mode uint32, off, length int64) error { return unix.EOPNOTSUPP }

func openat2(dirfd int, path string, buf []byte) (int, error) { return -1, unix.ENOSYS }
