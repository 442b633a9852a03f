package uring

import (
	"unsafe"
)

// The Prep functions fill an SQE for one opcode. They store raw addresses of
// the buffers they are given: the caller must keep that memory reachable and
// pinned until the operation's completion has been reaped.

// PrepNop prepares IORING_OP_NOP.
func (e *SQE) PrepNop() { e.Opcode = OpNop; e.Fd = -1 }

func (e *SQE) prepRW(op uint8, fd int32, addr unsafe.Pointer, n uint32, off uint64) {
	e.Opcode = op
	e.Fd = fd
	e.Addr = uint64(uintptr(addr))
	e.Len = n
	e.Off = off
}

func bufAddr(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}

// PrepRead prepares IORING_OP_READ of p at off (off = ^uint64(0): the file position).
func (e *SQE) PrepRead(fd int32, p []byte, off uint64) {
	e.prepRW(OpRead, fd, bufAddr(p), shrink(OpRead, uint32(len(p))), off)
}

// PrepWrite prepares IORING_OP_WRITE of p at off (off = ^uint64(0): the file position).
func (e *SQE) PrepWrite(fd int32, p []byte, off uint64) {
	e.prepRW(OpWrite, fd, bufAddr(p), shrink(OpWrite, uint32(len(p))), off)
}

// PrepReadv prepares IORING_OP_READV; iov and every buffer it points to must stay pinned.
func (e *SQE) PrepReadv(fd int32, iov unsafe.Pointer, n int, off uint64) {
	e.prepRW(OpReadv, fd, iov, uint32(n), off)
}

// PrepWritev prepares IORING_OP_WRITEV; iov and every buffer it points to must stay pinned.
func (e *SQE) PrepWritev(fd int32, iov unsafe.Pointer, n int, off uint64) {
	e.prepRW(OpWritev, fd, iov, uint32(n), off)
}

// PrepFsync prepares IORING_OP_FSYNC; flags may be FsyncDatasync.
func (e *SQE) PrepFsync(fd int32, flags uint32) {
	e.Opcode = OpFsync
	e.Fd = fd
	e.OpFlags = flags
}

// PrepOpenat prepares IORING_OP_OPENAT; path must be NUL-terminated.
func (e *SQE) PrepOpenat(dirfd int32, path *byte, flags int, mode uint32) {
	e.prepRW(OpOpenat, dirfd, unsafe.Pointer(path), mode, 0)
	e.OpFlags = uint32(flags)
}

// PrepClose prepares IORING_OP_CLOSE.
func (e *SQE) PrepClose(fd int32) {
	e.Opcode = OpClose
	e.Fd = fd
}

// PrepStatx prepares IORING_OP_STATX; path must be NUL-terminated and stx
// points at a struct statx.
func (e *SQE) PrepStatx(dirfd int32, path *byte, flags int, mask uint32, stx unsafe.Pointer) {
	e.prepRW(OpStatx, dirfd, unsafe.Pointer(path), mask, uint64(uintptr(stx)))
	e.OpFlags = uint32(flags)
}

// The path operations below take NUL-terminated paths relative to dirfd
// (AT_FDCWD: the working directory). None of them accepts a registered
// file (IOSQE_FIXED_FILE) as dirfd.

// PrepOpenat2 prepares IORING_OP_OPENAT2; how points at a struct
// open_how of howSize bytes.
func (e *SQE) PrepOpenat2(dirfd int32, path *byte, how unsafe.Pointer, howSize uint32) {
	e.prepRW(OpOpenat2, dirfd, unsafe.Pointer(path), howSize, uint64(uintptr(how)))
}

// PrepMkdirat prepares IORING_OP_MKDIRAT (Linux 5.15).
func (e *SQE) PrepMkdirat(dirfd int32, path *byte, mode uint32) {
	e.prepRW(OpMkdirat, dirfd, unsafe.Pointer(path), mode, 0)
}

// PrepRenameat prepares IORING_OP_RENAMEAT (5.11); flags are
// renameat2's (RENAME_NOREPLACE, ...).
func (e *SQE) PrepRenameat(olddirfd int32, oldpath *byte, newdirfd int32, newpath *byte, flags uint32) {
	e.prepRW(OpRenameat, olddirfd, unsafe.Pointer(oldpath), uint32(newdirfd), uint64(uintptr(unsafe.Pointer(newpath))))
	e.OpFlags = flags // rename_flags
}

// PrepUnlinkat prepares IORING_OP_UNLINKAT (5.11); flags 0 or AT_REMOVEDIR.
func (e *SQE) PrepUnlinkat(dirfd int32, path *byte, flags uint32) {
	e.prepRW(OpUnlinkat, dirfd, unsafe.Pointer(path), 0, 0)
	e.OpFlags = flags // unlink_flags
}

// PrepLinkat prepares IORING_OP_LINKAT (5.15).
func (e *SQE) PrepLinkat(olddirfd int32, oldpath *byte, newdirfd int32, newpath *byte, flags uint32) {
	e.prepRW(OpLinkat, olddirfd, unsafe.Pointer(oldpath), uint32(newdirfd), uint64(uintptr(unsafe.Pointer(newpath))))
	e.OpFlags = flags // hardlink_flags
}

// PrepSymlinkat prepares IORING_OP_SYMLINKAT (5.15): newpath, relative
// to newdirfd, becomes a symbolic link to target.
func (e *SQE) PrepSymlinkat(target *byte, newdirfd int32, newpath *byte) {
	e.prepRW(OpSymlinkat, newdirfd, unsafe.Pointer(target), 0, uint64(uintptr(unsafe.Pointer(newpath))))
}

