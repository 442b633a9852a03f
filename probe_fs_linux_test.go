package aio_test

import (
	"strings"
	"testing"

	"github.com/waitforit/aio"
)

// TestProbeRoutes: Probe says how each file system operation is done,
// and a Ring says the same for itself: through the ring with an opcode
// the kernel has, or on worker threads and why.
func TestProbeRoutes(t *testing.T) {
	p := aio.Probe()
	if len(p.Routes) == 0 {
		t.Fatalf("Probe() lists no routes: %+v", p)
	}
	alwaysWorkers := map[string]bool{"getdents": true, "readlinkat": true, "lseek": true}
	for _, rt := range p.Routes {
		t.Logf("%-16s %-40s %s", rt.Op, rt.Methods, rt.Via)
		switch {
		case rt.Op == "" || rt.Methods == "" || rt.Via == "":
			t.Errorf("incomplete route %+v", rt)
		case p.Backend == "portable" && rt.Via != "worker threads":
			t.Errorf("portable: %s goes %q", rt.Op, rt.Via)
		case p.Backend == "uring" && alwaysWorkers[rt.Op] && !strings.HasPrefix(rt.Via, "worker threads (io_uring has no"):
			t.Errorf("uring: %s goes %q; io_uring has no such opcode", rt.Op, rt.Via)
		case p.Backend == "uring" && rt.Op == "fsync, fdatasync":
			// On the workers by measurement (route in
			// internal/backend/uring/workers_linux.go).
			if !strings.HasPrefix(rt.Via, "worker threads (fsync(2)") {
				t.Errorf("uring: %s goes %q, want the worker threads", rt.Op, rt.Via)
			}
		case p.Backend == "uring" && strings.HasPrefix(rt.Op, "openat"):
			// On the workers, to wait as open(2) does (route).
			if !strings.HasPrefix(rt.Via, "worker threads (open(2)") {
				t.Errorf("uring: %s goes %q, want the worker threads", rt.Op, rt.Via)
			}
		case p.Backend == "uring" && !alwaysWorkers[rt.Op] &&
			!strings.HasPrefix(rt.Via, "IORING_OP_") && !strings.HasPrefix(rt.Via, "worker threads (kernel lacks IORING_OP_"):
			t.Errorf("uring: %s goes %q", rt.Op, rt.Via)
		}
	}
	for _, backend := range []string{"uring", "portable"} {
		r, err := aio.New(aio.Config{Backend: backend})
		if err != nil {
			t.Fatal(err)
		}
		rts := r.Routes()
		if backend == p.Backend && len(rts) != len(p.Routes) {
			t.Errorf("%s ring: %d routes, the probe %d", backend, len(rts), len(p.Routes))
		}
		for i, rt := range rts {
			if backend == p.Backend && rt != p.Routes[i] {
				t.Errorf("%s ring: %+v, the probe says %+v", backend, rt, p.Routes[i])
			}
			if backend == "portable" && rt.Via != "worker threads" {
				t.Errorf("portable ring: %s goes %q", rt.Op, rt.Via)
			}
		}
		r.Close()
	}
}
