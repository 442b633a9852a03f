package iocp

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio/internal/core"
)

// adopt makes the handle Ring.NewFile makes for of (a duplicate, then
// Reopen of it if it can) and attaches it; the handle is closed at the
// end of the test.
func adopt(t *testing.T, d *Driver, of *os.File) (*file, windows.Handle) {
	t.Helper()
	h := dup(t, of)
	if nh, err := Reopen(h); err == nil {
		h = nh
		t.Cleanup(func() { windows.CloseHandle(nh) })
	}
	f, err := d.Attach(int(h))
	if err != nil {
		t.Fatal(err)
	}
	return f.(*file), h
}

// rw runs one read or write through the driver and returns its result.
func rw(t *testing.T, tb *core.Table, kind core.Kind, h windows.Handle, f *file, buf []byte, off int64) int32 {
	t.Helper()
	r := tb.Get()
	r.Kind, r.FD, r.Handle, r.Buf, r.Off = kind, int(h), f, buf, off
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	return wait(tb, r)
}

// TestReopen: Ring.NewFile's handles. A disk file, synchronous or bound
// to the Go runtime's port, is reopened into port mode at the caller's
// position, and the caller's handle keeps its own; a pipe cannot be
// reopened, and its duplicate runs blocking.
func TestReopen(t *testing.T) {
	tb, d := newDriver(t)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)

	for _, c := range []struct {
		what string
		flag int
	}{
		{"os.Open (synchronous)", os.O_RDONLY},
		{"os.OpenFile(FILE_FLAG_OVERLAPPED) (on Go's port)", os.O_RDONLY | windows.FILE_FLAG_OVERLAPPED},
	} {
		of, err := os.OpenFile(name, c.flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer of.Close()
		// The handle's position, which os.File keeps in the handle for
		// synchronous handles only (overlapped I/O has none).
		pos := int64(0)
		if c.flag&windows.FILE_FLAG_OVERLAPPED == 0 {
			pos = 2
		}
		if _, err := windows.Seek(windows.Handle(of.Fd()), pos, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		f, h := adopt(t, d, of)
		if f.mode != modePort || !f.skip || !f.seekable || f.pos.Load() != pos {
			t.Errorf("%s: mode %v skip %v seekable %v pos %d, want port, skip, seekable, at %d", c.what, f.mode, f.skip, f.seekable, f.pos.Load(), pos)
			continue
		}
		want := "0123456789"[pos : pos+3]
		if res := rw(t, tb, core.KindRead, h, f, buf, -1); res != 3 || string(buf) != want {
			t.Errorf("%s: read at the position = %d %q, want 3 %q", c.what, res, buf[:max(res, 0)], want)
		}
		if res := rw(t, tb, core.KindRead, h, f, buf, 7); res != 3 || string(buf) != "789" {
			t.Errorf("%s: read at 7 = %d %q, want 3 \"789\"", c.what, res, buf[:max(res, 0)])
		}
		if res := rw(t, tb, core.KindWrite, h, f, buf, 0); res != -int32(syscall.EBADF) {
			t.Errorf("%s: write through a reopened read-only handle = %d, want EBADF (no more access than the caller's)", c.what, res)
		}
		if c.flag&windows.FILE_FLAG_OVERLAPPED != 0 {
			continue // os.File's overlapped I/O keeps no position
		}
		if pos, err := of.Seek(0, io.SeekCurrent); pos != 2 || err != nil {
			t.Errorf("%s: the caller's position moved: %d, %v", c.what, pos, err)
		}
		if n, err := of.Read(buf[:2]); n != 2 || err != nil || string(buf[:2]) != "23" {
			t.Errorf("%s: the caller's Read = %d, %v, %q", c.what, n, err, buf[:2])
		}
	}

	// O_APPEND: the reopened handle appends, at the position or not.
	af, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	f, h := adopt(t, d, af)
	if f.mode != modePort || !f.appendOnly {
		t.Errorf("os.OpenFile(O_APPEND): mode %v appendOnly %v, want port, append-only", f.mode, f.appendOnly)
	}
	if res := rw(t, tb, core.KindWrite, h, f, []byte("ab"), -1); res != 2 {
		t.Errorf("append = %d", res)
	}
	if got, _ := os.ReadFile(name); string(got) != "0123456789ab" {
		t.Errorf("after the append: %q", got)
	}

	// A pipe cannot be reopened: duplicated, blocking.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if _, err := Reopen(windows.Handle(pr.Fd())); err == nil {
		t.Error("Reopen of os.Pipe's read end succeeded")
	}
	if f, _ := adopt(t, d, pr); f.mode != modeBlocking || f.seekable {
		t.Errorf("os.Pipe: mode %v seekable %v, want blocking, not seekable", f.mode, f.seekable)
	}
}

// TestBlockingDiskFile: a synchronous disk handle attached as it is (what
// Ring.NewFile keeps when ReOpenFile fails) runs blocking calls at the
// driver's position and at offsets.
func TestBlockingDiskFile(t *testing.T) {
	tb, d := newDriver(t)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	of, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	of.Seek(1, io.SeekStart)
	h := dup(t, of)
	a, err := d.Attach(int(h))
	if err != nil {
		t.Fatal(err)
	}
	f := a.(*file)
	if f.mode != modeBlocking || !f.seekable || f.pos.Load() != 1 {
		t.Fatalf("mode %v seekable %v pos %d, want blocking, seekable, at 1", f.mode, f.seekable, f.pos.Load())
	}
	buf := make([]byte, 3)
	for _, c := range []struct {
		off  int64
		want string
	}{{-1, "123"}, {6, "678"}, {-1, "456"}, {9, "9"}} {
		res := rw(t, tb, core.KindRead, h, f, buf, c.off)
		if res != int32(len(c.want)) || string(buf[:res]) != c.want {
			t.Errorf("read at %d = %d %q, want %q", c.off, res, buf[:max(res, 0)], c.want)
		}
	}
}
