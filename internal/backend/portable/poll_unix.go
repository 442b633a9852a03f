//go:build unix

package portable

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// fileState is the driver's per-descriptor state (the File's handle, in
// every record on it).
type fileState struct {
	// noWaitRefused: preadv2(RWF_NOWAIT) failed with something other than
	// EAGAIN on this file; its reads go straight to the workers.
	noWaitRefused atomic.Bool

	// pollable: a non-blocking stream. Its operations park in the
	// netpoller, on a duplicate of the descriptor made at the first wait
	// (register), so that a File whose blocking calls never use the
	// driver (aio's readiness path) costs no duplicate.
	pollable bool
	// disk: a regular file, directory or block device.
	disk bool
	// blocking: a stream whose open file description is blocking and not
	// ours (an adopted terminal, pipe or socket): its flags are never
	// changed, and its operations run on workers that wait in poll(2)
	// with a cancel descriptor (see execPolled). socket: it is a socket,
	// whose transfers can be made non-blocking per call (MSG_DONTWAIT).
	blocking, socket bool

	fd      int
	regOnce sync.Once
	regOK   bool
	f       *os.File // our duplicate of the descriptor, in the netpoller
	rc      syscall.RawConn
	dirs    [2]direction
}

const (
	dirRead = iota
	dirWrite
)

// direction is the netpoller side of one direction (reads or writes) of
// a pollable descriptor.
//
// A parked operation waits inside rc.Read (or rc.Write) on f, our
// duplicate. Go's poller wakes it for readiness (the callback then tries
// the syscall again) or when f's deadline passes (the RawConn call then
// returns os.ErrDeadlineExceeded). The deadline is the only way to wake a
// waiter without data, and it wakes every waiter of that direction, so a
// cancel is a "kick":
//
//   - Cancel sets op.cancelled, then, if the op is inside, sets the
//     deadline in the past (kicking = true). Every goroutine inside
//     returns from the RawConn call soon: one parked in the poller is
//     woken; one queued on f's internal read lock (the os package
//     serialises concurrent Reads of one File) finds the deadline passed
//     once it gets the lock; one in the callback sees cancelled, or gets
//     EAGAIN and finds the deadline passed.
//   - A goroutine that leaves while kicking and was not cancelled parks
//     again, but only after the kick is over: nobody enters while
//     kicking, and the last one out (inside == 0) clears the deadline and
//     broadcasts. Clearing it any earlier could let a woken waiter that
//     has not run yet re-park silently (runtime.poll_runtime_pollWait
//     retries when it finds the deadline reset), stranding the cancel.
//   - An op checks cancelled under mu before it enters, and Cancel looks
//     at op.inside under mu after setting cancelled: either the op sees
//     the flag and never parks, or Cancel sees it inside and kicks.
//
// Other operations on the descriptor see a spurious wake-up, never a
// cancel: an operation completes with ECANCELED only if it was cancelled
// and transferred nothing.
type direction struct {
	mu      sync.Mutex
	over    sync.Cond // broadcast when a kick ends
	inside  int       // goroutines between entering and leaving the RawConn call
	kicking bool      // the deadline is in the past until inside drops to 0
}

// pastDeadline is any time in the past.
var pastDeadline = time.Unix(1, 0)

// Attach classifies fd: regular files, directories and block devices use
// the workers; a non-blocking stream (pipe, socket, tty, eventfd, ...)
// the netpoller; a blocking stream, workers waiting in poll(2). Attach
// never changes a descriptor's flags: O_NONBLOCK belongs to the open file
// description, which every duplicate shares with whoever else holds it.
func (d *Driver) Attach(fd int) (any, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	typ := uint32(st.Mode) & unix.S_IFMT
	switch typ {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK:
		return &fileState{fd: fd, disk: true}, nil
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	fs := &fileState{fd: fd, socket: typ == unix.S_IFSOCK}
	if flags&unix.O_NONBLOCK != 0 {
		fs.pollable = true
		for i := range fs.dirs {
			fs.dirs[i].over.L = &fs.dirs[i].mu
		}
	} else {
		fs.blocking = true
	}
	return fs, nil
}

// register puts a duplicate of the descriptor in the netpoller, once. It
// reports false if the netpoller refused it (a device without poll
// support): its operations then go to the workers, waiting in poll(2).
func (fs *fileState) register() bool {
	fs.regOnce.Do(func() {
		dup, err := dupCloexec(fs.fd)
		if err != nil {
			return
		}
		// The descriptor is non-blocking, so os.NewFile tries the
		// netpoller; only a File the poller took supports deadlines.
		f := os.NewFile(uintptr(dup), "aio-portable")
		if f.SetReadDeadline(time.Time{}) != nil {
			f.Close()
			return
		}
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return
		}
		fs.f, fs.rc, fs.regOK = f, rc, true
	})
	return fs.regOK
}