// PrepFallocate prepares IORING_OP_FALLOCATE (5.6): mode goes in len and
// the length in addr, as liburing's io_uring_prep_fallocate does.
func (e *SQE) PrepFallocate(fd int32, mode uint32, off, length uint64) {
	e.prepRW(OpFallocate, fd, nil, mode, off)
	e.Addr = length
}

// PrepFadvise prepares IORING_OP_FADVISE (5.6). Kernels before 6.7 take
// the length from len (32 bits) and refuse a non-zero addr; later ones
// take a 64-bit length from addr when it is set. A length that fits in
// 32 bits goes in len, so every kernel takes it.
func (e *SQE) PrepFadvise(fd int32, off, length uint64, advice uint32) {
	e.prepRW(OpFadvise, fd, nil, 0, off)
	if length <= 0xFFFF_FFFF {
		e.Len = uint32(length)
	} else {
		e.Addr = length
	}
	e.OpFlags = advice // fadvise_advice
}

// PrepFtruncate prepares IORING_OP_FTRUNCATE (6.9) to size.
func (e *SQE) PrepFtruncate(fd int32, size uint64) {
	e.prepRW(OpFtruncate, fd, nil, 0, size)
}

// PrepCancel prepares IORING_OP_ASYNC_CANCEL of the request whose user_data
// is target (flags 0), or with AsyncCancelAll of every such request.
func (e *SQE) PrepCancel(target uint64, flags uint32) {
	e.Opcode = OpAsyncCancel
	e.Fd = -1
	e.Addr = target
	e.OpFlags = flags
}

// PrepCancelFD prepares IORING_OP_ASYNC_CANCEL of requests on fd; flags
// gets AsyncCancelFD added, and usually AsyncCancelAll.
func (e *SQE) PrepCancelFD(fd int32, flags uint32) {
	e.Opcode = OpAsyncCancel
	e.Fd = fd
	e.OpFlags = flags | AsyncCancelFD
}

// PrepCancelAny prepares IORING_OP_ASYNC_CANCEL of every request in the ring.
func (e *SQE) PrepCancelAny() {
	e.Opcode = OpAsyncCancel
	e.Fd = -1
	e.OpFlags = AsyncCancelAny | AsyncCancelAll
}

// PrepTimeout prepares IORING_OP_TIMEOUT: it completes with -ETIME after ts,
// or earlier once count other completions have been posted (count 0: only
// the time counts). ts must stay pinned until the completion.
func (e *SQE) PrepTimeout(ts *Timespec, count uint32, flags uint32) {
	e.prepRW(OpTimeout, -1, unsafe.Pointer(ts), 1, uint64(count))
	e.OpFlags = flags
}

// PrepLinkTimeout prepares IORING_OP_LINK_TIMEOUT for the previous SQE,
// which must carry SQEIOLink. ts must stay pinned until the completion.
func (e *SQE) PrepLinkTimeout(ts *Timespec, flags uint32) {
	e.prepRW(OpLinkTimeout, -1, unsafe.Pointer(ts), 1, 0)
	e.OpFlags = flags
}

// PrepAccept prepares IORING_OP_ACCEPT; addr and addrLen may be nil.
// flags are accept4's (SOCK_CLOEXEC, SOCK_NONBLOCK).
func (e *SQE) PrepAccept(fd int32, addr unsafe.Pointer, addrLen *uint32, flags uint32) {
	e.prepRW(OpAccept, fd, addr, 0, uint64(uintptr(unsafe.Pointer(addrLen))))
	e.OpFlags = flags
}

// PrepConnect prepares IORING_OP_CONNECT to the raw sockaddr in sa.
func (e *SQE) PrepConnect(fd int32, sa []byte) {
	e.prepRW(OpConnect, fd, bufAddr(sa), 0, uint64(len(sa)))
}

// PrepRecv prepares IORING_OP_RECV into p with recv(2) flags.
func (e *SQE) PrepRecv(fd int32, p []byte, flags uint32) {
	e.prepRW(OpRecv, fd, bufAddr(p), shrink(OpRecv, uint32(len(p))), 0)
	e.OpFlags = flags
}

// PrepSend prepares IORING_OP_SEND of p with send(2) flags.
func (e *SQE) PrepSend(fd int32, p []byte, flags uint32) {
	e.prepRW(OpSend, fd, bufAddr(p), shrink(OpSend, uint32(len(p))), 0)
	e.OpFlags = flags
}

// PrepShutdown prepares IORING_OP_SHUTDOWN (how: SHUT_RD, SHUT_WR, SHUT_RDWR).
func (e *SQE) PrepShutdown(fd int32, how int) {
	e.prepRW(OpShutdown, fd, nil, uint32(how), 0)
}

// PrepSendmsg prepares IORING_OP_SENDMSG; msg points at a struct msghdr
// that, with everything it points to, must stay pinned.
func (e *SQE) PrepSendmsg(fd int32, msg unsafe.Pointer, flags uint32) {
	e.prepRW(OpSendmsg, fd, msg, 1, 0)
	e.OpFlags = flags
}

// PrepRecvmsg prepares IORING_OP_RECVMSG; msg as for PrepSendmsg.
func (e *SQE) PrepRecvmsg(fd int32, msg unsafe.Pointer, flags uint32) {
	e.prepRW(OpRecvmsg, fd, msg, 1, 0)
	e.OpFlags = flags
}
