//go:build unix && !linux

package aio

import "unsafe"

// setHeader writes a raw sockaddr's header: on the BSDs a length byte,
// then a one-byte family.
func setHeader(sa unsafe.Pointer, family int, size uintptr) {
	b := (*[2]byte)(sa)
	b[0], b[1] = byte(size), byte(family)
}

// rawFamily reads a raw sockaddr's family.
func rawFamily(b []byte) int { return int(b[1]) }
