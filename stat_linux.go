package aio

import (
	"io/fs"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// statBuf is what a stat operation fills on Linux: a struct statx, from
// IORING_OP_STATX or the statx(2) of a worker alike.
type statBuf struct{ stx unix.Statx_t }

// bytes is the buffer the operation writes: it belongs to the operation
// until its completion.
func (b *statBuf) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&b.stx)), unsafe.Sizeof(b.stx))
}

// fileInfo converts the statx to what os.Stat returns: an fs.FileInfo
// whose Sys is a *syscall.Stat_t with the fields fstatat(2) fills.
func (b *statBuf) fileInfo(name string) fs.FileInfo {
	x := &b.stx
	s := &fileStat{}
	st := &s.sys
	set(&st.Dev, unix.Mkdev(x.Dev_major, x.Dev_minor))
	set(&st.Ino, x.Ino)
	set(&st.Nlink, uint64(x.Nlink))
	set(&st.Mode, uint64(x.Mode))
	set(&st.Uid, uint64(x.Uid))
	set(&st.Gid, uint64(x.Gid))
	set(&st.Rdev, unix.Mkdev(x.Rdev_major, x.Rdev_minor))
	set(&st.Size, x.Size)
	set(&st.Blksize, uint64(x.Blksize))
	set(&st.Blocks, x.Blocks)
	setTime(&st.Atim, x.Atime)
	setTime(&st.Mtim, x.Mtime)
	setTime(&st.Ctim, x.Ctime)
	return newFileStat(s, name)
}

// set stores v in a field whose integer type depends on the architecture
// (Nlink is uint64 on amd64, uint32 on arm64, ...).
func set[T ~int32 | ~int64 | ~uint16 | ~uint32 | ~uint64](dst *T, v uint64) { *dst = T(v) }

func setTime(dst *syscall.Timespec, t unix.StatxTimestamp) {
	set(&dst.Sec, uint64(t.Sec))
	set(&dst.Nsec, uint64(t.Nsec))
}

func statMtime(st *syscall.Stat_t) *syscall.Timespec { return &st.Mtim }

// statFlagsFD are the flags of a stat of a descriptor itself (path "").
const statFlagsFD = unix.AT_EMPTY_PATH
