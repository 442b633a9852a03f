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

	pollable bool
	disk     bool     // a regular file, directory or block device
	f        *os.File // our duplicate of the descriptor, in the netpoller
	rc       syscall.RawConn
	dirs     [2]direction
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
// the workers; anything else the netpoller accepts (pipes, sockets, ttys,
// eventfds, ...) gets a non-blocking duplicate registered there.
func (d *Driver) Attach(fd int) (any, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, os.NewSyscallError("fstat", err)
	}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFBLK:
		return &fileState{disk: true}, nil
	}
	return attachPollable(fd)
}

func attachPollable(fd int) (*fileState, error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	// O_NONBLOCK is a property of the open file description, shared with
	// every duplicate (see the package comment).
	setNonblock := flags&unix.O_NONBLOCK == 0
	if setNonblock {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_NONBLOCK); err != nil {
			return nil, os.NewSyscallError("fcntl", err)
		}
	}
	restore := func() {
		if setNonblock {
			unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
		}
	}
	dup, err := dupCloexec(fd)
	if err != nil {
		restore()
		return nil, os.NewSyscallError("fcntl", err)
	}
	// The descriptor is non-blocking, so os.NewFile tries the netpoller;
	// only a File the poller took supports deadlines.
	f := os.NewFile(uintptr(dup), "aio-portable")
	if f.SetReadDeadline(time.Time{}) != nil {
		f.Close()
		restore() // nobody relies on it: the poller refused the descriptor
		return &fileState{}, nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	fs := &fileState{pollable: true, f: f, rc: rc}
	for i := range fs.dirs {
		fs.dirs[i].over.L = &fs.dirs[i].mu
	}
	return fs, nil
}

// Detach releases fd's state. Every operation on fd has completed.
func (d *Driver) Detach(fd int, handle any) {
	if fs, _ := handle.(*fileState); fs != nil && fs.pollable {
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
