// Package iocp is the Windows backend: overlapped I/O reaped from one I/O
// completion port per ring. Windows overlapped I/O already works the way
// the contract says (CancelIoEx only asks; the operation completes anyway,
// successfully, with ERROR_OPERATION_ABORTED or with another error; the
// OVERLAPPED, the buffer and the handle stay the kernel's until the
// completion packet is dequeued), so the driver is a thin translation: the
// lifecycle lives in internal/core.
//
// # Handles
//
// A File's descriptor is a HANDLE. Attach looks at it once and picks how
// its operations run:
//
//   - Port: an overlapped handle (FILE_FLAG_OVERLAPPED) that no completion
//     port has yet (Ring.Open's handles, disk files Ring.NewFile reopened,
//     and most handles a program opens itself for us) is associated with
//     the ring's port. Operations are ReadFile/WriteFile with an
//     OVERLAPPED and complete from the reaper, a goroutine that dequeues
//     packets in batches with GetQueuedCompletionStatusEx.
//   - Event: an overlapped handle already bound to another port. A file
//     object belongs to one port for life, and an overlapped handle wrapped
//     by os.NewFile is bound to the Go runtime's own port before
//     Ring.NewFile sees it (replacing that association, where Windows
//     allows it at all, would starve the caller's *os.File, which the
//     contract says stays usable). Operations set the low bit of the
//     OVERLAPPED's hEvent, so no packet reaches the other port, and a
//     goroutine waits for the event.
//   - Blocking: a synchronous handle (no FILE_FLAG_OVERLAPPED: os.Pipe,
//     consoles). Every operation runs a blocking call on a goroutine
//     locked to its thread; a cancel is CancelSynchronousIo on that
//     thread, repeated until the call has returned, and an operation whose
//     cancel came before its call started never starts.
//
// # Adopted handles
//
// A handle's mode is fixed by its file object (overlapped or not, on
// which port), and Ring.NewFile's duplicate shares the caller's, which
// must stay as it was. But a disk file (FILE_TYPE_DISK) can be opened
// again: package aio (prepareFD, mechanism_windows.go) has Reopen make
// the File's handle with ReOpenFile, a new file object for the same file,
// overlapped, with the caller's access rights (FileAccessInformation: no
// more than the caller had), its caching flags (write-through for O_SYNC,
// no buffering, sequential, random) and its position, shared for reading,
// writing and deleting (the caller's share mode cannot be queried, and
// sharing all never conflicts with another open). It runs in port mode,
// whatever mode os.Open (synchronous) or os.NewFile (bound to the
// runtime's port) left the caller's handle in. Being its own file object,
// it has its own position from then on (the caller's os.File keeps its
// own, unmoved by the File's I/O), and a byte-range lock taken through
// the caller's handle (LockFileEx) binds it as it binds another opener.
//
// The rest keep the duplicate, and with it the caller's file object:
// pipes (os.Pipe's are anonymous, and opening a named pipe again
// connects another instance, not the same stream), consoles and other
// character devices, sockets, and disk files ReOpenFile refuses (one
// opened without sharing, one whose DACL no longer grants what the handle
// holds, one being deleted). Those run in the mode their file object
// allows: blocking for a synchronous handle, event for an overlapped one
// bound elsewhere.
//
// Fsync (FlushFileBuffers, for SyncData too: Windows has no fdatasync),
// Open (CreateFile with FILE_FLAG_OVERLAPPED, not inheritable) and Close
// (CloseHandle) are blocking calls on a goroutine of their own, cancelled
// as the blocking mode's are (a flush that reached the disk completes
// anyway). So are the file system operations below.
//
// # File system operations
//
// Each does what package os does on Windows, call for call, so that its
// results and errors are os's (package aio puts them in *fs.PathError and
// *os.LinkError with os's Op names there); names relative to a directory
// handle are os.Root's calls. Every one but Seek and Fadvise is a
// blocking call on a goroutine locked to its thread, like Fsync: a
// cancel before the call starts means it never starts, and one while it
// runs is CancelSynchronousIo, which interrupts the calls that wait (an
// open on a slow share, say) and not those that finish on their own; a
// call that completed reports its success.
//
//	KindStat       a path: os.Stat and os.Lstat (GetFileAttributesEx; for a
//	               reparse point CreateFile with FILE_FLAG_OPEN_REPARSE_POINT,
//	               GetFileInformationByHandle(Ex), and to follow a link
//	               CreateFile again); a handle: os.File.Stat (GetFileType,
//	               GetFileInformationByHandle); a name in a directory:
//	               NtCreateFile relative to it. Buf is a Stat, which also
//	               says which call failed, as os's Op does.
//	KindFtruncate  SetFileInformationByHandle(FileEndOfFileInfo)
//	KindFallocate  Allocate: FileEndOfFileInfo, FileAllocationInfo,
//	               FSCTL_SET_ZERO_DATA for fallocate's modes
//	KindSeek       the driver's own position (see Positions), at once;
//	               GetFileInformationByHandleEx(FileStandardInfo) for the end
//	KindFadvise    nothing (Windows takes no such hint), at once
//	KindReadDir    GetFileInformationByHandleEx(FileFullDirectoryInfo) into
//	               Buf (DirInfo records), through a synchronous handle the
//	               driver opens on the directory and Detach closes: a
//	               directory query on an overlapped handle may complete
//	               later into memory the call has given up. The first read,
//	               and the first after a Seek, starts over.
//	KindOpenAt     CreateFile (a path) or NtCreateFile (a name in a
//	               directory), overlapped, shared for deleting too;
//	               ODirectory and ONofollow as O_DIRECTORY and O_NOFOLLOW
//	KindMkdir      CreateDirectory, or NtCreateFile FILE_CREATE
//	KindRename     MoveFileEx(MOVEFILE_REPLACE_EXISTING)
//	KindUnlink     DeleteFile, RemoveDirectory, or os.Remove's algorithm
//	               (RemoveAny); in a directory, NtCreateFile for DELETE and
//	               the delete disposition, POSIX semantics first
//	KindLink       CreateHardLink
//	KindSymlink    os.Symlink: CreateSymbolicLink, a directory link if the
//	               target is a directory
//	KindReadlink   FSCTL_GET_REPARSE_POINT on the link itself, as os.Readlink
//	               reads a symbolic link or a junction
//	KindOpenat2    unsupported: there is no RESOLVE_BENEATH; aio's DirFS
//	               resolves names one element at a time instead
//
// KindRename, KindLink and KindSymlink take paths only (AtFDCWD); one
// relative to a directory handle is refused at submission. Wine 8 has no
// symbolic links (its CreateSymbolicLinkW reports success and makes
// nothing), no FileAllocationInformation and no FSCTL_SET_ZERO_DATA;
// those calls fail there as unsupported.
//
// # Sockets
//
// A socket (getsockopt(SO_TYPE) works on it) is overlapped and runs in
// port mode, or in event mode if another port has it. Accept is AcceptEx
// with a new socket of the listener's family that the driver makes and,
// if the accept fails or is cancelled, closes (an accept that wins is the
// caller's, rule 7 above the driver); the new socket gets
// SO_UPDATE_ACCEPT_CONTEXT. Connect is ConnectEx for streams (binding the
// socket to the wildcard address first if it is not bound, as connect
// would; then SO_UPDATE_CONNECT_CONTEXT) and a plain connect, which never
// blocks, for datagram sockets. Recv, Send, Recvmsg and Sendmsg are
// WSARecv, WSASend, WSARecvFrom and WSASendTo; Shutdown is shutdown,
// which never blocks. SendFile is TransmitFile (TF_WRITE_BEHIND) from the
// record's offset, for a stream socket: the kernel reads the file, and a
// cancel ends it with the bytes it sent so far (its status block's
// count, which a cancelled completion reports as a short send).
//
// # Positions
//
// Overlapped I/O has no file position, and a synchronous call given an
// offset moves the handle's: so for a seekable handle (FILE_TYPE_DISK) the
// driver keeps the position itself, starting from the handle's at Attach.
// An operation at the position (Off < 0) starts where the operations
// before it ended, and moves it by the bytes it transferred when it
// completes; operations at the position that are in flight together may
// overlap (use offsets for concurrent I/O, as with os.File). Positional
// operations leave it alone, as pread and pwrite do. Writes at the
// position to a handle opened with O_APPEND (by Ring.Open, or by whoever
// gave it append access without write access) go to the end of the file.
// KindSeek sets the position, as os's overlapped files do: never before
// the start (ERROR_NEGATIVE_SEEK), and only with a known whence
// (ERROR_INVALID_PARAMETER). Pipes, consoles and sockets have no offsets:
// Seek on them fails with ESPIPE.
//
// # Completion
//
// Every port-mode handle gets FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: an
// operation that completes at once is completed by its submitter, with no
// packet, and only ERROR_IO_PENDING means a packet will come. A warning
// (ERROR_MORE_DATA, WSAEMSGSIZE: the call did its work) counts as a
// success, as in Go's own internal/poll. The flag is set deliberately rather than left
// off, because it is a property of the file object that every duplicate of
// the handle shares and nobody can clear: a handle someone else marked
// would otherwise lose its synchronous completions. Any other error means
// the operation never started and completes at once with that error.
//
// # Operation records
//
// Each core record index has an op, allocated once and referenced (and
// pinned) by the driver until Close, whose first field is the OVERLAPPED:
// the pointer a packet carries is the op itself. Between its submission
// and its completion an op, its buffer and its handle are the kernel's;
// op.mu orders Cancel (CancelIoEx(handle, &op.overlapped)) against the
// op's reuse, so a late cancel never reaches the next operation that uses
// the same OVERLAPPED. File.CancelAll and File.Close cancel the file's
// operations one by one rather than with CancelIoEx(handle, NULL): that
// would match every operation on the file object, including the caller's
// own *os.File I/O on the handle Ring.NewFile duplicated.
//
// # Results
//
// core.Record.Res holds a count, or minus an errno. On Windows a
// syscall.Errno is the Windows error code itself, so results keep it,
// except where the contract or portable callers need the POSIX meaning:
//
//	ERROR_OPERATION_ABORTED, ERROR_ALERTED        ECANCELED (0 bytes moved; ALERTED is
//	                                              how Wine abandons the I/O of a thread
//	                                              that exited)
//	ERROR_HANDLE_EOF, ERROR_BROKEN_PIPE,
//	ERROR_PIPE_NOT_CONNECTED (reads)              0 bytes: io.EOF above
//	ERROR_MORE_DATA, WSAEMSGSIZE (reads)          the bytes read (a message cut short)
//	ERROR_BROKEN_PIPE, ERROR_NO_DATA (writes)     EPIPE
//	ERROR_NETNAME_DELETED, WSAECONNRESET,
//	ERROR_CONNECTION_ABORTED, WSAECONNABORTED,
//	ERROR_UNEXP_NET_ERR (accepts)                 ECONNABORTED (the connection died before it
//	                                              was accepted; the listener accepts the next)
//	ERROR_NETNAME_DELETED                         WSAECONNRESET
//	ERROR_CONNECTION_ABORTED                      WSAECONNABORTED
//	ERROR_CONNECTION_REFUSED,
//	ERROR_PORT_UNREACHABLE                        WSAECONNREFUSED
//	ERROR_PATH_NOT_FOUND (open, but with
//	ODirectory)                                   ENOENT (a missing directory on the way)
//	ERROR_ACCESS_DENIED (read, write),
//	ERROR_INVALID_HANDLE                          EBADF
//
// EBADF, EPIPE, ECONNABORTED and ECANCELED are errnos package syscall
// invents on Windows, which portable callers compare with.
// (syscall.ENOENT and ENOTDIR are ERROR_FILE_NOT_FOUND and
// ERROR_PATH_NOT_FOUND themselves, and both match fs.ErrNotExist.) Fsync
// and the file system operations keep the Windows error os reports (a
// FlushFileBuffers on a read-only handle says ERROR_ACCESS_DENIED, as
// os.File.Sync does), but for a cancel; an ERROR_OPERATION_ABORTED nobody
// asked for stays itself.
//
// On systems other than Windows, New returns an error wrapping
// errors.ErrUnsupported.
package iocp
