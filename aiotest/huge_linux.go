package aiotest

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
)

// testHugeBuffer offers a 1 GiB + 4 KiB buffer (reserved, never touched) to
// the Start calls, which must refuse it without submitting.
func testHugeBuffer(t *testing.T, f *aio.File) {
	mem, err := unix.Mmap(-1, 0, 1<<30+4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
	if err != nil {
		t.Logf("no address space for a huge buffer: %v", err)
		return
	}
	defer unix.Munmap(mem)
	_, err = f.StartReadAt(mem, 0)
	wantPathErr(t, "StartReadAt with a huge buffer", err)
	_, err = f.StartWrite(mem)
	wantPathErr(t, "StartWrite with a huge buffer", err)
}