// Detach releases fd's state. Every operation on fd has completed.
func (d *Driver) Detach(fd int, handle any) {
	if fs, _ := handle.(*fileState); fs != nil && fs.f != nil {
		fs.f.Close() // our duplicate: leaves the poller, closes
	}
}

// submitPoll tries r's syscall once and completes it if it did not have to
// wait; otherwise a goroutine parks it in the netpoller.
func (d *Driver) submitPoll(r *core.Record, fs *fileState) error {
	if res, again := ioOnce(r.FD, r, true); !again {
		d.complete(r, res)
		return nil
	}
	if !fs.register() {
		return d.submitPool(r) // the workers wait for it in poll(2)
	}
	o := d.opFor(r)
	dir := uint8(dirRead) // read, recv, recvmsg, accept: wait to read
	switch r.Kind {
	case core.KindWrite, core.KindSend, core.KindSendmsg, core.KindConnect:
		dir = dirWrite
	}
	o.mu.Lock()
	o.id, o.r, o.fd, o.path, o.pf, o.dir = r.ID(), r, r.FD, pathPoll, fs, dir
	o.cancelled.Store(false)
	o.mu.Unlock()
	d.parked.Add(1)
	go d.park(o, r, fs)
	return nil
}

// park waits for o in the netpoller and completes it.
func (d *Driver) park(o *op, r *core.Record, fs *fileState) {
	defer d.parked.Done() // after Complete: Close waits for this
	res := fs.wait(o)
	o.retire()
	d.complete(r, res)
}

// wait runs o's syscall in the netpoller until it completes or is
// cancelled (the protocol is on direction).
func (fs *fileState) wait(o *op) int32 {
	dir := &fs.dirs[o.dir]
	for {
		dir.mu.Lock()
		for dir.kicking {
			dir.over.Wait()
		}
		if o.cancelled.Load() {
			dir.mu.Unlock()
			return -int32(unix.ECANCELED)
		}
		o.inside = true
		dir.inside++
		dir.mu.Unlock()

		var err error
		if o.dir == dirRead {
			err = fs.rc.Read(o.ioFn)
		} else {
			err = fs.rc.Write(o.ioFn)
		}

		dir.mu.Lock()
		o.inside = false
		dir.inside--
		if dir.kicking && dir.inside == 0 {
			fs.setDeadline(o.dir, time.Time{})
			dir.kicking = false
			dir.over.Broadcast()
		}
		dir.mu.Unlock()

		switch {
		case err == nil:
			return o.res
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue // kicked: cancelled (the loop says so) or a neighbour's cancel
		}
		// Our duplicate is closed only by Detach, after every operation.
		panic("aio: inconsistent portable driver state: parked operation: " + err.Error())
	}
}

// kick wakes o if it is inside the netpoller (see direction). Called with
// o.mu held and o.cancelled set.
func (fs *fileState) kick(o *op) {
	dir := &fs.dirs[o.dir]
	dir.mu.Lock()
	if o.inside && !dir.kicking {
		dir.kicking = true
		fs.setDeadline(o.dir, pastDeadline)
	}
	dir.mu.Unlock()
}

func (fs *fileState) setDeadline(dir uint8, t time.Time) {
	var err error
	if dir == dirRead {
		err = fs.f.SetReadDeadline(t)
	} else {
		err = fs.f.SetWriteDeadline(t)
	}
	if err != nil { // f is open and in the poller while anyone is inside
		panic("aio: inconsistent portable driver state: setting a deadline: " + err.Error())
	}
}

// io is the RawConn callback of a parked operation: true when done, with
// the result in o.res. The cancelled check is only a shortcut (the kick
// does the waking); a syscall that transferred data always reports it.
func (o *op) io(fd uintptr) bool {
	if o.cancelled.Load() {
		o.res = -int32(unix.ECANCELED)
		return true
	}
	res, again := ioOnce(int(fd), o.r, false)
	if again {
		return false
	}
	o.res = res
	return true
}

