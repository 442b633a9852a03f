//go:build unix

package aio

import (
	"os"

	"golang.org/x/sys/unix"
)

// readinessBackend reports whether blocking calls on r may bypass the
// driver and wait in Go's netpoller (which takes pipes, sockets and ttys
// on every Unix): on io_uring and portable, not on the simulator, which
// must see every operation to choose its outcome.
func (r *Ring) readinessBackend() bool {
	switch r.driver.Name() {
	case "uring", "portable":
		return true
	}
	return false
}

// prepareFD decides fd's mechanism (see mechanism.go) as the File that
// owns it is made, and returns the descriptor the File is to use, with
// its netpoller registration if blocking calls take the readiness path.
// fd is the File's from now on whatever happens: prepareFD may replace it
// by a private reopening (and close it), and on error it is closed.
//
// A stream descriptor takes the readiness path when its open file
// description is aio's: aio made it (O_NONBLOCK is then set here if it
// is not already), or it is already non-blocking (its owner set that: Go
// does for its pipes and sockets), or, for an adopted pipe, FIFO or tty
// that is blocking, aio can reopen it privately (reopenPrivate) and set
// O_NONBLOCK on its own description. Otherwise (an adopted blocking
// socket, say) the driver serves it and no flag is touched.
//
// On the simulator there is no readiness path (it sees every operation),
// but the descriptors aio made are non-blocking there too: the simulator
// tries an operation nobody waits for yet without waiting
// (portable.TryOnce). Adopted ones keep their flags, as everywhere.
func (r *Ring) prepareFD(fd int, name string, origin fdOrigin, into *pollFD) (int, *pollFD, error) {
	readiness := r.readinessBackend() && !r.noDirect
	if !readiness && (r.driver.Name() != "sim" || origin != madeByAio) {
		return fd, nil, nil
	}
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return fd, nil, nil // its operations will say what is wrong with it
	}
	typ := uint32(st.Mode) & unix.S_IFMT
	switch typ {
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
	default:
		return fd, nil, nil
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fd, nil, nil
	}
	if fl&unix.O_NONBLOCK == 0 {
		switch {
		case origin == madeByAio:
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
				closeFD(fd)
				return -1, nil, os.NewSyscallError("fcntl", err)
			}
		case typ == unix.S_IFSOCK:
			return fd, nil, nil // a socket cannot be reopened
		default:
			nfd, ok := reopenPrivate(fd, fl, &st)
			if !ok {
				return fd, nil, nil
			}
			closeFD(fd)
			fd = nfd
		}
	}
	if !readiness {
		return fd, nil, nil // the simulator's: made non-blocking, nothing more
	}
	p, ok := newPollFD(fd, name, r, typ == unix.S_IFCHR, into)
	if !ok {
		return fd, nil, nil // a character device without poll: the driver's
	}
	return fd, p, nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
