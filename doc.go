// Package aio is asynchronous I/O for Go where cancellation is done right.
//
// Completion-based I/O (Linux io_uring, Windows completion ports) hands a
// buffer, an operation and a descriptor to the kernel. Cancelling is only
// a request: the kernel may already be done, may finish anyway, or may not
// be able to stop. Only the completion says the kernel is finished, and
// only then may the buffer be reused or the descriptor closed. aio makes
// that rule impossible to break:
//
//   - A Start call either submits and returns an *Op, or returns an error
//     and submits nothing.
//   - Every submitted operation completes exactly once, with (n, err): it
//     completed normally (perhaps despite a cancel), it was cancelled
//     (err matches ErrCanceled and syscall.ECANCELED, n == 0), or it failed.
//   - Op.Cancel only asks. It never blocks and never fails.
//   - From submission to completion the buffer and the descriptor belong
//     to the operation. The library keeps the buffer reachable and pinned
//     even if the caller drops every reference, and from the completion
//     on keeps no pointer to it (nor to the object it lies in), whether
//     the operation was done, failed or cancelled.
//   - Blocking calls that take a context (ReadAtContext, Op.WaitContext,
//     ...) react to the context by requesting the cancel and then still
//     waiting for the completion. They report the real outcome: bytes
//     that arrived anyway are returned without error.
//   - File.Close and Ring.Close cancel what is in flight and wait for every
//     completion before closing, so a descriptor number is never reused
//     under an operation.
//   - An operation nobody cancelled never completes as cancelled, whatever
//     becomes of the goroutine or the OS thread that started it: on
//     io_uring only a thread of the library, locked for the ring's life,
//     ever enters the ring.
//   - File.Sync and File.SyncData are barriers, as POSIX aio_fsync: they
//     complete only after every write on the File submitted before them
//     (by a blocking call, a Start or a Batch) has completed, and then
//     commit them.
//
// Errors speak Go: *fs.PathError for files; errors.Is with os.ErrClosed,
// context.Canceled, context.DeadlineExceeded, os.ErrDeadlineExceeded,
// syscall.ECANCELED and errors.ErrUnsupported.
//
// The blocking methods (File.ReadAt, File.ReadContext, Conn.Read, ...)
// suit most code, and each takes the fastest mechanism that keeps the
// contract (one table decides, in mechanism.go): a socket's or a pipe's
// calls are the caller's own non-blocking system calls, waiting in Go's
// netpoller as net.Conn's do; a read of cached file data is done at once
// in the caller; a read that waits for the disk goes through the ring,
// where no thread waits for it and a context can cancel it; a buffered
// write the file system cannot take at once is made in the caller, as
// os.File makes it. Ring.Stats counts what each mechanism served.
// The Start methods and Op expose the asynchronous layer underneath, for
// callers that keep many operations in flight from one goroutine. A Batch
// hands many Starts to the kernel in one system call, and the Start*Op
// forms run an operation in an Op the caller reuses, so that a steady
// stream of operations allocates nothing. A BufferPool's buffers are
// registered with the kernel where it can (io_uring fixed buffers) and
// are recycled only after the completion of their last operation, even
// when released while it is still in flight.
//
// # Sockets
//
// Ring.Listen, Ring.DialContext and Ring.ListenPacket give a net.Listener,
// net.Conn and net.PacketConn (TCP, UDP, unix, unixgram) whose deadlines
// are cancel-and-wait: a deadline that passes cancels the operation in
// flight and the call still waits for its completion; the error matches
// os.ErrDeadlineExceeded and is a net.Error with Timeout() true. An accept
// or connect that wins after its cancel goes to the caller still waiting;
// one nobody waits for any more (a listener being closed) is closed by
// the library.
//
// # Files and directories
//
// File has what programs call besides reads and writes, with os.File's
// names and meanings and a context where the call may wait: Seek (Read
// and Write use and advance the offset, ReadAt and WriteAt do not),
// Stat, Truncate, SyncData, Allocate (fallocate), Advise (fadvise),
// ReadDir, WriteString, ReadFrom and WriteTo (zero-copy on Linux where
// both sides are files or stream sockets and pipes: sendfile, splice,
// copy_file_range; see Conn.ReadFromContext for how a cancelled transfer
// accounts for its bytes). A directory opened with
// Ring.Open can be read and synced (how a rename is made durable).
// Ring has os's path functions: Stat, Lstat, Mkdir, MkdirAll, Rename,
// Remove, RemoveAll, Link, Symlink, Readlink and ReadDir, with os's
// errors (*fs.PathError, *os.LinkError, the same Op names). Ring.DirFS
// is an fs.FS read through the ring, for testing/fstest, http.FileServerFS
// and http.ServeContent; its WithContext view binds a request's context
// to every read, and it refuses symbolic links that leave its directory,
// as os.Root does. Each operation goes through the ring where the
// kernel's io_uring has it and to worker threads otherwise (getdents
// and readlink always); on Linux's uring and portable backends, lseek, a
// stat of an open file and an open whose names are all cached are done
// at once in the caller (mechanism.go). Probe().Routes and Ring.Routes
// list the routes.
// They keep the contract above: a context that ends cancels what has not
// started and still waits, and an operation that happened anyway (the
// directory was made) reports its success.
//
// # Descriptors aio did not create
//
// Ring.NewFile adopts a duplicate of a descriptor someone else holds: a
// terminal, an inherited pipe, a socket. Its open file description is
// shared with them, and aio never changes its flags, while it uses it or
// after: O_NONBLOCK stays as the owner set it. Where the descriptor is
// blocking, aio still waits for it without holding a thread and cancels
// at once: on Linux a pipe, FIFO or terminal is reopened privately (a new
// open file description of the same object, through /proc/self/fd); a
// socket, which cannot be reopened, waits in io_uring's poll-armed
// requests or, on the portable backend, on a worker in poll(2) with a
// cancel descriptor. On other systems the portable backend keeps the
// flags the same way, with one limit it cannot lift: a blocking pipe's
// or terminal's read, made once poll(2) says it is readable, can still
// block if another process reads the data first (Probe().Limits says so
// where it applies).
//
// # Backends
//
// "uring" is Linux io_uring. "portable" keeps the same contract where
// io_uring is missing or forbidden (old kernels, seccomp profiles in
// containers, kernel.io_uring_disabled): Go's netpoller for pipes and
// sockets, a bounded pool of threads for regular files. New picks
// Config.Backend, else the AIO_BACKEND environment variable, else io_uring
// when it works, else portable; Probe says which and why, for logs. The
// conformance suite in package aiotest runs unchanged on every backend.
//
// # Testing with the simulator
//
// Backend "sim" keeps the whole contract while it chooses, from
// Config.Seed, every outcome the contract allows: cancels that win, lose
// or win after a partial transfer, completions out of order and late,
// short transfers on streams, EINTR inside the blocking calls, ENOSPC and
// EIO at the rates of Config.Faults, accepts, opens and dials that succeed
// after their cancel. It runs on real descriptors; the same seed and the
// same calls give the same outcomes. It also checks buffer ownership: a
// read's buffer holds a poison pattern until its completion, and a write
// whose buffer the caller changed in flight panics, naming the operation
// and where it was started. aiotest.Explore runs a test body under many
// seeds and prints the first that fails, with the command that replays it:
//
//	func TestAppendSurvivesCancel(t *testing.T) {
//		aiotest.Explore(t, 1000, func(t *testing.T, r *aio.Ring) {
//			f, err := r.Open(ctx, filepath.Join(t.TempDir(), "log"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
//			...
//			op, err := f.StartWrite(record)
//			n, err := op.WaitContext(cancelledCtx) // all three outcomes, by seed
//			...
//		})
//	}
//
// AIO_BACKEND=sim AIO_SIM_SEED=n in the environment puts every ring of a
// test run on the simulator. On the other backends, Config.Check (or
// AIO_CHECK=1) checksums each write's buffer at submission and completion
// and panics on a change.
package aio
