package iocp

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// Completion keys: every handle of the ring is associated with keyIO (the
// op is found from the packet's OVERLAPPED, not from the key); keyStop is
// the packet Close posts to stop the reaper.
const (
	keyIO   = 1
	keyStop = 2
)

// How the operations on a handle run (see the package doc).
type mode uint8

const (
	modePort     mode = iota // overlapped, associated with the ring's port
	modeEvent                // overlapped, bound to another port: event per op
	modeBlocking             // synchronous handle: blocking calls on goroutines
)

var modeNames = [...]string{"port", "event", "blocking"}

func (m mode) String() string { return modeNames[m] }

// Driver is one completion port driven for a core.Table.
//
// Who may touch what:
//
//   - op.mu guards the identity of an op's use in flight (id, r, f, fd,
//     kind, advance, blocking, thread, cancelled) and the OVERLAPPED's
//     fields the driver writes. Submit fills them in before the kernel sees
//     the request, the completer clears id just before Table.Complete, and
//     Cancel acts only while id still equals its argument, so a stale
//     cancel does nothing and a cancel never reaches the op's next use.
//   - Between submission and completion the OVERLAPPED is the kernel's;
//     the driver reads it again only after the packet is dequeued (port),
//     the event is set (event) or the call has returned (blocking).
//   - Nobody holds op.mu while calling Table.Complete.
type Driver struct {
	table *core.Table
	port  windows.Handle

	opsMu  sync.Mutex
	ops    atomic.Pointer[[]*op] // by record index; grows, never shrinks
	pinner runtime.Pinner        // pins every op until Close (under opsMu)

	appendMu    sync.Mutex
	appendFresh map[windows.Handle]bool // opened with O_APPEND by Open, not yet attached

	goroutines sync.WaitGroup // blocking calls, event waits and cancel retries, the event issuer
	events     eventIssuer
	closed     atomic.Bool
	reaped     chan struct{} // closed when the reaper has exited

	disabled [32]bool // kinds hidden from Supported, for tests (DisableOpcode)
}

// file is the driver's state for one attached handle (core.Record.Handle).
type file struct {
	h          windows.Handle
	mode       mode
	skip       bool         // port: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set
	seekable   bool         // FILE_TYPE_DISK: offsets mean something
	appendOnly bool         // O_APPEND (Open's flag, or append-only access): position writes go to the end
	socket     bool         // a SOCKET (then never seekable, never blocking)
	sotype     int          // socket: SOCK_STREAM, SOCK_DGRAM, ...
	family     atomic.Int32 // socket: its address family, once an accept needed it
	pos        atomic.Int64 // the position for Off < 0 on seekable handles (see Attach)
	seekMu     sync.Mutex   // serialises Seeks (each reads pos, or the size, then sets pos)

	// Reading a directory (see readDir): a synchronous handle of its own,
	// opened on first need and closed by Detach, and whether the next
	// read starts over (at first, and after every Seek).
	dirMu      sync.Mutex
	dirh       windows.Handle
	dirRestart atomic.Bool
}

// op is the driver's state for the operation of one record index. Its
// first field is the OVERLAPPED: a packet's lpOverlapped is the op.
type op struct {
	ov windows.Overlapped
	d  *Driver

	mu        sync.Mutex
	id        uint64 // the use in flight (Record.ID), 0 when none
	r         *core.Record
	f         *file
	fd        int // for CancelFD; -1 when the operation has no descriptor
	kind      core.Kind
	advance   bool           // Off < 0 on a seekable handle: move f.pos by the result
	blocking  bool           // runs as a blocking call on a goroutine
	thread    windows.Handle // blocking: the thread inside the call, 0 outside it
	cancelled bool           // blocking, or event mode not yet issued: a cancel was requested
	unissued  bool           // event mode: queued for the issuer, not yet in the kernel

	event windows.Handle // made on first need, closed by Close

	// Socket calls: memory the kernel uses until the completion.
	wsabuf    windows.WSABuf
	wsaflags  uint32         // WSARecv's flags, in and out
	fromLen   int32          // WSARecvFrom's source address length, in and out
	accepted  windows.Handle // AcceptEx's new socket, until the accept completes
	acceptBuf [2 * acceptAddrLen]byte
}

