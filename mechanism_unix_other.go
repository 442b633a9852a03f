//go:build unix && !linux

package aio

import "golang.org/x/sys/unix"

// reopenPrivate: no system here reopens a pipe or a tty as a new open
// file description that we know of (/dev/fd/N duplicates the descriptor
// on macOS and the BSDs), so an adopted blocking stream stays with the
// driver, which leaves its flags alone.
func reopenPrivate(fd, fl int, st *unix.Stat_t) (int, bool) { return -1, false }
