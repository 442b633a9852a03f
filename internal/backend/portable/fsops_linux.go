package portable

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// openat2Supported: openat2(2) exists on Linux (5.6 and later; older
// kernels answer ENOSYS, which the caller handles).
const openat2Supported = true

// statAt is statx(2) into buf, which holds a unix.Statx_t (the aio
// package's stat buffer on Linux, the same struct IORING_OP_STATX
// fills). Where statx is missing (before 4.11, or a seccomp filter that
// denies it) it falls back to fstatat(2) and converts.
func statAt(dirfd int, path string, flags int, buf []byte) error {
	if len(buf) < int(unsafe.Sizeof(unix.Statx_t{})) {
		return unix.EINVAL
	}
	stx := (*unix.Statx_t)(unsafe.Pointer(&buf[0]))
	err := unix.Statx(dirfd, path, flags, unix.STATX_BASIC_STATS, stx)
	if err != unix.ENOSYS {
		return err
	}
	var st unix.Stat_t
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 {
		err = unix.Fstat(dirfd, &st)
	} else {
		err = unix.Fstatat(dirfd, path, &st, flags&^unix.AT_EMPTY_PATH)
	}
	if err == nil {
		*stx = statxFromStat(&st)
	}
	return err
}

// statxFromStat fills the fields of STATX_BASIC_STATS from a stat.
func statxFromStat(st *unix.Stat_t) unix.Statx_t {
	return unix.Statx_t{
		Mask:       unix.STATX_BASIC_STATS,
		Blksize:    uint32(st.Blksize),
		Nlink:      uint32(st.Nlink),
		Uid:        st.Uid,
		Gid:        st.Gid,
		Mode:       uint16(st.Mode),
		Ino:        st.Ino,
		Size:       uint64(st.Size),
		Blocks:     uint64(st.Blocks),
		Atime:      unix.StatxTimestamp{Sec: int64(st.Atim.Sec), Nsec: uint32(st.Atim.Nsec)},
		Mtime:      unix.StatxTimestamp{Sec: int64(st.Mtim.Sec), Nsec: uint32(st.Mtim.Nsec)},
		Ctime:      unix.StatxTimestamp{Sec: int64(st.Ctim.Sec), Nsec: uint32(st.Ctim.Nsec)},
		Rdev_major: unix.Major(uint64(st.Rdev)),
		Rdev_minor: unix.Minor(uint64(st.Rdev)),
		Dev_major:  unix.Major(uint64(st.Dev)),
		Dev_minor:  unix.Minor(uint64(st.Dev)),
	}
}

// fallocate is fallocate(2): mode 0, FALLOC_FL_KEEP_SIZE,
// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE, ...
func fallocate(fd int, mode uint32, off, length int64) error {
	return unix.Fallocate(fd, mode, off, length)
}

// fadvise is posix_fadvise(2).
func fadvise(fd int, off, length int64, advice int) error {
	return unix.Fadvise(fd, off, length, advice)
}

// openat2 is openat2(2) with the struct open_how in buf.
func openat2(dirfd int, path string, buf []byte) (int, error) {
	if len(buf) < int(unsafe.Sizeof(unix.OpenHow{})) {
		return -1, unix.EINVAL
	}
	return unix.Openat2(dirfd, path, (*unix.OpenHow)(unsafe.Pointer(&buf[0])))
}

func readlinkat(dirfd int, path string, buf []byte) (int, error) {
	return unix.Readlinkat(dirfd, path, buf)
}
