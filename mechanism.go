package aio

import (
	"context"

	"github.com/waitforit/aio/internal/core"
)

// How each operation reaches the kernel: the one place that decides.
//
// A File learns once, when it is made (see Ring.newFile), what its
// descriptor is, and from that and the backend each of its operations
// takes one of these mechanisms:
//
//	descriptor            blocking calls (Read, Write, Recv, Send,      Start*, Batch
//	                      Accept, Connect, deadlines)
//	--------------------  --------------------------------------------  -------------
//	pipe, FIFO, socket,   readiness: the caller's own non-blocking      the driver;
//	tty (pollable), its   system call; on EAGAIN it parks in Go's       on io_uring
//	open file description netpoller, as net does (pollFD). Deadlines    its worker
//	aio's own             are the netpoller's; a context kicks it.      pool's netpoller
//	                                                                    path (*)
//
//	(*) io_uring's poll-armed requests complete through the ring's owner
//	thread (a netpoller wake-up, then the owner's): an Op on a pipe took
//	29-38 us from Op.Cancel to Wait's return and a cancel storm ran 5.3k
//	reads/s (std: 27k); through the worker pool's netpoller path, which
//	tries the call at once and else parks a goroutine, 5 us and 120k/s.
//	So the uring driver attaches such a stream to its worker pool (Attach
//	in internal/backend/uring/files_linux.go) and sends its transfers
//	there; accepts stay on the ring (multishot).
//
//	pollable, adopted     the driver: io_uring's poll-armed requests,   the driver
//	and shared with its   or the portable backend's workers, which
//	owner (a socket that  wait in poll(2) with a cancel descriptor.
//	cannot be reopened)   Nothing changes the shared description's
//	                      flags (O_NONBLOCK stays as the owner set it).
//
//	regular file, block   read: at once in the caller if the kernel     reads: at once
//	device, directory     can without waiting (cached data,             where the
//	                      RWF_NOWAIT), else the driver (io_uring: no    kernel can, as
//	                      thread waits for the disk); write: at once    for blocking
//	                      where the kernel can (RWF_NOWAIT), and where  calls (a
//	                      it cannot (ext4's buffered writes) in the     Batch's
//	                      caller's own thread, as os.File writes,       together: on
//	                      since it waits for the file system anyway     io_uring one
//	                      and a kernel worker would only add hops       enter of its
//	                      (File.callerWrites); lseek, a stat of an      inline ring;
//	                      open file, and an openat2 whose names are     now.go), else
//	                      all in the kernel's caches (RESOLVE_CACHED):  the driver;
//	                      at once in the caller on uring and portable   the rest: the
//	                      (fsNow, fsnow_linux.go: a file server does    driver
//	                      them for every request); a Sync whose
//	                      context cannot end: in the caller's thread,
//	                      as os.File (syncInCaller); O_DIRECT reads and
//	                      writes, other fsyncs, open, stat...: the driver
//	                      (io_uring's: the ring where the kernel has
//	                      the opcode, else its worker pool, which also
//	                      takes fsync, by measurement, and open, which
//	                      must wait for a FIFO's other end as open(2)
//	                      does; see route in
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

// Transfers (Conn.ReadFrom and WriteTo, File.ReadFrom and WriteTo, so
// io.Copy and net/http) move bytes between two descriptors. Where both
// sides are of the kinds below and the ring has the readiness path
// ("uring", "portable") on Linux, only the kernel touches the bytes
// (transferMechanism in transfer_linux.go decides; Stats.ZeroCopyBytes
// counts them):
//
//	source -> destination      mechanism
//	-------------------------  -----------------------------------------
//	regular file -> stream     sendfile(2) from the file's position (or a
//	(socket, pipe)             section's offset), as Go's net: the
//	                           caller's own call, parking in the
//	                           netpoller while the stream is full
//	stream -> stream or        splice(2) through a pipe from the ring's
//	regular file               pool, as Go's net: the source is drained
//	                           into the pipe (waiting for its data in the
//	                           netpoller), then the pipe pumped into the
//	                           destination (waiting for room); a transfer
//	                           stopped with bytes in the pipe hands them
//	                           back (UndeliveredError)
//	regular file -> regular    copy_file_range(2) in the caller's thread,
//	file                       in 8 MiB chunks: it waits for the file
//	                           system as a write does (callerWrites)
//
// Sides: aio's Files, Conns and DirFS files, *os.File, *net.TCPConn and
// anything else with SyscallConn (a foreign stream must be non-blocking;
// it is duplicated into the netpoller for the transfer), bare or in an
// *io.LimitedReader or *io.SectionReader (and net/http's FileServerFS
// wrapper).
//
// On Windows ("iocp"; transfer_windows.go) a regular file (an aio File or
// DirFS file, an *os.File, bare or wrapped as above) to an aio stream
// Conn is TransmitFile, as Go's net does: a completion-port operation
// (core.KindSendFile) from the file's position or a section's offset, in
// chunks of at most 1 GiB, cancelled like any other with the bytes it
// sent so far counted.
//
// Everything else, and every transfer on "sim", is a copy through a
// pooled buffer (Stats.CopiedBytes).
//
// io_uring's own IORING_OP_SPLICE lost to the readiness path, measured
// on the raw ring with no Go driver in the way (BenchmarkSplice* in
// internal/uring/splice_linux_test.go, 16 KiB messages between loopback
// sockets, interleaved runs): as a proxy moves a request and its answer
// (each splice into the pipe waits for data), 17-19 us of CPU per message
// through the ring against 11 us on the readiness path, and no faster by
// the clock; streaming, the two are even (9-12 us). The two halves cannot
// be linked either: the second's length is the first's result, and a
// short splice breaks a link. So io_uring keeps the readiness path.
//
// IORING_OP_SEND_ZC (6.0; complete only at its IORING_CQE_F_NOTIF, when
// the kernel lets go of the pages) is measured and off: on this machine's
// loopback, the only network here, the kernel copies the pages on
// delivery anyway, and against IORING_OP_SEND of the same buffer it costs
// 2.1-2.4x the CPU per 16 KiB send, 0.9-1.15x per 64 KiB and 1.1-1.27x
// per 1 MiB (BenchmarkRingSend in the same file, two interleaved runs).
// Nothing here shows a size above which it pays; a NIC might.

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

// syncInCaller reports whether a blocking Sync or SyncData of f makes its
// fsync in the caller's own thread, as os.File.Sync does, once the
// writes before it have completed (the barrier, rule 10): on a regular
// file of a backend with the caller's path (uring, portable) and when
// ctx cannot end, since nothing could cancel the call once made. The
// fsync waits for the disk whoever makes it; through the driver (a
// worker thread, or io_uring's io-wq, which takes every fsync) it only
// added hops: write-fsync ran at 0.80-0.96x os.File's writes per
// CPU-second that way. A sync whose context can end, and the Op API's,
// go to the driver, where a cancel can still stop one not yet begun.
func (f *File) syncInCaller(ctx context.Context) bool {
	return f.direct != nil && f.regular && ctx.Done() == nil
}

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