// New creates a completion port for t. entries sizes the reaper's batches.
func New(entries int, t *core.Table) (core.Driver, error) {
	for _, p := range []*windows.LazyProc{procGetQueuedCompletionStatusEx, procCancelSynchronousIo} {
		if err := p.Find(); err != nil {
			return nil, fmt.Errorf("iocp: %w", err)
		}
	}
	port, err := windows.CreateIoCompletionPort(windows.InvalidHandle, 0, 0, 0)
	if err != nil {
		return nil, os.NewSyscallError("CreateIoCompletionPort", err)
	}
	if entries <= 0 {
		entries = 128
	}
	d := &Driver{table: t, port: port, appendFresh: map[windows.Handle]bool{}, reaped: make(chan struct{})}
	ops := make([]*op, 0)
	d.ops.Store(&ops)
	go d.reaper(make([]overlappedEntry, min(entries, 256)))
	return d, nil
}

// Name is "iocp".
func (d *Driver) Name() string { return "iocp" }

// Supported reports whether the driver implements k, naming the call.
func (d *Driver) Supported(k core.Kind) (bool, string) {
	ok, name := d.supported(k)
	if ok && int(k) < len(d.disabled) && d.disabled[k] {
		ok = false
	}
	return ok, name
}

// DisableOpcode hides k from Supported, as if the system could not do
// it. For tests of the unsupported-operation path; call it before any
// operation of kind k is started.
func (d *Driver) DisableOpcode(k core.Kind) { d.disabled[k] = true }

func (d *Driver) supported(k core.Kind) (bool, string) {
	switch k {
	case core.KindNop:
		return true, "PostQueuedCompletionStatus"
	case core.KindRead:
		return true, "ReadFile"
	case core.KindWrite:
		return true, "WriteFile"
	case core.KindFsync:
		return true, "FlushFileBuffers"
	case core.KindOpen:
		return true, "CreateFile"
	case core.KindClose:
		return true, "CloseHandle"
	case core.KindAccept:
		return true, "AcceptEx"
	case core.KindConnect:
		return true, "ConnectEx"
	case core.KindRecv:
		return true, "WSARecv"
	case core.KindSend:
		return true, "WSASend"
	case core.KindShutdown:
		return true, "shutdown"
	case core.KindSendmsg:
		return true, "WSASendTo"
	case core.KindRecvmsg:
		return true, "WSARecvFrom"
	case core.KindSendFile:
		return true, "TransmitFile"

	case core.KindOpenat2:
		return false, "openat2 (Windows has no RESOLVE_BENEATH: DirFS resolves names itself)"
	}
	if call, ok := fsCalls[k]; ok {
		return true, call
	}
	return false, k.String()
}

// fsCalls names the Windows calls that do each file system operation
// (see "File system operations" in the package doc).
var fsCalls = map[core.Kind]string{
	core.KindStat:      "GetFileAttributesEx, CreateFile, GetFileInformationByHandle(Ex)",
	core.KindFtruncate: "SetFileInformationByHandle(FileEndOfFileInfo)",
	core.KindFallocate: "SetFileInformationByHandle(FileAllocationInfo, FileEndOfFileInfo), FSCTL_SET_ZERO_DATA",
	core.KindFadvise:   "none (Windows takes no such hint)",
	core.KindSeek:      "the driver's own position (GetFileInformationByHandleEx(FileStandardInfo) for the end)",
	core.KindReadDir:   "GetFileInformationByHandleEx(FileFullDirectoryInfo)",
	core.KindOpenAt:    "CreateFile, or NtCreateFile relative to a directory handle",
	core.KindMkdir:     "CreateDirectory, or NtCreateFile relative to a directory handle",
	core.KindRename:    "MoveFileEx(MOVEFILE_REPLACE_EXISTING)",
	core.KindUnlink:    "DeleteFile, RemoveDirectory, or NtCreateFile and the delete disposition relative to a directory handle",
	core.KindLink:      "CreateHardLink",
	core.KindSymlink:   "CreateSymbolicLink",
	core.KindReadlink:  "DeviceIoControl(FSCTL_GET_REPARSE_POINT)",
}

