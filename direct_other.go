//go:build !linux

package aio

// isDirectIO: only Linux backends try operations at once (see File.tryNow).
func isDirectIO(fd int) bool { return true }