// TryOnce tries r's transfer (or accept, or connect) once on its
// descriptor, which Attach found pollable and made non-blocking, without
// waiting: again reports that it would have to wait, and then nothing was
// transferred. A connect is started, and a later Submit of r finds it
// under way. (The simulator tries operations nobody waits for yet this
// way, and hands them to Submit only when somebody does.)
func TryOnce(r *core.Record) (res int32, again bool) { return ioOnce(r.FD, r, true) }

// ioOnce tries r's operation on the non-blocking fd, retrying EINTR; again
// means it would block. first is true for the attempt in Submit: a
// connect is started then and only checked afterwards.
func ioOnce(fd int, r *core.Record, first bool) (res int32, again bool) {
	if r.Kind == core.KindConnect {
		if first {
			return connectStart(fd, r.Buf)
		}
		return connectCheck(fd)
	}
	for {
		n, err := attempt(fd, r)
		switch {
		case err == nil:
			return int32(n), false
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return 0, true
		}
		return errnoRes(err), false
	}
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// waitsForReadiness reports whether kind waits for a stream to become
// readable or writable (and so can wait in poll(2) instead of in the
// system call itself).
func waitsForReadiness(kind core.Kind) bool {
	switch kind {
	case core.KindRead, core.KindWrite, core.KindRecv, core.KindSend, core.KindRecvmsg, core.KindSendmsg, core.KindAccept:
		return true
	}
	return false
}

// execPolled runs r on a worker for a stream the netpoller cannot have
// (a blocking one whose flags are not ours, or a device the poller
// refused): it waits in poll(2) for the descriptor and for o's cancel
// pipe, so that a cancel wakes it at once, and makes the system call
// once the descriptor is ready. A socket's transfers are tried first
// with MSG_DONTWAIT and never block; a pipe's or a terminal's read after
// POLLIN may still block if another reader takes the data first (Linux
// avoids this by reopening such descriptors privately: see aio.NewFile).
func (d *Driver) execPolled(o *op, r *core.Record, fs *fileState) int32 {
	o.mu.Lock()
	if o.wakeR < 0 {
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil {
			o.mu.Unlock()
			return errnoRes(err)
		}
		for _, fd := range p {
			unix.CloseOnExec(fd)
			unix.SetNonblock(fd, true)
		}
		o.wakeR, o.wakeW = p[0], p[1]
	}
	wakeR := o.wakeR
	o.mu.Unlock()
	var events int16 = unix.POLLIN
	switch r.Kind {
	case core.KindWrite, core.KindSend, core.KindSendmsg:
		events = unix.POLLOUT
	}
	noWait := fs.socket && r.Kind != core.KindAccept
	ready := false
	var drain [16]byte
	for {
		if o.cancelled.Load() {
			for { // a stale wake-up must not end the next wait
				if n, _ := unix.Read(wakeR, drain[:]); n <= 0 {
					break
				}
			}
			return -int32(unix.ECANCELED)
		}
		if noWait || ready || fs.pollable {
			res, again := attemptPolled(r, noWait)
			if !again {
				return res
			}
		}
		pfd := []unix.PollFd{{Fd: int32(r.FD), Events: events}, {Fd: int32(wakeR), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil && err != unix.EINTR {
			return errnoRes(err)
		}
		ready = pfd[0].Revents != 0
	}
}

// attemptPolled makes r's system call once for execPolled: with
// MSG_DONTWAIT for a socket's transfers (noWait), where again means it
// would block.
func attemptPolled(r *core.Record, noWait bool) (res int32, again bool) {
	flags := r.Flags
	if noWait {
		flags |= unix.MSG_DONTWAIT
	}
	for {
		var n int
		var err error
		switch {
		case noWait && (r.Kind == core.KindRead || r.Kind == core.KindRecv):
			n, _, err = unix.Recvfrom(r.FD, r.Buf, flags)
		case noWait && (r.Kind == core.KindWrite || r.Kind == core.KindSend):
			n, err = unix.SendmsgN(r.FD, r.Buf, nil, nil, flags)
		case noWait && r.Kind == core.KindRecvmsg:
			var addrLen int
			n, addrLen, err = recvfrom(r.FD, r.Buf, r.Addr, flags)
			if err == nil {
				r.AddrLen = addrLen
			}
		case noWait && r.Kind == core.KindSendmsg:
			n, err = sendto(r.FD, r.Buf, r.Addr, flags)
		default:
			n, err = attempt(r.FD, r)
		}
		switch {
		case err == nil:
			return int32(n), false
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EWOULDBLOCK:
			return 0, true
		}
		return errnoRes(err), false
	}
}
