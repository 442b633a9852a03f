package aio

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// fsNow does a file system operation at once, in the caller's thread,
// when the kernel answers it without waiting for a device (see
// mechanism.go), on the backends with the readiness path:
//
//   - lseek(2) of an open file: it never waits;
//   - a stat of an open file (statx of the descriptor): the kernel holds
//     its inode (a network file system may ask its server, as
//     os.File.Stat does);
//   - openat2(2) with RESOLVE_CACHED (Linux 5.12), which the kernel
//     refuses with EAGAIN unless every name is in its caches: then the
//     driver opens it.
//
// A file server does these for every request; through the driver each
// costs a hand-off to a worker or the ring's thread and back. ok false:
// the operation goes to the driver. It holds q.file's references
// meanwhile, as a submission would.
func (r *Ring) fsNow(q *fsReq, path []byte) (res int32, off int64, ok bool) {
	if !r.readinessBackend() || r.noDirect {
		return 0, 0, false
	}
	switch {
	case q.kind == core.KindSeek && q.file != nil:
	case q.kind == core.KindStat && q.file != nil && q.flags == statFlagsFD && len(q.buf) >= int(unsafe.Sizeof(unix.Statx_t{})):
	case q.kind == core.KindOpenat2 && q.file == nil && len(q.buf) == int(unsafe.Sizeof(unix.OpenHow{})) && !noResolveCached.Load():
	default:
		return 0, 0, false
	}
	if q.file != nil {
		if !q.file.refs.Acquire() {
			return 0, 0, false // closed: the submission says so
		}
		defer q.file.refs.Release()
	}
	var err error
	switch q.kind {
	case core.KindSeek:
		off, err = unix.Seek(q.file.fd, q.off, q.flags)
	case core.KindStat:
		err = unix.Statx(q.file.fd, "", q.flags, unix.STATX_BASIC_STATS, (*unix.Statx_t)(unsafe.Pointer(&q.buf[0])))
		if err == unix.ENOSYS {
			return 0, 0, false
		}
	case core.KindOpenat2:
		how := *(*unix.OpenHow)(unsafe.Pointer(&q.buf[0]))
		how.Resolve |= resolveCached
		var fd int
		fd, err = unix.Openat2(q.dirfd, q.path, &how)
		switch err {
		case nil:
			res = int32(fd)
		case unix.EAGAIN: // not all cached (or a rename raced): the driver's
			return 0, 0, false
		case unix.EINVAL, unix.ENOSYS: // no RESOLVE_CACHED before 5.12
			noResolveCached.Store(true)
			return 0, 0, false
		}
	}
	if err == unix.EINTR {
		return 0, 0, false // the driver's call retries it
	}
	r.nowCounters(q).AtOnce()
	if err != nil {
		return -int32(err.(unix.Errno)), 0, true
	}
	return res, off, true
}

// noResolveCached: the kernel refused RESOLVE_CACHED (before 5.12).
var noResolveCached atomic.Bool

// resolveCached is RESOLVE_CACHED (linux/openat2.h; x/sys lacks it).
const resolveCached = 0x20

// nowCounters are the counters fsNow's calls count in: the file's own, or
// the ring's for calls on no file.
func (r *Ring) nowCounters(q *fsReq) *core.Counters {
	if q.file != nil && q.file.directCtr != nil {
		return q.file.directCtr
	}
	if c := r.atOnce.ctr.Load(); c != nil {
		return c
	}
	c := r.table.NewCounters(core.MechDirect)
	if !r.atOnce.ctr.CompareAndSwap(nil, c) {
		c.Retire()
		return r.atOnce.ctr.Load()
	}
	return c
}

// fsNowState is a ring's share of fsNow: the counters of its calls on no
// file (an open), made at the first.
type fsNowState struct{ ctr atomic.Pointer[core.Counters] }

// close folds the counters into the ring's totals: the ring is closed.
func (s *fsNowState) close() {
	if c := s.ctr.Load(); c != nil {
		c.Retire()
	}
}
