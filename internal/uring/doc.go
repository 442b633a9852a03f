// Package uring is the Linux io_uring ABI and nothing else: the constants and
// structures of <linux/io_uring.h>, ring setup and mmap, the shared-memory
// head/tail protocol, io_uring_enter, io_uring_register and the opcode probe.
//
// It holds no policy: who submits, who reaps, what a completion means for an
// operation's lifecycle is decided by the io_uring driver in
// internal/backend/uring. On other systems the package is empty.
//
// The constants and struct layouts are checked against the system header by a
// cgo test (go test -tags cgoabi ./internal/uring).
package uring
