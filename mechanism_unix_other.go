//go:build unix && !linux

package aio

import "golang.org/x/sys/unix"

// reopenPrivate: no system here reopens a pipe or a tty as a new open
// file description that we know of (/dev/fd/N duplicates the descriptor
// on macOS and the BSDs), so an adopted blocking stream stays with the
// driver, which leaves its flags alone.
func reopenPrivate(fd, fl int, st *unix.Stat_t) (int, bool) { return -1, false }

// systemLimits: see ProbeResult.Limits.
func systemLimits(backend string) []string {
	if backend != "portable" {
		return nil
	}
	return []string{"an adopted blocking pipe or terminal keeps its flags (O_NONBLOCK is never set), so its read is made on a worker once poll(2) says it is readable, and can still block that worker if another process reads the data first, and a cancel cannot end that read before data comes (this system cannot reopen it privately, as Linux does through /proc/self/fd)"}
}
