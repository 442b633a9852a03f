package aio

import "golang.org/x/sys/unix"

// isDirectIO reports whether fd was opened with O_DIRECT: reads and writes
// on it wait for the device even with RWF_NOWAIT, so they are never tried
// at once (see File.tryNow).
func isDirectIO(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err != nil || fl&unix.O_DIRECT != 0
}
