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
// of a descriptor shares. Attach sets it on pollable descriptors (those
// from os.Pipe and package net already have it) and leaves it set: a
// blocking os.File sharing the description (os.NewFile of a descriptor
// from unix.Pipe2, say) then sees EAGAIN from its own reads. Clearing the
// flag again behind an attached File, for example by calling Fd on an
// *os.File from os.Pipe that shares its description, makes the backend's
// reads block a thread and their cancels wait for data; do not do that.
package portable
