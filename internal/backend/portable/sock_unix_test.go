//go:build unix

package portable

import (
	"net"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// rawOf encodes sa the way the library's Dial does: the raw structure of
// this system, family header included, as bytes.
func rawOf[T any](raw *T, family int, n uintptr) []byte {
	var hdr unix.RawSockaddr
	b := unsafe.Slice((*byte)(unsafe.Pointer(raw)), unsafe.Sizeof(*raw))
	if unsafe.Sizeof(hdr.Family) == 2 {
		*(*uint16)(unsafe.Pointer(&b[0])) = uint16(family)
	} else {
		b[0], b[1] = byte(unsafe.Sizeof(*raw)), byte(family)
	}
	return append([]byte(nil), b[:n]...)
}

func TestParseSockaddr(t *testing.T) {
	var in4 unix.RawSockaddrInet4
	in4.Port = *(*uint16)(unsafe.Pointer(&[2]byte{0x1f, 0x90})) // 8080, network order
	in4.Addr = [4]byte{127, 0, 0, 1}
	var in6 unix.RawSockaddrInet6
	in6.Port = *(*uint16)(unsafe.Pointer(&[2]byte{0x00, 0x50}))
	in6.Addr[15] = 1
	in6.Scope_id = 3
	var un unix.RawSockaddrUnix
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&un.Path[0])), len(un.Path)), "/tmp/sock")
	pathOff := unsafe.Offsetof(un.Path)
	var abs unix.RawSockaddrUnix
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&abs.Path[1])), len(abs.Path)-1), "name")

	for _, c := range []struct {
		name string
		raw  []byte
		want unix.Sockaddr
	}{
		{"inet4", rawOf(&in4, unix.AF_INET, unsafe.Sizeof(in4)), &unix.SockaddrInet4{Port: 8080, Addr: [4]byte{127, 0, 0, 1}}},
		{"inet6", rawOf(&in6, unix.AF_INET6, unsafe.Sizeof(in6)), &unix.SockaddrInet6{Port: 80, ZoneId: 3, Addr: in6.Addr}},
		{"unix", rawOf(&un, unix.AF_UNIX, pathOff+uintptr(len("/tmp/sock"))+1), &unix.SockaddrUnix{Name: "/tmp/sock"}},
		{"abstract", rawOf(&abs, unix.AF_UNIX, pathOff+1+uintptr(len("name"))), &unix.SockaddrUnix{Name: "@name"}},
	} {
		got, err := parseSockaddr(c.raw)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: parseSockaddr = %#v, %v; want %#v", c.name, got, err, c.want)
		}
	}
	for _, bad := range [][]byte{nil, {1}, rawOf(&in4, unix.AF_INET, 4), rawOf(&in6, unix.AF_INET6, 12)} {
		if sa, err := parseSockaddr(bad); err == nil {
			t.Errorf("parseSockaddr(%v) = %#v, want an error", bad, sa)
		}
	}
}

// socket returns a new non-blocking stream socket (as the library's own
// sockets are) attached to d.
func socket(t *testing.T, d *Driver, family int) (int, *fileState) {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	fs := attach(t, d, fd)
	if !fs.pollable {
		t.Fatal("a socket is not pollable")
	}
	return fd, fs
}

func connectRec(t *testing.T, tab *core.Table, fd int, h any, raw []byte) int32 {
	t.Helper()
	return wait(tab, start(t, tab, core.KindConnect, fd, h, raw, 0))
}

// TestConnect: a connect to a listener succeeds, one to a closed port is
// refused, one to a unix socket path that does not exist fails; accept
// and recv/send work on the result.
func TestConnect(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var in4 unix.RawSockaddrInet4
	*(*[2]byte)(unsafe.Pointer(&in4.Port)) = [2]byte{byte(port >> 8), byte(port)}
	in4.Addr = [4]byte{127, 0, 0, 1}
	raw := rawOf(&in4, unix.AF_INET, unsafe.Sizeof(in4))

	fd, h := socket(t, d, unix.AF_INET)
	if res := connectRec(t, tab, fd, h, raw); res != 0 {
		t.Fatalf("connect to a listener = %d", res)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.Write([]byte("hey"))
	buf := make([]byte, 8)
	r := tab.Get()
	r.Kind, r.FD, r.Handle, r.Buf = core.KindRecv, fd, h, buf
	tab.Submit(r)
	if res := wait(tab, r); res != 3 || string(buf[:3]) != "hey" {
		t.Fatalf("recv = %d %q", res, buf[:3])
	}
	r = tab.Get()
	r.Kind, r.FD, r.Handle, r.Buf = core.KindSend, fd, h, []byte("yo")
	tab.Submit(r)
	if res := wait(tab, r); res != 2 {
		t.Fatalf("send = %d", res)
	}
	r = tab.Get()
	r.Kind, r.FD, r.Handle, r.Flags = core.KindShutdown, fd, h, unix.SHUT_WR
	tab.Submit(r)
	if res := wait(tab, r); res != 0 {
		t.Fatalf("shutdown = %d", res)
	}

	ln.Close() // nothing listens on port now
	fd2, h2 := socket(t, d, unix.AF_INET)
	if res := connectRec(t, tab, fd2, h2, raw); res != -int32(syscall.ECONNREFUSED) {
		t.Errorf("connect to a closed port = %d, want -ECONNREFUSED", res)
	}

	var un unix.RawSockaddrUnix
	name := filepath.Join(t.TempDir(), "none")
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&un.Path[0])), len(un.Path)), name)
	fd3, h3 := socket(t, d, unix.AF_UNIX)
	res := connectRec(t, tab, fd3, h3, rawOf(&un, unix.AF_UNIX, unsafe.Offsetof(un.Path)+uintptr(len(name))+1))
	if res != -int32(syscall.ENOENT) {
		t.Errorf("connect to a missing unix socket = %d, want -ENOENT", res)
	}
	if res := connectRec(t, tab, fd3, h3, []byte{1}); res != -int32(syscall.EINVAL) {
		t.Errorf("connect with a truncated address = %d, want -EINVAL", res)
	}
}

// TestAcceptCancel: an accept parked on an idle listener is cancelled at
// once, having taken no connection; the next accept gets the one that
// arrives.
func TestAcceptCancel(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	lfd := int(lf.Fd()) // blocking now; Attach makes it non-blocking again
	h := attach(t, d, lfd)
	r := start(t, tab, core.KindAccept, lfd, h, nil, 0)
	tab.Cancel(r, r.Gen())
	if res := wait(tab, r); res != -int32(syscall.ECANCELED) {
		t.Fatalf("cancelled accept = %d", res)
	}
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r = start(t, tab, core.KindAccept, lfd, h, nil, 0)
	nfd := wait(tab, r)
	if nfd < 0 {
		t.Fatalf("accept = %d", nfd)
	}
	unix.Close(int(nfd))
}
