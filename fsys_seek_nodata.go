//go:build unix && !(linux || darwin || freebsd)

package aio

// No SEEK_DATA or SEEK_HOLE here: only the three io.Seek* are valid.
const (
	seekData = -1
	seekHole = -1
)
