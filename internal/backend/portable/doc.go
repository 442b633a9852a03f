// Package portable is the backend for systems where io_uring is missing or
// forbidden (old kernels, seccomp profiles, kernel.io_uring_disabled,
// gVisor, other Unix systems). It keeps the whole contract with what every
// Unix has, in the same core lifecycle as the io_uring driver:
//
//   - Pollable descriptors (pipes, sockets, ttys, eventfds, ...) use
//     non-blocking syscalls. An operation that cannot complete at once parks
//     a goroutine in Go's own netpoller, on a duplicate of the descriptor
//     that the driver owns; a cancel wakes it at once and it completes with
//     ECANCELED, without disturbing other operations on the descriptor.
//     Datagrams (KindSendmsg, KindRecvmsg) take the same path, as raw
//     sendto/recvfrom calls: the addresses stay raw sockaddr bytes.
//   - Everything else (regular files, fsync, openat, close) runs blocking
//     syscalls on a bounded pool of worker goroutines. An operation still
//     queued is cancelled at once and never runs; one already running
//     completes with its real result, as disk I/O that reached the device
//     does under io_uring, and the cancel counts as lost.
//   - On Linux a read of a regular file first tries preadv2(RWF_NOWAIT) in
//     the submitting goroutine: data in the page cache is copied at once,
//     as io_uring itself does before it punts a request to its workers.
//
// On systems that are not Unix, New returns an error wrapping
// errors.ErrUnsupported.
//
// # Descriptor modes
//
// O_NONBLOCK belongs to the open file description, which every duplicate
// of a descriptor shares with whoever else holds it: the shell that
// started the program, for a terminal; the parent, for an inherited pipe.
// The driver never changes it. A non-blocking stream (aio's own sockets
// and pipes, os.Pipe's, net's) parks in the netpoller as above; a
// blocking one runs on a worker that waits in poll(2) on the descriptor
// and on a cancel pipe of its own, so that a cancel wakes it at once, and
// transfers on a socket with MSG_DONTWAIT, so that they never block. (A
// pipe's or terminal's read after poll says it is readable may still
// block if another reader takes the data first; on Linux the aio package
// reopens such descriptors privately, so they never come here blocking.)
package portable
