package iocp

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"weak"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

func newDriver(t *testing.T) (*core.Table, *Driver) {
	t.Helper()
	tb := core.NewTable()
	d, err := New(8, tb)
	if err != nil {
		t.Fatal(err)
	}
	tb.Driver = d
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		if err := d.Close(); err != os.ErrClosed {
			t.Errorf("second Close = %v, want os.ErrClosed", err)
		}
	})
	return tb, d.(*Driver)
}

// dup duplicates f's handle, as Ring.NewFile does.
func dup(t *testing.T, f *os.File) windows.Handle {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var d windows.Handle
	var derr error
	rc.Control(func(h uintptr) {
		p := windows.CurrentProcess()
		derr = windows.DuplicateHandle(p, windows.Handle(h), p, &d, 0, false, windows.DUPLICATE_SAME_ACCESS)
	})
	if derr != nil {
		t.Fatal(derr)
	}
	t.Cleanup(func() { windows.CloseHandle(d) })
	return d
}

func TestAttachModes(t *testing.T) {
	_, d := newDriver(t)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	attach := func(h windows.Handle) *file {
		t.Helper()
		f, err := d.Attach(int(h))
		if err != nil {
			t.Fatal(err)
		}
		return f.(*file)
	}

	// Ring.Open's handles: overlapped, fresh.
	n, err := d.open(append([]byte(name), 0), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	h := windows.Handle(n)
	defer windows.CloseHandle(h)
	if f := attach(h); f.mode != modePort || !f.skip || !f.seekable {
		t.Errorf("Open's handle: mode %v skip %v seekable %v, want port, skip, seekable", f.mode, f.skip, f.seekable)
	}

	// os.OpenFile with FILE_FLAG_OVERLAPPED: bound to Go's port already.
	of, err := os.OpenFile(name, os.O_RDONLY|windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	if f := attach(dup(t, of)); f.mode != modeEvent {
		t.Errorf("os.OpenFile(FILE_FLAG_OVERLAPPED): mode %v, want event", f.mode)
	}

	// os.Open and os.Pipe: synchronous.
	sf, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	sf.Seek(2, 0)
	if f := attach(dup(t, sf)); f.mode != modeBlocking || f.pos.Load() != 2 {
		t.Errorf("os.Open: mode %v pos %d, want blocking at 2", f.mode, f.pos.Load())
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if f := attach(dup(t, pr)); f.mode != modeBlocking || f.seekable {
		t.Errorf("os.Pipe: mode %v seekable %v, want blocking, not seekable", f.mode, f.seekable)
	}
}

func TestNop(t *testing.T) {
	tb, _ := newDriver(t)
	for range 100 {
		r := tb.Get()
		r.Kind = core.KindNop
		if err := tb.Submit(r); err != nil {
			t.Fatal(err)
		}
		<-r.Wake
		if r.Res != 0 {
			t.Fatalf("nop = %d", r.Res)
		}
		tb.Put(r)
	}
}

func TestResult(t *testing.T) {
	for _, c := range []struct {
		kind core.Kind
		n    uint32
		err  error
		want int32
	}{
		{core.KindRead, 7, nil, 7},
		{core.KindRead, 0, windows.ERROR_OPERATION_ABORTED, -int32(syscall.ECANCELED)},
		{core.KindRead, 3, windows.ERROR_OPERATION_ABORTED, 3},
		{core.KindRead, 0, windows.ERROR_ALERTED, -int32(syscall.ECANCELED)},
		{core.KindRead, 0, windows.ERROR_HANDLE_EOF, 0},
		{core.KindRead, 0, windows.ERROR_BROKEN_PIPE, 0},
		{core.KindWrite, 0, windows.ERROR_BROKEN_PIPE, -int32(syscall.EPIPE)},
		{core.KindWrite, 0, windows.ERROR_NO_DATA, -int32(syscall.EPIPE)},
		{core.KindRead, 5, windows.ERROR_MORE_DATA, 5},
		{core.KindFsync, 0, windows.ERROR_ACCESS_DENIED, -int32(windows.ERROR_ACCESS_DENIED)},
		{core.KindStat, 0, windows.ERROR_OPERATION_ABORTED, -int32(syscall.ECANCELED)},
		{core.KindUnlink, 0, windows.ERROR_DIR_NOT_EMPTY, -int32(windows.ERROR_DIR_NOT_EMPTY)},
		{core.KindReadlink, 0, windows.ERROR_NOT_A_REPARSE_POINT, -int32(windows.ERROR_NOT_A_REPARSE_POINT)},
		{core.KindOpen, 0, windows.ERROR_ACCESS_DENIED, -int32(windows.ERROR_ACCESS_DENIED)},
		{core.KindWrite, 0, windows.ERROR_ACCESS_DENIED, -int32(syscall.EBADF)},
		{core.KindWrite, 0, windows.ERROR_DISK_FULL, -int32(windows.ERROR_DISK_FULL)},
	} {
		if got := result(c.kind, c.n, c.err); got != c.want {
			t.Errorf("result(%v, %d, %v) = %d, want %d", c.kind, c.n, c.err, got, c.want)
		}
	}
}

// submit starts an operation on an attached handle and returns its record.
func submit(t *testing.T, tb *core.Table, kind core.Kind, h windows.Handle, f any, buf []byte) *core.Record {
	t.Helper()
	r := tb.Get()
	r.Kind, r.FD, r.Handle, r.Buf = kind, int(h), f, buf
	if kind == core.KindShutdown {
		r.Flags = windows.SHUT_WR
	}
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func wait(tb *core.Table, r *core.Record) int32 {
	<-r.Wake
	res := r.Res
	tb.Put(r)
	return res
}

// socketPair connects two overlapped loopback TCP sockets through d (an
// accept and a ConnectEx), attached to it, and returns the connecting
// end and the accepted one; all are closed at the end of the test.
func socketPair(t *testing.T, tb *core.Table, d *Driver) (cs windows.Handle, cf any, as windows.Handle, af any) {
	t.Helper()
	socket := func() windows.Handle {
		s, err := windows.WSASocket(windows.AF_INET, windows.SOCK_STREAM, windows.IPPROTO_TCP, nil, 0, windows.WSA_FLAG_OVERLAPPED)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { windows.Closesocket(s) })
		return s
	}
	attach := func(s windows.Handle) any {
		f, err := d.Attach(int(s))
		if err != nil {
			t.Fatal(err)
		}
		if Mode(f) != "port" || !f.(*file).socket {
			t.Fatalf("socket attached in mode %s", Mode(f))
		}
		return f
	}
	ls := socket()
	if err := windows.Bind(ls, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := windows.Listen(ls, 8); err != nil {
		t.Fatal(err)
	}
	sa, err := windows.Getsockname(ls)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*windows.SockaddrInet4).Port
	lf := attach(ls)
	accept := submit(t, tb, core.KindAccept, ls, lf, nil)

	cs = socket() // unbound: the driver binds it for ConnectEx
	cf = attach(cs)
	raw := make([]byte, 16)
	raw[0] = windows.AF_INET
	raw[2], raw[3] = byte(port>>8), byte(port)
	raw[4], raw[7] = 127, 1
	if res := wait(tb, submit(t, tb, core.KindConnect, cs, cf, raw)); res != 0 {
		t.Fatalf("connect = %d", res)
	}
	res := wait(tb, accept)
	if res <= 0 {
		t.Fatalf("accept = %d", res)
	}
	as = windows.Handle(res)
	t.Cleanup(func() { windows.Closesocket(as) })
	return cs, cf, as, attach(as)
}

// TestSockets drives AcceptEx, ConnectEx, WSASend, WSARecv and a cancel
// through the driver on raw sockets (the net.Conn layer on top lives in
// package aio).
func TestSockets(t *testing.T) {
	tb, d := newDriver(t)
	cs, cf, as, af := socketPair(t, tb, d)

	if res := wait(tb, submit(t, tb, core.KindSend, cs, cf, []byte("hello"))); res != 5 {
		t.Fatalf("send = %d", res)
	}
	buf := make([]byte, 16)
	if res := wait(tb, submit(t, tb, core.KindRecv, as, af, buf)); res != 5 || string(buf[:5]) != "hello" {
		t.Fatalf("recv = %d %q", res, buf)
	}
	// A blocked receive, cancelled.
	r := submit(t, tb, core.KindRecv, as, af, buf)
	tb.Cancel(r, r.Gen())
	if res := wait(tb, r); res != -int32(syscall.ECANCELED) {
		t.Fatalf("cancelled recv = %d", res)
	}
	// End of stream.
	if res := wait(tb, submit(t, tb, core.KindShutdown, cs, cf, nil)); res != 0 {
		t.Fatalf("shutdown = %d", res)
	}
	if res := wait(tb, submit(t, tb, core.KindRecv, as, af, buf)); res != 0 {
		t.Fatalf("recv after the peer's shutdown = %d, want 0", res)
	}
}

// TestSocketBufferNotRetained: once an operation has completed, the
// driver keeps no pointer to its buffer. The ops live (pinned) as long as
// the driver, and a WSABUF left pointing at the last buffer kept the
// object around it reachable: net/http's one-byte background read, whose
// buffer lies inside its connReader, held the server, its handler and a
// DirFS with its directory open (under Wine, a t.TempDir that could not
// be removed).
func TestSocketBufferNotRetained(t *testing.T) {
	tb, d := newDriver(t)
	cs, cf, as, af := socketPair(t, tb, d)

	type reader struct { // a buffer inside a larger object, as net/http's connReader.byteBuf
		buf [1]byte
		_   [64]byte
	}
	recv := func(cancel bool) weak.Pointer[reader] {
		rd := new(reader)
		r := submit(t, tb, core.KindRecv, as, af, rd.buf[:])
		if cancel {
			tb.Cancel(r, r.Gen())
		}
		wait(tb, r)
		return weak.Make(rd)
	}
	if res := wait(tb, submit(t, tb, core.KindSend, cs, cf, []byte("x"))); res != 1 {
		t.Fatalf("send = %d", res)
	}
	done := recv(false)
	canceled := recv(true) // blocked, then cancelled: the last use of its op
	runtime.GC()
	runtime.GC()
	if done.Value() != nil || canceled.Value() != nil {
		t.Errorf("buffers of completed receives still reachable (completed: %v, cancelled: %v)", done.Value() != nil, canceled.Value() != nil)
	}
}
