//go:build !race

package aio_test

import (
	"context"
	"testing"

	"github.com/waitforit/aio"
)

// TestZeroAllocsSteadyState: on io_uring, the synchronous calls and the
// Op API with a reused Op allocate nothing per operation, nor does a
// buffer pool's Get and Release. (Built without
// -race, whose instrumentation allocates; CI runs it separately.)
func TestZeroAllocsSteadyState(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	ctx := context.Background()
	buf := make([]byte, 4096)
	var o aio.Op
	b := r.NewBatch()
	ops := make([]aio.Op, 8)
	pool, err := r.NewBufferPool(4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	cases := []struct {
		name string
		fn   func()
	}{
		{"ReadAtContext", func() { f.ReadAtContext(ctx, buf, 4096) }},
		{"WriteAtContext", func() { f.WriteAtContext(ctx, buf, 8192) }},
		{"StartReadAtOp+Wait", func() {
			f.StartReadAtOp(&o, buf, 0)
			o.Wait()
		}},
		{"Batch.StartReadAtOp+Submit+Wait", func() {
			for i := range ops {
				b.StartReadAtOp(&ops[i], f, buf, int64(i)*4096)
			}
			b.Submit()
			for i := range ops {
				ops[i].Wait()
			}
		}},
		{"BufferPool.Get+ReadAtContext+Release", func() {
			pb, _ := pool.Get(ctx)
			f.ReadAtContext(ctx, pb.Bytes(), 4096)
			pb.Release()
		}},
	}
	for _, c := range cases {
		c.fn() // warm up: records, slices and the batch grow once
		if n := testing.AllocsPerRun(200, c.fn); n != 0 {
			t.Errorf("%s: %.1f allocations per run, want 0", c.name, n)
		}
	}
}