// Route says how the driver does an operation of kind k, for aio.Probe:
// the Windows calls, and whether they run at once or as a blocking call
// on a goroutine of its own.
func (d *Driver) Route(k core.Kind) string {
	ok, call := d.Supported(k)
	switch {
	case !ok:
		return "unsupported: " + call
	case k == core.KindSeek || k == core.KindFadvise:
		return call + ": at once, never blocks"
	}
	return call + ": a blocking call on a goroutine of its own (cancel: CancelSynchronousIo)"
}

// opFor returns the op of r's index, creating ops up to it.
func (d *Driver) opFor(r *core.Record) *op {
	if o := d.opAt(r.Index); o != nil {
		return o
	}
	d.opsMu.Lock()
	defer d.opsMu.Unlock()
	ops := *d.ops.Load()
	if int(r.Index) < len(ops) {
		return ops[r.Index]
	}
	grown := make([]*op, int(r.Index)+1, max(2*len(ops), int(r.Index)+1))
	copy(grown, ops)
	for i := len(ops); i < len(grown); i++ {
		o := &op{d: d, fd: -1}
		d.pinner.Pin(o) // the kernel holds &o.ov while an operation is in flight
		grown[i] = o
	}
	d.ops.Store(&grown)
	return grown[r.Index]
}

// opAt returns the op of record index i, or nil if none was made yet.
func (d *Driver) opAt(i uint32) *op {
	if ops := *d.ops.Load(); int(i) < len(ops) {
		return ops[i]
	}
	return nil
}

// Attach looks at a handle once and decides how its operations run.
func (d *Driver) Attach(fd int) (any, error) {
	h := windows.Handle(fd)
	f := &file{h: h}
	f.dirRestart.Store(true)
	if typ, err := windows.GetFileType(h); err == nil && typ == windows.FILE_TYPE_DISK {
		f.seekable = true
	}
	sync, err := isSynchronous(h)
	if typ, serr := windows.GetsockoptInt(h, windows.SOL_SOCKET, soType); serr == nil {
		// Sockets are overlapped unless made otherwise on purpose, and
		// their mode query is not to be trusted everywhere.
		f.socket, f.sotype, f.seekable, sync, err = true, typ, false, false, nil
	}
	switch {
	case err == nil && sync:
		f.mode = modeBlocking
	case associate(h, d.port) == nil:
		f.mode = modePort
		if windows.SetFileCompletionNotificationModes(h, windows.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS|windows.FILE_SKIP_SET_EVENT_ON_HANDLE) == nil {
			f.skip = true
		} else if m, err := completionModes(h); err == nil {
			f.skip = m&windows.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS != 0
		}
	case err == nil:
		// Overlapped, and bound to a port already (os.NewFile's handles
		// are bound to the Go runtime's).
		f.mode = modeEvent
	default:
		// Neither the mode nor an association: treat it as synchronous,
		// the one way every handle ReadFile accepts can be driven.
		f.mode = modeBlocking
	}
	if f.seekable {
		// Overlapped I/O ignores the handle's position, and a synchronous
		// call given an offset moves it: start from it and keep our own,
		// so that positional reads and writes leave it alone (as pread
		// and pwrite do).
		if pos, err := windows.Seek(h, 0, io.SeekCurrent); err == nil {
			f.pos.Store(pos)
		}
	}
	d.appendMu.Lock()
	if d.appendFresh[h] {
		f.appendOnly = true
		delete(d.appendFresh, h)
	}
	d.appendMu.Unlock()
	if f.seekable && !f.appendOnly {
		// A handle someone else opened with O_APPEND (os.OpenFile's, or
		// Reopen's of one) has the access that says so.
		f.appendOnly = appendOnly(h)
	}
	return f, nil
}

func associate(h, port windows.Handle) error {
	_, err := windows.CreateIoCompletionPort(h, port, keyIO, 0)
	return err
}

// Detach forgets a handle. Every operation on it has completed; its port
// association (if any) ends when the handle's file object is closed. The
// handle the driver opened to read its directory, if any, is closed.
func (d *Driver) Detach(fd int, handle any) {
	if f, ok := handle.(*file); ok {
		f.closeDirHandle()
	}
}

