//go:build unix

package aio_test

import (
	"os"
	"testing"

	"github.com/waitforit/aio"
)

// checkedRings are rings with checked ownership on: the simulator, and
// the portable backend with Config.Check.
func checkedRings(t *testing.T) map[string]*aio.Ring {
	t.Helper()
	rings := map[string]*aio.Ring{}
	for name, cfg := range map[string]aio.Config{
		"sim":            {Backend: "sim", Seed: 1},
		"portable+check": {Backend: "portable", Check: true},
	} {
		r, err := aio.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		rings[name] = r
	}
	return rings
}

// TestCheckedPoolBufferHandedOutInFlight: a read started on a buffer
// after its Release still holds it; the pool handing the buffer out again
// then panics, naming the read and where it was started.
func TestCheckedPoolBufferHandedOutInFlight(t *testing.T) {
	for name, r := range checkedRings(t) {
		t.Run(name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			defer pw.Close()
			rd, err := r.NewFile(pr)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			p, err := r.NewBufferPool(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			b, _ := p.TryGet()
			stale := b.Bytes()
			b.Release()
			op, err := rd.StartRead(stale) // the bug: the memory is the pool's again
			if err != nil {
				t.Fatal(err)
			}
			msg := wantPanic(t, func() { p.TryGet() },
				"handed out again while a read of 64 bytes", "after its Release", "TestCheckedPoolBufferHandedOutInFlight")
			t.Log(msg)
			pw.Write([]byte("x"))
			if n, err := op.Wait(); n != 1 || err != nil {
				t.Fatalf("read = (%d, %v)", n, err)
			}
			b2, ok := p.TryGet() // the read is over: the buffer is free
			if !ok {
				t.Fatal("the buffer did not come back")
			}
			b2.Release()
		})
	}
}
