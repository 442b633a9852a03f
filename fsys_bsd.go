//go:build unix && !linux

package aio

import "golang.org/x/sys/unix"

// hasOpenat2: there is no openat2(2) here; DirFS walks paths itself.
const hasOpenat2 = false

// oPathDir and oPathAny open to read (no O_PATH on every system here).
const (
	oPathDir = unix.O_RDONLY | unix.O_DIRECTORY
	oPathAny = unix.O_RDONLY
)

func openHowBeneath(flags int) []byte { return nil }
