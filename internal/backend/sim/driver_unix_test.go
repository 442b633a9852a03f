//go:build unix

package sim

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio/internal/core"
)

// newTable returns a table with a simulator of the given seed, closed at
// the end of the test.
func newTable(t *testing.T, seed int64) (*core.Table, *Driver) {
	t.Helper()
	tb := core.NewTable()
	d, err := New(tb, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	tb.Driver = d
	tb.Hinter = d.(core.WaitHinter)
	t.Cleanup(func() { d.Close() })
	return tb, d.(*Driver)
}

// TestSyncNotOrderedAfterWrites: the kernel does not order an fsync after
// writes still in flight (the contract's rule 10 is the library's job),
// so neither does the simulator: across seeds, an fsync waited for
// completes sometimes before, sometimes after an earlier write nobody
// waits for yet.
func TestSyncNotOrderedAfterWrites(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before, after int
	for seed := int64(1); seed <= 100; seed++ {
		tb, d := newTable(t, seed)
		h, err := d.Attach(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		w := tb.Get()
		w.Kind, w.FD, w.Handle, w.Buf, w.Off = core.KindWrite, int(f.Fd()), h, make([]byte, 512), 0
		if err := tb.Submit(w); err != nil {
			t.Fatal(err)
		}
		s := tb.Get()
		s.Kind, s.FD, s.Handle = core.KindFsync, int(f.Fd()), h
		if err := tb.Submit(s); err != nil {
			t.Fatal(err)
		}
		tb.Waiting(s, s.Gen(), false)
		<-s.Wake
		if w.Completed() {
			after++
		} else {
			before++
		}
		tb.Waiting(w, w.Gen(), false)
		<-w.Wake
		tb.Put(s)
		tb.Put(w)
		d.Detach(int(f.Fd()), h)
	}
	t.Logf("fsync completed before an earlier write in %d seeds, after it in %d", before, after)
	if before == 0 || after == 0 {
		t.Error("want both orders")
	}
}

// TestCutPoint: short transfers only where a kernel makes them.
func TestCutPoint(t *testing.T) {
	for _, c := range []struct {
		name      string
		f         file
		n         int
		off       int64
		min, max  int // the cut is 0 (none) when max is 0
		pageAlign bool
	}{
		{"small pipe read", file{pollable: true}, 4096, -1, 0, 0, false},
		{"large pipe read", file{pollable: true}, 10000, -1, 1, 9999, false},
		{"datagram", file{pollable: true, dgram: true}, 10000, -1, 0, 0, false},
		{"one page of a file", file{disk: true}, 4096, 0, 0, 0, false},
		{"file, aligned", file{disk: true}, 3 * 4096, 0, 4096, 8192, true},
		{"file, unaligned", file{disk: true}, 3 * 4096, 100, 3996, 3996 + 8192, false},
	} {
		for seed := range uint64(200) {
			o := &op{file: &c.f, kind: core.KindRead, user: make([]byte, c.n), r: &core.Record{Off: c.off}}
			o.rng = rand.New(rand.NewPCG(7, seed))
			cut := o.cutPoint()
			if c.max == 0 {
				if cut != 0 {
					t.Fatalf("%s: cut at %d", c.name, cut)
				}
				continue
			}
			if cut < c.min || cut > c.max || (c.off >= 0 && (c.off+int64(cut))%4096 != 0) {
				t.Fatalf("%s: cut at %d, want %d..%d on a page boundary of the file", c.name, cut, c.min, c.max)
			}
		}
	}
}
