//go:build darwin || freebsd || netbsd || openbsd

package aio

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parseDirent reads the first record of buf, a struct dirent from
// getdirentries(2) (getdents on FreeBSD, its emulation by x/sys on
// Darwin): its length, inode, name and d_type. ok is false when buf
// holds no whole record.
func parseDirent(buf []byte) (reclen int, ino uint64, name []byte, typ uint8, ok bool) {
	const (
		offReclen = unsafe.Offsetof(unix.Dirent{}.Reclen)
		offNamlen = unsafe.Offsetof(unix.Dirent{}.Namlen)
		offType   = unsafe.Offsetof(unix.Dirent{}.Type)
		offName   = unsafe.Offsetof(unix.Dirent{}.Name)
		szNamlen  = unsafe.Sizeof(unix.Dirent{}.Namlen)
	)
	if len(buf) < int(offName) {
		return 0, 0, nil, 0, false
	}
	reclen = int(binary.NativeEndian.Uint16(buf[offReclen:]))
	var namlen int
	if szNamlen == 1 {
		namlen = int(buf[offNamlen])
	} else {
		namlen = int(binary.NativeEndian.Uint16(buf[offNamlen:]))
	}
	if reclen < int(offName) || reclen > len(buf) || int(offName)+namlen > reclen {
		return 0, 0, nil, 0, false
	}
	// Every system here puts the inode number, 64 bits, first.
	return reclen, binary.NativeEndian.Uint64(buf), buf[offName : int(offName)+namlen], buf[offType], true
}

// skipZeroIno: entries with inode 0 are holes left by deleted files.
const skipZeroIno = true
