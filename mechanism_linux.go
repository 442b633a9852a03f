package aio

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// reopenPrivate opens the pipe, FIFO or tty behind fd again, through
// /proc/self/fd, which gives a new open file description of the same
// object: its flags are aio's to set, and the caller's description
// (shared with a shell, a parent, the children) keeps its own. The new
// descriptor is non-blocking and close-on-exec, with fd's access mode;
// a tty does not become the controlling terminal. ok false: it cannot be
// reopened (a socket, a FIFO's write end with no reader yet, no /proc),
// or what opened is not the same object.
func reopenPrivate(fd, fl int, st *unix.Stat_t) (int, bool) {
	mode := fl&unix.O_ACCMODE | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
	nfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
	if err != nil {
		return -1, false
	}
	var nst unix.Stat_t
	if unix.Fstat(nfd, &nst) != nil || nst.Dev != st.Dev || nst.Ino != st.Ino || nst.Rdev != st.Rdev {
		unix.Close(nfd)
		return -1, false
	}
	return nfd, true
}

// systemLimits: see ProbeResult.Limits. Linux keeps every promise.
func systemLimits(backend string) []string { return nil }
