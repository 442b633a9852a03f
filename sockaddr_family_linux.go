package aio

import "unsafe"

// setHeader writes a raw sockaddr's header: on Linux a native-endian
// 16-bit family.
func setHeader(sa unsafe.Pointer, family int, size uintptr) { *(*uint16)(sa) = uint16(family) }

// rawFamily reads a raw sockaddr's family.
func rawFamily(b []byte) int { return int(*(*uint16)(unsafe.Pointer(&b[0]))) }