// Mode names how operations on an attached handle run: "port", "event" or
// "blocking". For tests.
func Mode(handle any) string {
	if f, ok := handle.(*file); ok {
		return f.mode.String()
	}
	return ""
}

// Submit starts r.
func (d *Driver) Submit(r *core.Record) error {
	if d.closed.Load() {
		return os.ErrClosed
	}
	o := d.opFor(r)
	switch r.Kind {
	case core.KindNop:
		o.mu.Lock()
		o.begin(r, nil)
		o.mu.Unlock()
		r.Handoff()
		if err := windows.PostQueuedCompletionStatus(d.port, 0, keyIO, &o.ov); err != nil {
			d.complete(o, 0, err)
		}
	case core.KindRead, core.KindWrite:
		f := attached(r)
		if f.mode == modeBlocking {
			return d.submitBlocking(o, r, f)
		}
		return d.submitOverlapped(o, r, f)
	case core.KindAccept, core.KindConnect, core.KindRecv, core.KindSend, core.KindSendmsg, core.KindRecvmsg, core.KindSendFile:
		f := attached(r)
		if !f.socket || f.mode == modeBlocking {
			return windows.WSAENOTSOCK
		}
		if r.Kind == core.KindSendFile && (f.sotype != windows.SOCK_STREAM || r.Off < 0 || r.Len <= 0 || r.Len > math.MaxInt32) {
			return windows.WSAEINVAL // a stream, an offset, and a count one completion can report
		}
		if r.Kind == core.KindConnect && f.sotype != windows.SOCK_STREAM {
			// ConnectEx is for streams; a datagram socket's connect only
			// sets its peer, at once.
			sa := r.Buf
			d.inline(o, r, f, func() error { return rawConnect(f.h, sa) })
			return nil
		}
		return d.submitOverlapped(o, r, f)
	case core.KindShutdown:
		f := attached(r)
		how := r.Flags
		d.inline(o, r, f, func() error { return windows.Shutdown(f.h, how) })
	case core.KindFsync, core.KindOpen, core.KindClose:
		return d.submitBlocking(o, r, nil)
	case core.KindSeek:
		// Never blocks: the position is the driver's (see file.seek).
		f := attached(r)
		off, whence := r.Off, r.Flags
		o.mu.Lock()
		o.begin(r, f)
		o.mu.Unlock()
		pos, err := f.seek(off, whence)
		if err == nil {
			r.Off = pos // the result (see core.KindSeek), read after the completion
		}
		r.Handoff()
		d.complete(o, 0, err)
	case core.KindFadvise:
		// A hint Windows has no call for: done, at once.
		d.inline(o, r, nil, func() error { return nil })
	case core.KindStat, core.KindFtruncate, core.KindFallocate, core.KindReadDir, core.KindOpenAt,
		core.KindMkdir, core.KindRename, core.KindUnlink, core.KindLink, core.KindSymlink, core.KindReadlink:
		if err := checkFS(r); err != nil {
			return err
		}
		f, _ := r.Handle.(*file)
		return d.submitBlocking(o, r, f)
	default:
		panic("aio: inconsistent op kind " + r.Kind.String())
	}
	return nil
}

// inline submits and completes r with call, which never blocks.
func (d *Driver) inline(o *op, r *core.Record, f *file, call func() error) {
	o.mu.Lock()
	o.begin(r, f)
	o.mu.Unlock()
	r.Handoff()
	d.complete(o, 0, call())
}

// attached returns the driver's state for r's descriptor.
func attached(r *core.Record) *file {
	f, ok := r.Handle.(*file)
	if !ok {
		panic("aio: inconsistent iocp submission: " + r.Kind.String() + " on a handle that was never attached")
	}
	return f
}

// begin records r as the op's use in flight. Called with o.mu held.
func (o *op) begin(r *core.Record, f *file) {
	o.id, o.r, o.f, o.fd, o.kind = r.ID(), r, f, r.FD, r.Kind
	if r.Kind == core.KindNop || r.Kind == core.KindOpen {
		o.fd = -1
	}
	o.advance, o.blocking, o.thread, o.cancelled, o.unissued = false, false, 0, false, false
	o.ov = windows.Overlapped{}
	if f == nil || isFSKind(r.Kind) { // no transfer: no offset, no position to move
		return
	}
	var off int64
	switch {
	case r.Off >= 0:
		off = r.Off
	case r.Kind == core.KindWrite && f.appendOnly:
		off = -1 // Offset and OffsetHigh 0xFFFFFFFF: the end of the file
	case f.seekable:
		off = f.pos.Load()
		o.advance = true
	}
	o.ov.Offset, o.ov.OffsetHigh = uint32(off), uint32(uint64(off)>>32)
}

