//go:build unix && !linux

package aio

import (
	"io/fs"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statBuf is what a stat operation fills on these systems: a struct stat
// (fstatat(2) by a worker, which writes a unix.Stat_t: the same C struct
// as syscall.Stat_t).
type statBuf struct{ st syscall.Stat_t }

// The two Go renderings of struct stat must have one size.
const (
	_ = uintptr(unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{}))
	_ = uintptr(unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{}))
)

// bytes is the buffer the operation writes: it belongs to the operation
// until its completion.
func (b *statBuf) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b.st)), unsafe.Sizeof(b.st))
}

// fileInfo is what os.Stat returns for the same struct stat.
func (b *statBuf) fileInfo(name string) fs.FileInfo {
	return newFileStat(&fileStat{sys: b.st}, name)
}

// statFlagsFD are the flags of a stat of a descriptor itself: an empty
// path makes the worker call fstat(2).
const statFlagsFD = 0
