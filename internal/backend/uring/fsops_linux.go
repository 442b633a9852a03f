package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
	abi "github.com/waitforit/aio/internal/uring"
)

// fsOpcode is the io_uring opcode of each file system kind, and the
// kernel that brought it. Kinds missing here (getdents, readlinkat,
// lseek) have none: they always go to the worker pool (see route).
var fsOpcode = map[core.Kind]uint8{
	core.KindStat:      abi.OpStatx,     // 5.6
	core.KindFtruncate: abi.OpFtruncate, // 6.9
	core.KindFallocate: abi.OpFallocate, // 5.6
	core.KindFadvise:   abi.OpFadvise,   // 5.6
	core.KindOpenAt:    abi.OpOpenat,    // 5.6
	core.KindOpenat2:   abi.OpOpenat2,   // 5.6
	core.KindMkdir:     abi.OpMkdirat,   // 5.15
	core.KindRename:    abi.OpRenameat,  // 5.11
	core.KindUnlink:    abi.OpUnlinkat,  // 5.11
	core.KindLink:      abi.OpLinkat,    // 5.15
	core.KindSymlink:   abi.OpSymlinkat, // 5.15
}

// prepFS fills sqe for a file system kind that goes through the ring; it
// reports false for any other kind. The record's paths, Buf (the statx
// buffer, the struct open_how) stay pinned by the record until its
// completion. Called with sqMu held, from prepLocked.
func (d *Driver) prepFS(sqe *abi.SQE, r *core.Record) bool {
	fd := int32(r.FD)
	switch r.Kind {
	case core.KindStat:
		sqe.PrepStatx(fd, &r.Path[0], r.Flags, unix.STATX_BASIC_STATS, unsafe.Pointer(&r.Buf[0]))
	case core.KindFtruncate:
		sqe.PrepFtruncate(fd, uint64(r.Off))
	case core.KindFallocate:
		sqe.PrepFallocate(fd, uint32(r.Flags), uint64(r.Off), uint64(r.Len))
	case core.KindFadvise:
		sqe.PrepFadvise(fd, uint64(r.Off), uint64(r.Len), uint32(r.Flags))
	case core.KindOpenAt:
		sqe.PrepOpenat(fd, &r.Path[0], r.Flags, r.Mode)
	case core.KindOpenat2:
		sqe.PrepOpenat2(fd, &r.Path[0], unsafe.Pointer(&r.Buf[0]), uint32(len(r.Buf)))
	case core.KindMkdir:
		sqe.PrepMkdirat(fd, &r.Path[0], r.Mode)
	case core.KindRename:
		sqe.PrepRenameat(fd, &r.Path[0], fd, &r.Path2[0], uint32(r.Flags))
	case core.KindUnlink:
		sqe.PrepUnlinkat(fd, &r.Path[0], uint32(r.Flags))
	case core.KindLink:
		sqe.PrepLinkat(fd, &r.Path[0], fd, &r.Path2[0], 0)
	case core.KindSymlink:
		sqe.PrepSymlinkat(&r.Path[0], fd, &r.Path2[0])
	default:
		return false
	}
	return true
}

// usesFixedFile reports whether a request of kind k names its File's
// registered slot (IOSQE_FIXED_FILE) instead of the descriptor. The
// kernel refuses a registered file as the directory of a path operation
// and for STATX (-EBADF); open and close have no file to name.
func usesFixedFile(k core.Kind) bool {
	switch k {
	case core.KindNop, core.KindOpen, core.KindClose,
		core.KindStat, core.KindOpenAt, core.KindOpenat2, core.KindMkdir, core.KindRename,
		core.KindUnlink, core.KindLink, core.KindSymlink:
		return false
	}
	return true
}
