//go:build unix

package aio

import (
	"testing"
	"unsafe"
)

// TestPollDirLayout: what every call on the readiness path writes fits
// in a pollDir's first two cache lines, and both directions of a pollFD
// start on a line (see pollDir; a pollFD, over 512 bytes, is allocated
// in a size class of whole lines).
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
	if off := unsafe.Offsetof(p.dirs); off != 0 {
		t.Errorf("pollFD.dirs at byte %d, want 0", off)
	}
}
