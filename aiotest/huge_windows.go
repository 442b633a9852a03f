package aiotest

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// hugeBuffer reserves 1 GiB + 4 KiB of address space, never committed nor
// touched: more than one operation accepts.
func hugeBuffer(t *testing.T) (buf []byte, release func(), ok bool) {
	const size = 1<<30 + 4096
	addr, err := windows.VirtualAlloc(0, size, windows.MEM_RESERVE, windows.PAGE_READWRITE)
	if err != nil {
		t.Logf("no address space for a huge buffer: %v", err)
		return nil, nil, false
	}
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr)) // the reservation is not Go memory
	return unsafe.Slice((*byte)(p), size), func() { windows.VirtualFree(addr, 0, windows.MEM_RELEASE) }, true
}
