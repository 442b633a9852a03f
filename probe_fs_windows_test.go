package aio_test

import (
	"strings"
	"testing"

	"github.com/waitforit/aio"
)

// TestProbeRoutesWindows: on Windows the probe says, for each file system
// operation, which calls the iocp backend makes and how they run (at
// once, or blocking a goroutine of their own that a cancel interrupts),
// and a Ring says the same. Only openat2 is missing: DirFS resolves names
// itself there.
func TestProbeRoutesWindows(t *testing.T) {
	p := aio.Probe()
	if p.Backend != "iocp" || len(p.Routes) == 0 {
		t.Fatalf("Probe() = %+v; want iocp with its routes", p)
	}
	for _, rt := range p.Routes {
		t.Logf("%-16s %-40s %s", rt.Op, rt.Methods, rt.Via)
		switch {
		case rt.Op == "" || rt.Methods == "" || rt.Via == "":
			t.Errorf("incomplete route %+v", rt)
		case rt.Op == "openat2":
			if !strings.HasPrefix(rt.Via, "unsupported") {
				t.Errorf("openat2 goes %q; Windows has none", rt.Via)
			}
		case rt.Op == "lseek" || rt.Op == "fadvise":
			if !strings.HasSuffix(rt.Via, "at once, never blocks") {
				t.Errorf("%s goes %q; it never blocks", rt.Op, rt.Via)
			}
		case !strings.HasSuffix(rt.Via, "a blocking call on a goroutine of its own (cancel: CancelSynchronousIo)"):
			t.Errorf("%s goes %q", rt.Op, rt.Via)
		}
	}
	r, err := aio.New(aio.Config{Backend: "iocp"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rts := r.Routes()
	if len(rts) != len(p.Routes) {
		t.Fatalf("the ring lists %d routes, the probe %d", len(rts), len(p.Routes))
	}
	for i, rt := range rts {
		if rt != p.Routes[i] {
			t.Errorf("the ring says %+v, the probe %+v", rt, p.Routes[i])
		}
	}
}
