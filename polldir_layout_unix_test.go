//go:build unix

package aio

import (
	"context"
	"os"
	"testing"
	"unsafe"
)

// TestPollDirLayout: what every call on the readiness path writes fits
// in a pollDir's first two cache lines, and both directions of a pollFD
// start on a line (see pollDir and mallocHeader), in a pollFD allocated
// for a pipe as in one made inside a Conn (TestConnLayout).
func TestPollDirLayout(t *testing.T) {
	const line = 64
	var d pollDir
	// The count a call writes is Counters' first word (serial, the
	// gate's lock).
	ctrHot := unsafe.Offsetof(d.ctr) + unsafe.Sizeof(uint64(0))
	hot := map[string]uintptr{
		"gate":    unsafe.Offsetof(d.gate) + unsafe.Sizeof(d.gate),
		"stale":   unsafe.Offsetof(d.stale) + unsafe.Sizeof(d.stale),
		"timed":   unsafe.Offsetof(d.timed) + unsafe.Sizeof(d.timed),
		"tried":   unsafe.Offsetof(d.tried) + 1,
		"waited":  unsafe.Offsetof(d.waited) + 1,
		"kind":    unsafe.Offsetof(d.kind) + unsafe.Sizeof(d.kind),
		"hasAddr": unsafe.Offsetof(d.hasAddr) + 1,
		"addrLen": unsafe.Offsetof(d.addrLen) + unsafe.Sizeof(d.addrLen),
		"n":       unsafe.Offsetof(d.n) + unsafe.Sizeof(d.n),
		"errno":   unsafe.Offsetof(d.errno) + unsafe.Sizeof(d.errno),
		"buf":     unsafe.Offsetof(d.buf) + unsafe.Sizeof(d.buf),
		"flags":   unsafe.Offsetof(d.flags) + unsafe.Sizeof(d.flags),
		"fn":      unsafe.Offsetof(d.fn) + unsafe.Sizeof(d.fn),
		"custom":  unsafe.Offsetof(d.custom) + unsafe.Sizeof(d.custom),
		"ctr":     ctrHot,
	}
	for name, end := range hot {
		if end > 2*line {
			t.Errorf("pollDir.%s ends at byte %d, past the first two cache lines", name, end)
		}
	}
	if cold := unsafe.Offsetof(d.p); cold < ctrHot {
		t.Errorf("pollDir.p (not written per call) at byte %d, among the per-call fields", cold)
	}
	if size := unsafe.Sizeof(d); size%line != 0 {
		t.Errorf("pollDir is %d bytes, not whole cache lines", size)
	}
	var p pollFD
	if off := unsafe.Offsetof(p.dirs); (mallocHeader+off)%line != 0 {
		t.Errorf("pollFD.dirs at byte %d, not on a line in an allocation that starts %d bytes into one", off, mallocHeader)
	}

	r := layoutRing(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	f, err := r.NewFile(pr)
	pr.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.poll == nil {
		t.Fatal("a pipe's File has no readiness path")
	}
	for i := range f.poll.dirs {
		if addr := uintptr(unsafe.Pointer(&f.poll.dirs[i])); addr%line != 0 {
			t.Errorf("a pipe's pollFD.dirs[%d] at %#x, not on a cache line", i, addr)
		}
	}
}

// layoutRing is a portable ring, closed when t ends.
func layoutRing(t *testing.T) *Ring {
	r, err := New(Config{Backend: "portable"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestConnLayout: what every call on a Conn reads first fits in the line
// its allocation starts in, and its readiness state (Conn.pd) follows,
// its directions each on lines of their own (see mallocHeader), in the
// Conns that Dial and Accept make.
func TestConnLayout(t *testing.T) {
	const line = 64
	var c Conn
	if end := mallocHeader + unsafe.Sizeof(c.connHot); end > line {
		t.Errorf("Conn's per-call fields end at byte %d of its slot, past the first cache line", end)
	}
	if size := unsafe.Sizeof(c); size <= 64*unsafe.Sizeof(uintptr(0)) {
		t.Errorf("Conn is %d bytes: an object of 64 words or less has no malloc header, and its size class need not be of whole lines", size)
	}
	r := layoutRing(t)
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err := r.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dialed.Close()
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()
	for _, x := range []*Conn{dialed.(*Conn), accepted.(*Conn)} {
		if x.poll != &x.pd || x.f.poll != x.poll {
			t.Fatalf("a socket made by aio has its readiness state at %p, its File's at %p, want %p (Conn.pd)", x.poll, x.f.poll, &x.pd)
		}
		if addr := uintptr(unsafe.Pointer(x)); addr%line != mallocHeader {
			t.Errorf("a Conn allocated at %#x, not %d bytes into a cache line", addr, mallocHeader)
		}
		for i := range x.pd.dirs {
			if addr := uintptr(unsafe.Pointer(&x.pd.dirs[i])); addr%line != 0 {
				t.Errorf("Conn.pd.dirs[%d] at %#x, not on a cache line", i, addr)
			}
		}
	}
}
