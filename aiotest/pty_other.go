//go:build unix && !linux

package aiotest

import (
	"runtime"
	"testing"
)

// ptyUnlock: opening a pty's slave is written for Linux only so far.
func ptyUnlock(t *testing.T, mfd int) string {
	t.Skipf("the pty case's set-up is not written for %s yet", runtime.GOOS)
	return ""
}
