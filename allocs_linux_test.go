//go:build !race

package aio_test

import (
	"context"
	"errors"
	"testing"

	"github.com/waitforit/aio"
)

// TestZeroAllocsSteadyState: on io_uring, the synchronous calls and the
// Op API with a reused Op allocate nothing per operation, nor does a
// buffer pool's Get and Release. (Built without
// -race, whose instrumentation allocates; CI runs it separately.)
var errShort = errors.New("short transfer")

func TestZeroAllocsSteadyState(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	ctx := context.Background()
	buf := make([]byte, 4096)
	var o aio.Op
	b, bw := r.NewBatch(), r.NewBatch()
	ops := make([]aio.Op, 8)
	pool, err := r.NewBufferPool(4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// A call that fails early allocates nothing and proves nothing: each
	// run checks its results, without allocating, and the first failure
	// is reported after the count.
	var failed error
	check := func(n int, err error) { // every call here moves 4096 bytes
		if failed == nil && err != nil {
			failed = err
		} else if failed == nil && n != 4096 {
			failed = errShort
		}
	}
	cases := []struct {
		name string
		fn   func()
	}{
		{"ReadAtContext", func() { check(f.ReadAtContext(ctx, buf, 4096)) }},
		{"WriteAtContext", func() { check(f.WriteAtContext(ctx, buf, 8192)) }},
		{"StartReadAtOp+Wait", func() {
			if err := f.StartReadAtOp(&o, buf, 0); err != nil && failed == nil {
				failed = err
			}
			check(o.Wait())
		}},
		{"Batch.StartReadAtOp+Submit+Wait", func() {
			for i := range ops {
				if err := b.StartReadAtOp(&ops[i], f, buf, int64(i)*4096); err != nil && failed == nil {
					failed = err
				}
			}
			if err := b.Submit(); err != nil && failed == nil {
				failed = err
			}
			for i := range ops {
				check(ops[i].Wait())
			}
		}},
		{"Batch.StartWriteAtOp+Submit+Wait", func() { // nothing done at once: all to the ring
			for i := range ops {
				if err := bw.StartWriteAtOp(&ops[i], f, buf, int64(64+i)*4096); err != nil && failed == nil {
					failed = err
				}
			}
			if err := bw.Submit(); err != nil && failed == nil {
				failed = err
			}
			for i := range ops {
				check(ops[i].Wait())
			}
		}},
		{"BufferPool.Get+ReadAtContext+Release", func() {
			pb, err := pool.Get(ctx)
			if err != nil {
				if failed == nil {
					failed = err
				}
				return
			}
			check(f.ReadAtContext(ctx, pb.Bytes(), 4096))
			pb.Release()
		}},
	}
	for _, c := range cases {
		failed = nil
		c.fn() // warm up: records, slices and the batch grow once
		if n := testing.AllocsPerRun(200, c.fn); n != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", c.name, n)
		}
		if failed != nil {
			t.Errorf("%s: %v", c.name, failed)
		}
	}
}
