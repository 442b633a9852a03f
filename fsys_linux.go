package aio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hasOpenat2: openat2(2) (Linux 5.6) can confine a path to a directory
// (RESOLVE_BENEATH); DirFS uses it, and walks the path itself where the
// kernel answers ENOSYS.
const hasOpenat2 = true

// oPathDir opens a directory only to name it: O_PATH needs no read
// permission and does no I/O.
const oPathDir = unix.O_PATH | unix.O_DIRECTORY

// oPathAny opens anything only to name it (O_PATH): a stat through it
// never blocks, not even on a FIFO.
const oPathAny = unix.O_PATH

// openHowBeneath is the struct open_how of an openat2 confined to its
// directory: no ".." above it, no absolute symbolic link, no symbolic
// link leading out of it, no /proc magic link. The bytes are the
// operation's until its completion.
func openHowBeneath(flags int) []byte {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(how)), unsafe.Sizeof(*how))
}
