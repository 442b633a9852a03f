package aio

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parseDirent reads the first record of buf, a DragonFly struct dirent,
// which has no record length: it is computed from the name's, as
// DragonFly's _DIRENT_RECLEN does.
func parseDirent(buf []byte) (reclen int, ino uint64, name []byte, typ uint8, ok bool) {
	const (
		offNamlen = unsafe.Offsetof(unix.Dirent{}.Namlen)
		offType   = unsafe.Offsetof(unix.Dirent{}.Type)
		offName   = unsafe.Offsetof(unix.Dirent{}.Name)
	)
	if len(buf) < int(offName) {
		return 0, 0, nil, 0, false
	}
	namlen := int(binary.NativeEndian.Uint16(buf[offNamlen:]))
	reclen = (16 + namlen + 1 + 7) &^ 7
	if reclen > len(buf) {
		return 0, 0, nil, 0, false
	}
	return reclen, binary.NativeEndian.Uint64(buf), buf[offName : int(offName)+namlen], buf[offType], true
}

// skipZeroIno: entries with inode 0 are holes left by deleted files.
const skipZeroIno = true
