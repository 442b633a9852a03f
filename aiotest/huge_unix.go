//go:build unix

package aiotest

import (
	"testing"

	"golang.org/x/sys/unix"
)

// hugeBuffer reserves 1 GiB + 4 KiB of address space, never touched: more
// than one operation accepts.
func hugeBuffer(t *testing.T) (buf []byte, release func(), ok bool) {
	mem, err := unix.Mmap(-1, 0, 1<<30+4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|mapNoReserve)
	if err != nil {
		t.Logf("no address space for a huge buffer: %v", err)
		return nil, nil, false
	}
	return mem, func() { unix.Munmap(mem) }, true
}
