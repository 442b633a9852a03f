package core

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
)

// Kind is what an operation does.
type Kind uint8

const (
	KindNop      Kind = iota
	KindRead          // read into Buf at Off (Off < 0: the file position / a stream)
	KindWrite         // write Buf at Off (Off < 0: the file position / a stream)
	KindFsync         // fsync(FD); Flags FsyncDatasync asks for fdatasync
	KindOpen          // openat(AT_FDCWD, Path, Flags, Mode); Res is the new fd
	KindClose         // close(FD)
	KindAccept        // accept4(FD, nil, nil, Flags); Res is the new socket
	KindConnect       // connect(FD, Buf as a raw sockaddr)
	KindRecv          // recv(FD, Buf, Flags)
	KindSend          // send(FD, Buf, Flags)
	KindShutdown      // shutdown(FD, Flags)
	KindSendmsg       // sendmsg(FD) of Buf to the raw sockaddr Addr (nil: connected), Flags
	KindRecvmsg       // recvmsg(FD) into Buf, Flags; source address into Addr, its length to AddrLen
	// KindAcceptMulti is a multishot accept4(FD, nil, nil, Flags): it
	// stays in flight and yields each new socket through Notify's More
	// (see MoreNotifier) until it ends with its one completion, whose
	// Res may itself be a socket. Only drivers that report it Supported
	// take it.
	KindAcceptMulti

	// File system operations. Path and Path2 are
	// NUL-terminated; FD is the directory they are relative to
	// (AT_FDCWD for a plain path) or the file operated on.
	KindStat      // statx/fstatat(FD, Path, Flags = AT_* flags) into Buf, which holds the OS's stat structure
	KindFtruncate // ftruncate(FD, Off)
	KindFallocate // fallocate(FD, Flags = mode, Off, Len)
	KindFadvise   // posix_fadvise(FD, Off, Len, Flags = advice)
	KindSeek      // lseek(FD, Off, Flags = whence); the new offset replaces Off
	KindReadDir   // getdents(FD) into Buf; Res is the bytes of directory entries
	KindOpenAt    // openat(FD, Path, Flags, Mode); Res is the new fd
	KindOpenat2   // openat2(FD, Path, Buf = struct open_how) (Linux); Res is the new fd
	KindMkdir     // mkdirat(FD, Path, Mode)
	KindRename    // renameat(FD, Path, FD, Path2)
	KindUnlink    // unlinkat(FD, Path, Flags = 0 or AT_REMOVEDIR)
	KindLink      // linkat(FD, Path, FD, Path2, 0)
	KindSymlink   // symlinkat(Path = target, FD, Path2 = new name)
	KindReadlink  // readlinkat(FD, Path) into Buf; Res is the length

	// KindSendFile sends Len bytes of the regular file Src, from its
	// offset Off, on the stream socket FD, without a copy in userspace
	// (Windows: TransmitFile); Res is the bytes sent, which a cancel may
	// leave short. Only drivers that report it Supported take it (Linux's
	// transfers call sendfile(2) in the caller: see aio's mechanism.go).
	KindSendFile
	kindCount
)

// FsyncDatasync in a KindFsync record's Flags asks for fdatasync: the
// data, and only the metadata needed to read it back. It is
// IORING_FSYNC_DATASYNC's bit, which every backend reads.
const FsyncDatasync = 1

