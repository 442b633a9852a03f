package portable

import (
	"bytes"
	"reflect"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPutSockaddr: what recvfrom writes back from x/sys's decoded source
// is the kernel's own layout (rawOf, as the library encodes addresses)
// and parses back to the same address; it is cut at len(b).
func TestPutSockaddr(t *testing.T) {
	var in4 unix.RawSockaddrInet4
	*(*[2]byte)(unsafe.Pointer(&in4.Port)) = [2]byte{0x1f, 0x90}
	in4.Addr = [4]byte{127, 0, 0, 1}
	var in6 unix.RawSockaddrInet6
	*(*[2]byte)(unsafe.Pointer(&in6.Port)) = [2]byte{0x00, 0x50}
	in6.Addr[15] = 1
	in6.Scope_id = 3
	var un unix.RawSockaddrUnix
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&un.Path[0])), len(un.Path)), "/tmp/sock")
	pathOff := unsafe.Offsetof(un.Path)
	for _, c := range []struct {
		name string
		sa   unix.Sockaddr
		raw  []byte
	}{
		{"inet4", &unix.SockaddrInet4{Port: 8080, Addr: in4.Addr}, rawOf(&in4, unix.AF_INET, unsafe.Sizeof(in4))},
		{"inet6", &unix.SockaddrInet6{Port: 80, ZoneId: 3, Addr: in6.Addr}, rawOf(&in6, unix.AF_INET6, unsafe.Sizeof(in6))},
		{"unix", &unix.SockaddrUnix{Name: "/tmp/sock"}, rawOf(&un, unix.AF_UNIX, pathOff+uintptr(len("/tmp/sock")))},
	} {
		c.raw[0] = byte(len(c.raw)) // the length byte: what is there, as x/sys writes it
		b := bytes.Repeat([]byte{0xbb}, unix.SizeofSockaddrAny)
		n := putSockaddr(b, c.sa)
		if !bytes.Equal(b[:n], c.raw) {
			t.Errorf("%s: putSockaddr wrote %x, want %x", c.name, b[:n], c.raw)
		}
		if !bytes.Equal(b[n:], bytes.Repeat([]byte{0xbb}, len(b)-n)) {
			t.Errorf("%s: bytes past %d written: %x", c.name, n, b[n:])
		}
		if sa, err := parseSockaddr(b[:n]); err != nil || !reflect.DeepEqual(sa, c.sa) {
			t.Errorf("%s: parses back as %#v, %v", c.name, sa, err)
		}
		small := bytes.Repeat([]byte{0xbb}, 8)
		if n := putSockaddr(small[:4:4], c.sa); n != 4 || !bytes.Equal(small[:4], c.raw[:4]) || !bytes.Equal(small[4:], []byte{0xbb, 0xbb, 0xbb, 0xbb}) {
			t.Errorf("%s: into 4 bytes: %d, %x", c.name, n, small)
		}
	}
	// An unnamed sender: the header alone, which the library reads as no name.
	b := make([]byte, unix.SizeofSockaddrAny)
	if n := putSockaddr(b, &unix.SockaddrUnix{}); n != 2 || b[0] != 2 || b[1] != unix.AF_UNIX {
		t.Errorf("unnamed: %d, %x", n, b[:n])
	}
	if n := putSockaddr(b, nil); n != 0 {
		t.Errorf("no address: %d bytes", n)
	}
}