// io issues a ReadFile or WriteFile.
func (o *op) io(kind core.Kind, h windows.Handle, buf []byte, ov *windows.Overlapped) (uint32, error) {
	var done uint32
	var err error
	if kind == core.KindRead {
		err = windows.ReadFile(h, buf, &done, ov)
	} else {
		err = windows.WriteFile(h, buf, &done, ov)
	}
	return done, err
}

// request is what an overlapped call needs from its record, read before
// the handoff (after it the record may complete and be reused at once).
type request struct {
	kind  core.Kind
	h     windows.Handle
	buf   []byte
	addr  []byte
	flags int

	// KindSendFile: the file and the count.
	src    windows.Handle
	length uint32

	// noPacket: a call that succeeds at once posts no packet (the handle
	// skips them, or is in event mode), so the OVERLAPPED is still the
	// submitter's to read right after the call.
	noPacket bool
}

// submitOverlapped issues an overlapped call on a port or event mode
// handle. In port mode its packet comes to the port (unless it completed
// at once on a handle that skips those); in event mode it signals the
// op's event and posts no packet (the low bit of hEvent), and a goroutine
// waits for the event when it does not complete at once.
//
// An event mode call is issued by the driver's issuer goroutine, never by
// the submitter's thread: I/O on a handle without our port is the issuing
// thread's, and Windows (and Wine) cancel it when that thread exits, which
// a goroutine that locked its thread and returned makes happen. Nobody
// cancelled such a read (rule 3). A goroutine the library started, never
// locked, runs only on threads the Go runtime keeps.
func (d *Driver) submitOverlapped(o *op, r *core.Record, f *file) error {
	var ev windows.Handle
	if f.mode == modeEvent {
		var err error
		if ev, err = o.eventHandle(); err != nil {
			return err
		}
	}
	req := request{kind: r.Kind, h: f.h, buf: r.Buf, addr: r.Addr, flags: r.Flags,
		src: windows.Handle(r.Src), length: uint32(r.Len), noPacket: f.skip || f.mode == modeEvent}
	if err := d.prepare(o, f, &req); err != nil { // nothing submitted yet
		return err
	}
	o.mu.Lock()
	o.begin(r, f)
	if ev != 0 {
		o.ov.HEvent = ev | 1
	}
	if f.socket {
		o.setupSocket(&req)
	}
	if f.mode == modeEvent {
		o.unissued = true
		o.mu.Unlock()
		r.Handoff()
		d.events.push(d, eventCall{o: o, f: f, req: req, ev: ev})
		return nil
	}
	o.mu.Unlock()
	r.Handoff()
	n, err := d.issue(o, &req)
	switch {
	case err == windows.ERROR_IO_PENDING: // the packet will come
	case err == nil || isWarning(err):
		if f.skip { // done, and no packet will come
			d.complete(o, n, err)
		}
	default: // never started: no packet
		d.complete(o, n, err)
	}
	return nil
}

// eventCall is an event mode call queued for the issuer.
type eventCall struct {
	o   *op
	f   *file
	req request
	ev  windows.Handle
}

// eventIssuer issues the driver's event mode calls, in the order they
// were submitted, from one goroutine the driver starts on first need
// (see submitOverlapped for why).
type eventIssuer struct {
	mu      sync.Mutex
	q       []eventCall
	started bool
	wake    chan struct{} // capacity 1
	stop    chan struct{} // closed by Close
}

