package aio

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parseDirent reads the first record of buf, a struct linux_dirent64
// from getdents64(2): its length, inode, name and d_type. ok is false
// when buf holds no whole record.
func parseDirent(buf []byte) (reclen int, ino uint64, name []byte, typ uint8, ok bool) {
	const (
		offIno    = unsafe.Offsetof(unix.Dirent{}.Ino)
		offReclen = unsafe.Offsetof(unix.Dirent{}.Reclen)
		offType   = unsafe.Offsetof(unix.Dirent{}.Type)
		offName   = unsafe.Offsetof(unix.Dirent{}.Name)
	)
	if len(buf) < int(offName) {
		return 0, 0, nil, 0, false
	}
	reclen = int(binary.NativeEndian.Uint16(buf[offReclen:]))
	if reclen < int(offName) || reclen > len(buf) {
		return 0, 0, nil, 0, false
	}
	name = buf[offName:reclen]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return reclen, binary.NativeEndian.Uint64(buf[offIno:]), name, buf[offType], true
}

// skipZeroIno: some Linux file systems (old XFS, FUSE) return valid
// entries with inode 0; os keeps them.
const skipZeroIno = false
