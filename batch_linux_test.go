package aio_test

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/waitforit/aio"
)

// TestBatchOneEnter: on io_uring a batch of reads reaches the kernel in
// one io_uring_enter.
func TestBatchOneEnter(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	var err error
	b := r.NewBatch()
	ops := make([]*aio.Op, 32)
	for i := range ops {
		if ops[i], err = b.StartReadAt(f, make([]byte, 4096), int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	e0, _ := aio.SubmitEnters(r)
	if err := b.Submit(); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if n, err := op.Wait(); n != 4096 || err != nil {
			t.Fatalf("= (%d, %v)", n, err)
		}
	}
	e1, _ := aio.SubmitEnters(r) // the owner entered them before they completed
	if e1-e0 != 1 {
		t.Errorf("a batch of %d took %d io_uring_enter calls, want 1", len(ops), e1-e0)
	}
}

// BenchmarkBatchReadAt: one goroutine keeps 32 cached 4 KiB reads in
// flight, started in a Batch submitted every 16 (aiobench's op-32).
func BenchmarkBatchReadAt(b *testing.B) { benchBatchReadAt(b, false) }

// BenchmarkBatchReadAtPool is BenchmarkBatchReadAt into the buffers of a
// registered BufferPool: READ_FIXED instead of READ.
func BenchmarkBatchReadAtPool(b *testing.B) { benchBatchReadAt(b, true) }

func benchBatchReadAt(b *testing.B, pooled bool) {
	name := benchFile(b)
	r := benchRing(b, "uring")
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const depth, every = 32, 16
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	if pooled {
		pool, err := r.NewBufferPool(4096, depth)
		if err != nil || !pool.Registered() {
			b.Fatalf("pool: %v, registered %v", err, pool != nil && pool.Registered())
		}
		defer pool.Close()
		for i := range bufs {
			buf, _ := pool.TryGet()
			bufs[i] = buf.Bytes()
			defer buf.Release()
		}
	}
	ops := make([]aio.Op, depth) // reused: no allocation per read
	live := make([]bool, depth)
	batch := r.NewBatch()
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	e0, _ := aio.SubmitEnters(r)
	i := 0
	for b.Loop() {
		slot := i % depth
		if live[slot] {
			if _, err := ops[slot].Wait(); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.StartReadAtOp(&ops[slot], f, bufs[slot], rng.Int64N(benchFileSize/4096)*4096); err != nil {
			b.Fatal(err)
		}
		live[slot] = true
		if i%every == every-1 {
			batch.Submit()
		}
		i++
	}
	batch.Submit()
	for slot := range ops {
		if live[slot] {
			ops[slot].Wait()
		}
	}
	reportEnters(b, r, e0)
}
