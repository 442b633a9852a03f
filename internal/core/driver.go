package core

// Driver is what a backend implements. The core calls it; it calls
// Table.Complete exactly once for every record Submit accepted.
type Driver interface {
	// Name is the backend's name: "uring", "portable", ...
	Name() string
	// Supported reports whether this driver, on this kernel, can do k. When
	// it cannot, op names what is missing (an io_uring opcode, say).
	Supported(k Kind) (ok bool, op string)
	// Submit hands r to the kernel. It returns an error only if nothing was
	// submitted; then Complete is never called for r. Submit may block
	// while the submission queue is full, but not on the operation itself.
	Submit(r *Record) error
	// Cancel asks the kernel to cancel the use of a record identified by
	// id (Record.ID at the time cancel was requested). It never blocks on
	// the operation, and a stale id matches nothing.
	Cancel(r *Record, id uint64)
	// CancelFD asks the kernel to cancel every operation on fd.
	CancelFD(fd int)
	// CancelAll asks the kernel to cancel every operation of the driver.
	CancelAll()
	// Close releases the driver. The core calls it only after every
	// submitted record has completed.
	Close() error
}

// FileAttacher is implemented by drivers that keep per-descriptor state
// (the portable backend: pollable or not, its netpoller registration).
// Attach is called when a File adopts fd; its handle is put in every
// record on that File (Record.Handle). Detach is called by File.Close
// after every operation on fd has completed and before fd is closed.
type FileAttacher interface {
	Attach(fd int) (handle any, err error)
	Detach(fd int, handle any)
}

// BatchSubmitter is implemented by drivers that can hand several records
// to the kernel at once (io_uring: one io_uring_enter for all).
// SubmitBatch submits recs in order and returns how many it submitted;
// when that is fewer than len(recs) the error says why, and the rest were
// not submitted (Complete is never called for them).
type BatchSubmitter interface {
	SubmitBatch(recs []*Record) (int, error)
}

// BufferRegistrar is implemented by drivers that can register memory with
// the kernel once, so that operations on it skip the per-operation work of
// mapping the caller's pages (io_uring's fixed buffers). RegisterBuffer
// registers p, which must stay allocated and unmoved until
// UnregisterBuffer, and returns the index records name in BufIndex.
// UnregisterBuffer is called only when no operation on p is in flight.
type BufferRegistrar interface {
	RegisterBuffer(p []byte) (index uint16, err error)
	UnregisterBuffer(index uint16)
}

// BufferHold is told when the kernel no longer uses a record's buffer
// (see Record.Hold), in two steps around the owner's notification:
// Unhold before it, so that an owner who releases the buffer as soon as
// it sees the completion finds it free at once; and Done after it, with
// Unhold's answer: recycle means the buffer was released while in flight
// and is to be recycled now, only once its operation is observably
// complete. Both run on the completing goroutine and must not block.
type BufferHold interface {
	Unhold(slot uint32) (recycle bool)
	Done(slot uint32, recycle bool)
}

// DirectDoer is implemented by drivers that can do some operations at
// once, in the calling goroutine, when the kernel can complete them
// without waiting: a read of cached data, a send with room in the socket
// buffer. TryNow returns the kernel's result (a count or -errno) and ok,
// or ok false if the operation would have to wait, or is not one the
// driver tries now: then it must be submitted as usual. handle is fd's
// FileAttacher handle, if the driver keeps one. With ok false,
// res -EOPNOTSUPP says the kernel can never do this kind of operation
// on fd at once (buffered ext4 writes, say): callers stop trying. buf is used only
// during the call. A blocking operation of the core may try this first;
// it needs no record, since nothing is left in flight.
type DirectDoer interface {
	TryNow(kind Kind, fd int, handle any, buf []byte, off int64, flags int) (res int32, ok bool)
}

// ReadNow is one read for ManyDoer.TryReadsNow: FD, Buf and Off in, Res
// (the kernel's result: a count or -errno) out.
type ReadNow struct {
	FD  int
	Buf []byte
	Off int64
	Res int32
}

// ManyDoer is implemented by drivers that can try many positioned reads
// of regular files at once in one system call (io_uring: one
// io_uring_enter of a ring the calling goroutine enters itself, each
// read flagged RWF_NOWAIT and every one reaped before the call returns,
// so nothing is left in flight on a thread that may exit). TryReadsNow
// sets each read's Res; a read whose Res is not len(Buf) was not done at
// once (it would wait, came back short, or failed) and must be submitted
// as usual, which says what becomes of it. It reports false, having
// tried nothing, if it cannot. The buffers are used only during the
// call.
type ManyDoer interface {
	TryReadsNow(reads []ReadNow) bool
}

// WaitHinter is implemented by drivers that want to know when a program
// starts waiting for an operation (the simulator: it decides an
// operation's outcome at the moment the program can observe it, so that
// outcomes follow from the sequence of calls and not from timing).
// Waiting is told the identifier of the use waited for (stale ones must
// be ignored) and whether the waiter can still cancel it (a context or a
// deadline). It runs on the waiting goroutine before it blocks, may
// complete operations (Table.Complete) itself, and must not block on one.
//
// WaitingFD is told that the program waits for every write in flight on
// fd (a sync, waiting at its barrier for the writes before it).
type WaitHinter interface {
	Waiting(r *Record, id uint64, cancellable bool)
	WaitingFD(fd int)
}
