//go:build unix && !race

package portable

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// TestTryNowZeroAllocs: the at-once path allocates nothing, on every
// Unix (raw system calls on Linux, x/sys's wrappers elsewhere): a send
// and a write that go through, the recv and read that take the data, and
// a recv that would wait. (Built without -race, whose instrumentation
// allocates.)
func TestTryNowZeroAllocs(t *testing.T) {
	d, _ := newTestDriver(t, Options{NoWait: true}, nil)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil { // as the library's are
			t.Fatal(err)
		}
	}
	a, b := attach(t, d, fds[0]), attach(t, d, fds[1])
	if !a.pollable || !b.pollable {
		t.Fatal("a socket is not pollable")
	}
	out, in := []byte("ping"), make([]byte, 16)
	try := func(kind core.Kind, fd int, h *fileState, buf []byte, flags int) (int32, bool) {
		return d.TryNow(kind, fd, h, buf, -1, flags)
	}
	cases := []struct {
		name string
		fn   func() bool // whether it went as it must
	}{
		{"send+recv", func() bool {
			ns, oks := try(core.KindSend, fds[0], a, out, 0)
			nr, okr := try(core.KindRecv, fds[1], b, in, 0)
			return oks && okr && ns == 4 && nr == 4
		}},
		{"write+read", func() bool {
			nw, okw := try(core.KindWrite, fds[1], b, out, 0)
			nr, okr := try(core.KindRead, fds[0], a, in, 0)
			return okw && okr && nw == 4 && nr == 4
		}},
		{"recv that would wait", func() bool {
			_, ok := try(core.KindRecv, fds[1], b, in, 0)
			return !ok
		}},
	}
	for _, c := range cases {
		failed := false
		allocs := testing.AllocsPerRun(100, func() {
			if !c.fn() {
				failed = true
			}
		})
		if failed {
			t.Errorf("%s: not done at once as it must be", c.name)
		}
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", c.name, allocs)
		}
	}
}
