package aiotest

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// ptyUnlock unlocks the pty whose master is mfd (unlockpt) and returns
// its slave's name (ptsname).
func ptyUnlock(t *testing.T, mfd int) string {
	t.Helper()
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	return "/dev/pts/" + strconv.Itoa(n)
}
