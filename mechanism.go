package aio

import "github.com/waitforit/aio/internal/core"

// How each operation reaches the kernel: the one place that decides.
//
// A File learns once, when it is made (see Ring.newFile), what its
// descriptor is, and from that and the backend each of its operations
// takes one of these mechanisms:
//
//	descriptor            blocking calls (Read, Write, Recv, Send,      Start*, Batch
//	                      Accept, Connect, deadlines)
//	--------------------  --------------------------------------------  -------------
//	pipe, FIFO, socket,   readiness: the caller's own non-blocking      the driver
//	tty (pollable), its   system call; on EAGAIN it parks in Go's
//	open file description netpoller, as net does (pollFD). Deadlines
//	aio's own             are the netpoller's; a context kicks it.
//
//	pollable, adopted     the driver: io_uring's poll-armed requests,   the driver
//	and shared with its   or the portable backend's workers, which
//	owner (a socket that  wait in poll(2) with a cancel descriptor.
//	cannot be reopened)   Nothing changes the shared description's
//	                      flags (O_NONBLOCK stays as the owner set it).
//
//	regular file, block   read: at once in the caller if the kernel     the driver
//	device, directory     can without waiting (cached data, RWF_NOWAIT),
//	                      else the driver (io_uring: no thread waits
//	                      for the disk); write: at once where the
//	                      kernel can (RWF_NOWAIT), and where it cannot
//	                      (ext4's buffered writes) in the caller's own
//	                      thread, as os.File writes, since it waits for
//	                      the file system anyway and a kernel worker
//	                      would only add hops (File.callerWrites);
//	                      O_DIRECT reads and writes, fsync, open,
//	                      stat...: the driver (io_uring's: the ring
//	                      where the kernel has the opcode, else its
//	                      worker pool; see route in
//	                      internal/backend/uring/workers_linux.go).
//
//	anything on "iocp"    the driver                                    the driver
//	or "sim"              (an adopted disk file is reopened overlapped
//	                      on Windows, so that the completion port
//	                      serves it: see mechanism_windows.go)
//
// Readiness is the fastest way to wait for a socket or a pipe from a
// goroutine per connection (every M:N runtime that tried io_uring keeps
// sockets on readiness), and it needs no thread that could exit under a
// request. The ring is for what the kernel must wait for on a disk, and
// for callers that keep many operations in flight (Start, Batch,
// BufferPool). The simulator sees every operation, so that it can choose
// their outcomes; the IOCP backend is completion-based by nature.

// fdOrigin says whose a descriptor's open file description is.
type fdOrigin uint8

const (
	// madeByAio: Open, Listen, Dial, accept made it; its flags are
	// aio's to set (O_NONBLOCK from birth, as Go's own are).
	madeByAio fdOrigin = iota
	// adopted: NewFile's duplicate of a caller's descriptor, sharing its
	// open file description (and so its O_NONBLOCK) with every other
	// holder: a terminal, an inherited pipe. aio never changes its flags.
	adopted
)

// streamOp reports whether kind is a transfer that the readiness path
// serves for blocking calls: at the stream's own position, with no
// offset.
func streamOp(kind core.Kind) bool {
	switch kind {
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend, core.KindRecvmsg, core.KindSendmsg, core.KindAccept:
		return true
	}
	return false
}
