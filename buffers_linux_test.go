package aio_test

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

// On io_uring a pool's memory is registered and reads and writes on it
// become READ_FIXED/WRITE_FIXED when they go through the owner's ring
// (Start calls of uncached data here: blocking calls and cached reads are
// done at once without it); other memory stays on READ/WRITE. Two
// pools live at once under different table entries, and a closed pool's
// entry is reused.
func TestBufferPoolFixedOps(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	fixed := func() uint64 {
		n, ok := aio.FixedOpsForTest(r)
		if !ok {
			t.Fatal("the uring backend does not count fixed operations")
		}
		return n
	}
	p1, err := r.NewBufferPool(4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := r.NewBufferPool(8192, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !p1.Registered() || !p2.Registered() {
		t.Fatalf("pools registered: %v, %v; want both", p1.Registered(), p2.Registered())
	}
	want := make([]byte, 8192)
	for i := range want {
		want[i] = byte(i * 7)
	}
	before := fixed()
	b1, _ := p1.TryGet()
	b2, _ := p2.TryGet()
	copy(b2.Bytes(), want)
	if n, err := wait(f.StartWriteAt(b2.Bytes(), 4096)); n != 8192 || err != nil {
		t.Fatalf("write from pool 2 = (%d, %v)", n, err)
	}
	// Through the owner's ring: a read of cached data is done at once,
	// by preadv2 (see now.go), and an eviction is not sure to take (it
	// once left the page, one run in six), so the reads go through a
	// File that submits every operation.
	aio.DisableTryNowForTest(r)
	g, err := r.Open(context.Background(), f.Name(), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if n, err := wait(g.StartReadAt(b1.Bytes(), 8192)); n != 4096 || err != nil || !bytes.Equal(b1.Bytes(), want[4096:]) {
		t.Fatalf("read into pool 1 = (%d, %v), data equal %v", n, err, bytes.Equal(b1.Bytes(), want[4096:]))
	}
	if got := fixed() - before; got != 2 {
		t.Fatalf("%d fixed operations for one pooled write and one pooled read, want 2", got)
	}
	plain := make([]byte, 4096)
	if n, err := wait(g.StartReadAt(plain, 4096)); n != 4096 || err != nil || !bytes.Equal(plain, want[:4096]) {
		t.Fatalf("plain read = (%d, %v)", n, err)
	}
	if got := fixed() - before; got != 2 {
		t.Fatalf("a read into ordinary memory went fixed (%d fixed operations)", got)
	}
	b1.Release()
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	// After Close the held buffer of p2 still works; a new pool reuses
	// p1's entry.
	p3, err := r.NewBufferPool(4096, 1)
	if err != nil || !p3.Registered() {
		t.Fatalf("third pool: %v, registered %v", err, p3 != nil && p3.Registered())
	}
	b3, _ := p3.TryGet()
	if n, err := wait(g.StartReadAt(b3.Bytes(), 4096)); n != 4096 || err != nil || !bytes.Equal(b3.Bytes(), want[:4096]) {
		t.Fatalf("read into pool 3 = (%d, %v)", n, err)
	}
	if n, err := wait(g.StartReadAt(b2.Bytes(), 4096)); n != 8192 || err != nil || !bytes.Equal(b2.Bytes(), want) {
		t.Fatalf("read into pool 2 = (%d, %v)", n, err)
	}
	if got := fixed() - before; got != 4 {
		t.Fatalf("%d fixed operations, want 4", got)
	}
	b2.Release()
	b3.Release()
}

// A pool's buffers suit O_DIRECT, through the fixed operations.
func TestBufferPoolDirect(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i>>12) ^ byte(i)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	df, err := r.Open(context.Background(), f.Name(), os.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		t.Fatalf("O_DIRECT open of a file in the test's temporary directory: %v", err)
	}
	defer df.Close()
	p, err := r.NewBufferPool(4096, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 8 {
		b, _ := p.TryGet()
		off := int64(i*37%256) * 4096
		if n, err := df.ReadAt(b.Bytes(), off); n != 4096 || err != nil || !bytes.Equal(b.Bytes(), data[off:off+4096]) {
			t.Fatalf("O_DIRECT read at %d = (%d, %v)", off, n, err)
		}
		b.Release()
	}
}

// wait waits for the op a Start call returned.
func wait(op *aio.Op, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return op.Wait()
}