var kindNames = [...]string{"nop", "read", "write", "fsync", "open", "close", "accept", "connect", "recv", "send", "shutdown", "sendmsg", "recvmsg", "accept-multishot",
	"stat", "ftruncate", "fallocate", "fadvise", "lseek", "getdents", "openat", "openat2", "mkdirat", "renameat", "unlinkat", "linkat", "symlinkat", "readlinkat", "sendfile"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// State word of a record, one uint64:
//
//	bits 32..63  generation: bumped each time the record is handed out, so
//	             an identifier or a handle from an earlier use never matches
//	bit  0       submitted: handed to the driver; set before the kernel can
//	             see the request, so a completion always finds it set
//	bit  1       cancelRequested: a cancel was asked for (set at most once)
//	bit  2       completed: the kernel is done; set exactly once
//
// Allowed transitions within one generation: 0 -> submitted ->
// submitted|cancelRequested -> ...|completed. Anything else is a bug and
// panics with "inconsistent".
const (
	stSubmitted       = 1 << 0
	stCancelRequested = 1 << 1
	stCompleted       = 1 << 2
	genShift          = 32
)

// Notifier is told when a record completes. It runs on the completing
// goroutine, must not block, and owns the record from then on (it must
// return it to the table with Put once it has read the result).
type Notifier interface {
	Complete(r *Record)
}

// MoreNotifier is the Notifier of a multishot operation
// (KindAcceptMulti). More is called for each result that does not end
// the operation, on the reaping goroutine, in the kernel's order and
// before the final Complete; it must not block, and it owns res (a new
// descriptor) from then on. The record stays in flight throughout.
type MoreNotifier interface {
	Notifier
	More(r *Record, res int32)
}

// Record is one operation: its request, its buffers, its state and its
// result. Records are owned by a Table and reused; a record's Index never
// changes and its generation changes on every reuse.
type Record struct {
	// Request, filled by the caller between Get and Submit.
	Kind  Kind
	FD    int
	Buf   []byte // owned by the operation from Submit until completion (KindConnect: the sockaddr)
	Off   int64
	Path  []byte // NUL-terminated, for KindOpen and the file system kinds
	Path2 []byte // NUL-terminated: the second name of KindRename, KindLink, KindSymlink
	Len   int64  // KindFallocate's, KindFadvise's and KindSendFile's length
	Src   int    // KindSendFile's source: the file whose bytes are sent
	Addr  []byte // raw sockaddr: KindSendmsg's destination, KindRecvmsg's room for the source
	// AddrLen is KindRecvmsg's source address length, set by the driver
	// before it calls Complete.
	AddrLen int
	Flags   int
	Mode    uint32

	// Refs are released at completion, right after the owner has been
	// notified: a Close that sees them drained may close the descriptor,
	// and finds every operation on it observably complete.
	FileRefs *Refs
	RingRefs *Refs

	// Barrier, when set, counts this operation as a write its file's syncs
	// must wait for (see Barrier): from submission until its owner has
	// been told of its completion.
	Barrier      *Barrier
	barrierEpoch uint64

	// Notify, when set, is called at completion; otherwise Wake receives
	// one token. Set by the caller before Submit.
	Notify Notifier

	// Res is the kernel's result: >= 0 a count or descriptor, < 0 -errno.
	// Valid once completion has been observed.
	Res int32

	// Wake gets one token per completion when Notify is nil. Capacity 1,
	// allocated once per record and reused.
	Wake chan struct{}

	// Handle is the driver's per-descriptor state (see FileAttacher).
	Handle any

	// Fixed says Buf lies inside memory registered with the driver under
	// BufIndex (see BufferRegistrar), so the driver may use the kernel's
	// fixed-buffer operations. Drivers without registration ignore it.
	Fixed    bool
	BufIndex uint16

	// Hold, when set, is told (Unhold, Done: see BufferHold) once the kernel is done
	// with Buf: at completion, after the owner was notified, or when
	// the submission fails. A buffer pool recycles Buf only then.
	Hold     BufferHold
	HoldSlot uint32

	// DriverData is for the backend (the portable backend keeps its
	// per-op state here). The core does not touch it.
	DriverData any

	Index    uint32
	nextFree atomic.Uint32 // the free record below this one, index plus one (see Table.Get)
	table    *Table
	state    atomic.Uint64
	pin      runtime.Pinner
	stack    []uintptr // where it was submitted, when leak tracking or Check is on

	sum    uint32 // the write buffer's checksum at submission (Check)
	summed bool   // sum is set
}

// Gen returns the record's current generation.
func (r *Record) Gen() uint32 { return uint32(r.state.Load() >> genShift) }

// ID is the identifier of this use of the record, for the kernel's
// user_data: index and generation. It is never 0 and never reused while
// the record is in flight.
func (r *Record) ID() uint64 { return idOf(r.Index, r.Gen()) }

func idOf(index, gen uint32) uint64 { return uint64(gen)<<32 | uint64(index) }

// CancelRequested reports whether a cancel was requested for the current use.
func (r *Record) CancelRequested() bool { return r.state.Load()&stCancelRequested != 0 }

// Completed reports whether the current use has completed.
func (r *Record) Completed() bool { return r.state.Load()&stCompleted != 0 }

// Err returns the result as an errno, or 0 for success.
func (r *Record) Err() syscall.Errno {
	if r.Res < 0 {
		return syscall.Errno(-r.Res)
	}
	return 0
}

func (r *Record) inconsistent(what string, s uint64) {
	panic(fmt.Sprintf("aio: inconsistent op state: %s (op %s, index %d, gen %d, state %#x)",
		what, r.Kind, r.Index, s>>genShift, s&0xff))
}

// Handoff is called by a driver once it has read everything it needs from
// the record, just before the kernel can see the request. From then on
// the record may complete and be recycled at any moment. (It only informs
// the race detector; it costs nothing in normal builds.)
func (r *Record) Handoff() { raceRelease(r) }

// Handback is called by a driver that reads memory the kernel wrote for
// this operation (a msghdr's name length, say) before Complete: it pairs
// with Handoff for the race detector. It costs nothing in normal builds.
func (r *Record) Handback() { raceAcquire(r) }

// pinBuffers pins the memory the kernel will use. Go's heap does not move
// today; the pin makes "the kernel holds a pointer to this" explicit and
// keeps it true if that ever changes. The table keeps the record (and so
// the buffers) reachable; the pin is released at completion. A buffer
// pool's memory (Hold set) is pinned once, by its pool, for its lifetime.
func (r *Record) pinBuffers() {
	if len(r.Buf) > 0 && r.Hold == nil { // a pool's memory is pinned by its pool
		r.pin.Pin(&r.Buf[0])
	}
	if len(r.Path) > 0 {
		r.pin.Pin(&r.Path[0])
	}
	if len(r.Path2) > 0 {
		r.pin.Pin(&r.Path2[0])
	}
	if len(r.Addr) > 0 {
		r.pin.Pin(&r.Addr[0])
	}
}