// push queues c and wakes (or starts) the issuer.
func (e *eventIssuer) push(d *Driver, c eventCall) {
	e.mu.Lock()
	e.q = append(e.q, c)
	if !e.started {
		e.started = true
		e.wake, e.stop = make(chan struct{}, 1), make(chan struct{})
		d.goroutines.Add(1)
		go d.issueEvents()
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// issueEvents is the issuer: it issues what is queued until Close (which
// comes only when nothing is in flight, so nothing is queued).
func (d *Driver) issueEvents() {
	defer d.goroutines.Done()
	e := &d.events
	var batch []eventCall
	for {
		select {
		case <-e.wake:
		case <-e.stop:
			return
		}
		e.mu.Lock()
		batch, e.q = e.q, batch[:0]
		e.mu.Unlock()
		for i := range batch {
			d.issueEvent(&batch[i])
			batch[i] = eventCall{}
		}
	}
}

// issueEvent issues c's call; a goroutine waits for its event if it does
// not complete at once. It holds o.mu across the call, so that a cancel
// either finds it unissued (and it never starts) or reaches the kernel
// after it.
func (d *Driver) issueEvent(c *eventCall) {
	o, f, ev := c.o, c.f, c.ev
	o.mu.Lock()
	o.unissued = false
	if o.cancelled {
		o.mu.Unlock()
		d.complete(o, 0, windows.ERROR_OPERATION_ABORTED)
		return
	}
	n, err := d.issue(o, &c.req)
	o.mu.Unlock()
	if err != windows.ERROR_IO_PENDING {
		d.complete(o, n, err)
		return
	}
	d.goroutines.Add(1)
	go func() {
		defer d.goroutines.Done()
		if _, err := windows.WaitForSingleObject(ev, windows.INFINITE); err != nil {
			panic(fmt.Sprintf("aio: inconsistent iocp state: waiting for an operation's event: %v", err))
		}
		var n uint32
		err := windows.GetOverlappedResult(f.h, &o.ov, &n, false)
		d.complete(o, n, err)
	}()
}

// issue makes the call for req on o.
func (d *Driver) issue(o *op, req *request) (uint32, error) {
	switch req.kind {
	case core.KindRead, core.KindWrite:
		return o.io(req.kind, req.h, req.buf, &o.ov)
	}
	return d.issueSocket(o, req)
}

// eventHandle returns the op's manual-reset event, making it on first use.
// Only the op's submitter calls it.
func (o *op) eventHandle() (windows.Handle, error) {
	if o.event == 0 {
		ev, err := windows.CreateEvent(nil, 1, 0, nil)
		if err != nil {
			return 0, os.NewSyscallError("CreateEvent", err)
		}
		o.event = ev
	}
	return o.event, nil
}

// submitBlocking runs r's call on a goroutine locked to its thread, so
// that CancelSynchronousIo can interrupt it.
func (d *Driver) submitBlocking(o *op, r *core.Record, f *file) error {
	var call func() (uint32, error)
	switch kind := r.Kind; kind {
	case core.KindRead, core.KindWrite:
		var ov *windows.Overlapped // nil: a stream, no offset
		if f.seekable {
			// A synchronous handle honours an OVERLAPPED's offset (ours,
			// for Off < 0) and still blocks. The event's low bit keeps a
			// packet off any port the handle might have.
			if _, err := o.eventHandle(); err != nil {
				return err
			}
			ov = &o.ov
		}
		h, buf := f.h, r.Buf
		call = func() (uint32, error) { return o.io(kind, h, buf, ov) }
	case core.KindFsync:
		h := windows.Handle(r.FD)
		call = func() (uint32, error) { return 0, windows.FlushFileBuffers(h) }
	case core.KindClose:
		h := windows.Handle(r.FD)
		call = func() (uint32, error) { return 0, windows.CloseHandle(h) }
	case core.KindOpen:
		path, flag, perm := r.Path, r.Flags, r.Mode
		call = func() (uint32, error) { return d.openPath(path, flag, perm) }
	default:
		call = d.fsCall(r, f)
	}
	o.mu.Lock()
	o.begin(r, f)
	o.blocking = true
	if r.Kind == core.KindRead || r.Kind == core.KindWrite {
		o.ov.HEvent = o.event | 1
	}
	o.mu.Unlock()
	r.Handoff()
	d.goroutines.Add(1)
	go d.runBlocking(o, call)
	return nil
}

// runBlocking runs one blocking call for o and completes it.
func (d *Driver) runBlocking(o *op, call func() (uint32, error)) {
	defer d.goroutines.Done()
	runtime.LockOSThread()
	th, err := threadHandle()
	if err != nil {
		runtime.UnlockOSThread()
		d.complete(o, 0, err)
		return
	}
	o.mu.Lock()
	if o.cancelled { // cancelled before it started: it never starts
		o.mu.Unlock()
		windows.CloseHandle(th)
		runtime.UnlockOSThread()
		d.complete(o, 0, windows.ERROR_OPERATION_ABORTED)
		return
	}
	o.thread = th
	o.mu.Unlock()
	n, err := call()
	o.mu.Lock()
	o.thread = 0 // from here no cancel reaches this thread
	o.mu.Unlock()
	windows.CloseHandle(th)
	runtime.UnlockOSThread()
	d.complete(o, n, err)
}

// complete ends o's use in flight and reports it to the table.
func (d *Driver) complete(o *op, n uint32, err error) {
	o.mu.Lock()
	r, f, kind, advance, cancelled := o.r, o.f, o.kind, o.advance, o.cancelled
	if o.id == 0 || r == nil {
		o.mu.Unlock()
		panic("aio: inconsistent iocp completion: op not in flight")
	}
	o.id, o.r, o.f, o.fd = 0, nil, nil, -1
	// The kernel is done with the caller's buffer: forget it. The op
	// lives (pinned) as long as the driver, and a stale pointer here would
	// keep the buffer, and whatever holds it, reachable until the op's
	// next socket call or past the ring's Close: net/http's one-byte
	// background read, say, whose buffer lies inside its connReader, and
	// with it the server, its handler and a DirFS holding its directory
	// open.
	o.wsabuf = windows.WSABuf{}
	o.mu.Unlock()
	switch kind {
	case core.KindAccept, core.KindConnect, core.KindRecvmsg:
		n, err = d.finishSocket(o, r, f, n, err)
	}
	res := result(kind, n, err)
	if isFSKind(kind) && !cancelled && err == windows.ERROR_OPERATION_ABORTED {
		// Nobody cancelled it: the call failed so, and says so.
		res = -int32(windows.ERROR_OPERATION_ABORTED)
	}
	if advance && res > 0 {
		f.pos.Add(int64(res))
	}
	d.table.Complete(r, res)
}

// completePacket completes the op a dequeued packet names, with the
// packet's status and count: the I/O status block the kernel queued, the
// same it writes into the OVERLAPPED on Windows.
//
// Wine differs when the thread that issued the call has exited before the
// data came: Wine moves the data in the issuing thread, so it abandons the
// operation, leaves the OVERLAPPED untouched (still STATUS_PENDING) and
// queues a packet with its internal STATUS_ALERTED and nothing moved. That
// is an operation cancelled with its thread, as Windows cancels the I/O of
// an exiting thread on handles without a port.
func (d *Driver) completePacket(o *op, status windows.NTStatus, n uint32) {
	if o.d != d {
		panic("aio: inconsistent iocp completion: a packet for an OVERLAPPED that is not ours")
	}
	var err error
	if status != 0 {
		err = status.Errno() // STATUS_ALERTED: ERROR_ALERTED, which result takes as cancelled
	}
	d.complete(o, n, err)
}

// reaper dequeues packets in batches and completes their ops, until the
// stop packet. It never submits.
func (d *Driver) reaper(entries []overlappedEntry) {
	defer close(d.reaped)
	for {
		n, err := getQueuedCompletionStatusEx(d.port, entries, windows.INFINITE)
		if err != nil {
			panic(fmt.Sprintf("aio: inconsistent iocp state: GetQueuedCompletionStatusEx: %v", err))
		}
		stop := false
		for i := range entries[:n] {
			e := &entries[i]
			switch {
			case e.Key == keyStop:
				stop = true
			case e.Key != keyIO || e.Overlapped == nil:
				panic(fmt.Sprintf("aio: inconsistent iocp packet: key %d, overlapped %p", e.Key, e.Overlapped))
			default:
				d.completePacket((*op)(unsafe.Pointer(e.Overlapped)), windows.NTStatus(e.Internal), e.Transferred)
			}
			e.Overlapped = nil
		}
		if stop {
			return
		}
		// The goroutines just woken sit in this P's run queue while the
		// reaper blocks in the kernel again: let them run first.
		runtime.Gosched()
	}
}

// Cancel asks the kernel to cancel the use id of r's op, if still in flight.
func (d *Driver) Cancel(r *core.Record, id uint64) {
	o := d.opAt(r.Index)
	if o == nil {
		return // not submitted yet: Table.Submit asks again once it is
	}
	o.mu.Lock()
	if o.id == id {
		o.cancelLocked()
	}
	o.mu.Unlock()
}

// CancelFD asks the kernel to cancel every operation on fd, one by one
// (see the package doc for why not CancelIoEx(fd, NULL)).
func (d *Driver) CancelFD(fd int) {
	for _, o := range *d.ops.Load() {
		o.mu.Lock()
		if o.id != 0 && o.fd == fd {
			o.cancelLocked()
		}
		o.mu.Unlock()
	}
}

// CancelAll asks the kernel to cancel every operation in flight.
func (d *Driver) CancelAll() {
	for _, o := range *d.ops.Load() {
		o.mu.Lock()
		if o.id != 0 {
			o.cancelLocked()
		}
		o.mu.Unlock()
	}
}

// cancelLocked requests the cancel of o's use in flight. Called with o.mu
// held, which keeps that use from completing into a reuse meanwhile.
func (o *op) cancelLocked() {
	switch {
	case o.blocking:
		o.cancelled = true
		if o.thread != 0 && cancelSynchronousIo(o.thread) != nil {
			// The thread is not inside the call yet (or any more): keep
			// asking until it has returned.
			o.d.goroutines.Add(1)
			go o.d.keepCancelling(o, o.id)
		}
	case o.unissued: // the issuer will find it cancelled and not start it
		o.cancelled = true
	case o.f != nil:
		if windows.CancelIoEx(o.f.h, &o.ov) == windows.ERROR_NOT_FOUND {
			// It has completed already (its packet is on the way), or
			// its call has not reached the kernel yet (Table.Submit asks
			// again once it has). Or, on Wine, a call that moves its
			// data in rounds (TransmitFile) is between two: Wine finds
			// nothing to cancel and the call goes on, waiting for room
			// that may never come. Keep asking until it has completed.
			o.d.goroutines.Add(1)
			go o.d.keepCancelling(o, o.id)
		}
	}
}

// keepCancelling repeats the cancel of the use id of o until the kernel
// took it or the call has completed: CancelSynchronousIo until a blocking
// call was interrupted or has returned, CancelIoEx until it finds an
// overlapped call.
func (d *Driver) keepCancelling(o *op, id uint64) {
	defer d.goroutines.Done()
	for delay := 50 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		time.Sleep(delay)
		o.mu.Lock()
		if o.id != id || o.cancelAgain() {
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
	}
}

// cancelAgain asks the kernel once more to cancel o's use in flight, and
// reports whether that is done: the kernel took the cancel, or the call
// is not in the kernel. Called with o.mu held.
func (o *op) cancelAgain() bool {
	if o.blocking {
		return o.thread == 0 || cancelSynchronousIo(o.thread) == nil
	}
	return windows.CancelIoEx(o.f.h, &o.ov) != windows.ERROR_NOT_FOUND
}

// Close stops the reaper and releases the port. The core calls it only
// when no operation is in flight.
func (d *Driver) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return os.ErrClosed
	}
	if err := windows.PostQueuedCompletionStatus(d.port, 0, keyStop, nil); err != nil {
		panic(fmt.Sprintf("aio: inconsistent iocp state: stopping the reaper: %v", err))
	}
	<-d.reaped
	d.events.mu.Lock()
	if d.events.started {
		close(d.events.stop)
	}
	d.events.started = true // no issuer from now on
	d.events.mu.Unlock()
	d.goroutines.Wait()
	d.opsMu.Lock()
	for _, o := range *d.ops.Load() {
		if o.event != 0 {
			windows.CloseHandle(o.event)
			o.event = 0
		}
	}
	d.pinner.Unpin()
	d.opsMu.Unlock()
	return os.NewSyscallError("CloseHandle", windows.CloseHandle(d.port))
}
