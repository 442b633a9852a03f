package aiotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/waitforit/aio"
)

func init() {
	register("BufferPool/ReadWrite", testPoolReadWrite)
	register("BufferPool/ReleaseInFlightDefersRecycle", testPoolReleaseInFlight)
	register("BufferPool/StaleBuffer", testPoolStaleBuffer)
	register("BufferPool/CloseWaitsForInFlight", testPoolCloseWaits)
	register("BufferPool/CancelStorm", testPoolCancelStorm)
	register("BufferPool/ReleaseBeforeBatchSubmit", testPoolReleaseBeforeSubmit)
}

func newPool(t *testing.T, r *aio.Ring, size, count int) *aio.BufferPool {
	t.Helper()
	p, err := r.NewBufferPool(size, count)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, p)
	return p
}

func getBuffer(t *testing.T, p *aio.BufferPool) aio.Buffer {
	t.Helper()
	b, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Pool buffers work with every kind of read and write, and are aligned
// for O_DIRECT.
func testPoolReadWrite(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f, data := batchFile(t, r, 64<<10)
	p := newPool(t, r, 4096, 8)
	if p.Size() != 4096 || p.Cap() != 8 {
		t.Fatalf("Size, Cap = %d, %d", p.Size(), p.Cap())
	}
	if _, err := r.NewBufferPool(0, 1); err == nil {
		t.Fatal("NewBufferPool(0, 1) succeeded")
	}
	var held []aio.Buffer
	for range p.Cap() {
		b := getBuffer(t, p)
		buf := b.Bytes()
		if len(buf) != 4096 || uintptr(unsafe.Pointer(&buf[0]))%4096 != 0 {
			t.Fatalf("buffer of %d bytes at %p: want 4096, 4096-aligned", len(buf), &buf[0])
		}
		held = append(held, b)
	}
	if _, ok := p.TryGet(); ok {
		t.Fatal("TryGet succeeded with every buffer held")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with every buffer held and ctx done = %v, want context.Canceled", err)
	}

	// Blocking calls, Start calls and a batch, on the pool's memory.
	w := held[0].Bytes()
	fillPattern(w, 1<<20)
	if n, err := f.WriteAtContext(context.Background(), w, 8192); n != 4096 || err != nil {
		t.Fatalf("WriteAtContext = (%d, %v)", n, err)
	}
	copy(data[8192:], w)
	if n, err := f.ReadAtContext(context.Background(), held[1].Bytes()[:100], 8192+7); n != 100 || err != nil || !bytes.Equal(held[1].Bytes()[:100], data[8192+7:8192+107]) {
		t.Fatalf("ReadAtContext of part of a buffer = (%d, %v)", n, err)
	}
	op, err := f.StartReadAt(held[2].Bytes(), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Wait(); n != 4096 || err != nil || !bytes.Equal(held[2].Bytes(), data[4096:8192]) {
		t.Fatalf("StartReadAt = (%d, %v)", n, err)
	}
	b := r.NewBatch()
	ops := make([]*aio.Op, 5)
	for i := range ops {
		if ops[i], err = b.StartReadAt(f, held[3+i].Bytes(), int64(i)*4096); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Submit(); err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		if n, err := op.Wait(); n != 4096 || err != nil || !bytes.Equal(held[3+i].Bytes(), data[i*4096:(i+1)*4096]) {
			t.Fatalf("batched read %d = (%d, %v)", i, n, err)
		}
	}
	for _, b := range held {
		b.Release()
	}
	for range p.Cap() { // every buffer came back
		b, ok := p.TryGet()
		if !ok {
			t.Fatal("TryGet failed after every buffer was released")
		}
		defer b.Release()
	}
}

// Rule 4 for pools: a buffer released while its operation is in flight
// is recycled only after that completion, whatever the outcome.
func testPoolReleaseInFlight(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, pw := pipe(t, r)
	p := newPool(t, r, 64, 1)

	// The read completes with data.
	b := getBuffer(t, p)
	op, err := rd.StartRead(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	if b.Bytes() != nil {
		t.Fatal("Bytes of a released Buffer is not nil")
	}
	if _, ok := p.TryGet(); ok {
		t.Fatal("TryGet handed out a buffer whose read is in flight")
	}
	// A Get waits for the buffer: it may come back only once the read
	// has completed, observably (Done closed), not at Release.
	type got struct {
		b      aio.Buffer
		opDone bool
		err    error
	}
	gets := make(chan got, 1)
	go func() {
		b, err := p.Get(context.Background())
		gets <- got{b, isDone(op), err}
	}()
	if _, err := pw.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	g := <-gets
	if g.err != nil {
		t.Fatal(g.err)
	}
	if !g.opDone {
		t.Fatal("Get returned the buffer while the read into it was in flight")
	}
	if n, err := op.Wait(); n != 5 || err != nil {
		t.Fatalf("read = (%d, %v), want 5 bytes", n, err)
	}
	b2 := g.b
	if !bytes.Equal(b2.Bytes()[:5], []byte("hello")) {
		t.Fatalf("recycled buffer holds %q, want what the read wrote before completing", b2.Bytes()[:5])
	}

	// The read is cancelled.
	op, err = rd.StartRead(b2.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b2.Release()
	if _, ok := p.TryGet(); ok {
		t.Fatal("TryGet handed out a buffer whose read is in flight")
	}
	go func() {
		b, err := p.Get(context.Background())
		gets <- got{b, isDone(op), err}
	}()
	op.Cancel()
	g = <-gets
	if g.err != nil {
		t.Fatal(g.err)
	}
	if !g.opDone {
		t.Fatal("Get returned the buffer while its cancelled read was still in flight")
	}
	if n, err := op.Wait(); !errors.Is(err, aio.ErrCanceled) || n != 0 {
		t.Fatalf("cancelled read = (%d, %v), want ErrCanceled", n, err)
	}
	g.b.Release()
}

// A Buffer is valid from Get to Release only: a stale copy can neither
// see the memory nor release it from its next holder.
func testPoolStaleBuffer(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	p := newPool(t, r, 128, 1)
	b := getBuffer(t, p)
	stale := b
	b.Release()
	mustPanic(t, "second Release", func() { stale.Release() })
	b2 := getBuffer(t, p) // the same memory, handed out again
	if stale.Bytes() != nil {
		t.Fatal("a released Buffer still sees the memory after it was handed out again")
	}
	mustPanic(t, "Release of a stale Buffer", func() { stale.Release() })
	if len(b2.Bytes()) != 128 {
		t.Fatal("the stale Release took the buffer from its new holder")
	}
	mustPanic(t, "Release of the zero Buffer", func() { aio.Buffer{}.Release() })
	if (aio.Buffer{}).Bytes() != nil {
		t.Fatal("the zero Buffer has memory")
	}
	b2.Release()
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	fn()
}

// Close waits for operations on the pool's buffers; afterwards Get fails
// and buffers still held stay usable.
func testPoolCloseWaits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, pw := pipe(t, r)
	p, err := r.NewBufferPool(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	b := getBuffer(t, p)
	op, err := rd.StartRead(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b2 := getBuffer(t, p)
	waiting := make(chan struct{})
	go func() { // Get on an empty pool is woken by Close
		defer close(waiting)
		if _, err := p.Get(context.Background()); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Get on a pool emptied, then closed = %v, want os.ErrClosed", err)
		}
	}()
	closed := make(chan bool)
	go func() {
		p.Close()
		select {
		case <-op.Done():
			closed <- true
		default:
			closed <- false
		}
	}()
	<-waiting
	if _, err := pw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if n, err := op.Wait(); n != 1 || err != nil {
		t.Fatalf("read = (%d, %v)", n, err)
	}
	if !<-closed {
		t.Fatal("BufferPool.Close returned while a read into one of its buffers was in flight")
	}
	if _, ok := p.TryGet(); ok {
		t.Fatal("TryGet succeeded on a closed pool")
	}
	if err := p.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Close = %v, want os.ErrClosed", err)
	}
	// The held buffer still works, as plain memory.
	if _, err := pw.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if n, err := rd.ReadContext(context.Background(), b.Bytes()); n != 1 || err != nil || b.Bytes()[0] != 'y' {
		t.Fatalf("read after Close = (%d, %v)", n, err)
	}
	b.Release()
	b2.Release()
	// Ring.Close closes the ring's pools.
	p2 := newPool(t, r, 64, 1)
	r.Close()
	if _, err := p2.Get(context.Background()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Get after Ring.Close = %v, want os.ErrClosed", err)
	}
}

// Brute force: workers share a pool smaller than their number, read from
// their own pipe into its buffers while a writer and cancels race each
// read, and release buffers before or after completion at random. No
// buffer may be handed out while an operation on it is in flight, and
// every byte written is read exactly once, in order.
func testPoolCancelStorm(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	gcs := gcPressure(t)
	const workers, size = 4, 16
	p := newPool(t, r, size, 3)
	rounds := Scale(1000)

	var mu sync.Mutex
	lastOp := map[*byte]*aio.Op{} // by buffer: the last operation that used it
	var canceled, completed, early atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		rd, pw := pipe(t, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var written, read int64 // positions in this worker's byte stream
			next := func(n int) []byte {
				out := make([]byte, n)
				for i := range out {
					out[i] = byte((written + int64(i)) * 131 >> 3)
				}
				written += int64(n)
				return out
			}
			check := func(got []byte) error {
				for i, c := range got {
					if want := byte((read + int64(i)) * 131 >> 3); c != want {
						return fmt.Errorf("worker %d: byte %d of the stream is %#x, want %#x", w, read+int64(i), c, want)
					}
				}
				read += int64(len(got))
				return nil
			}
			for range rounds {
				b, err := p.Get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				buf := b.Bytes()
				mu.Lock()
				if prev := lastOp[&buf[0]]; prev != nil {
					select {
					case <-prev.Done():
					default:
						t.Error("Get handed out a buffer whose operation is still in flight")
					}
				}
				mu.Unlock()
				op, err := rd.StartRead(buf)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				lastOp[&buf[0]] = op
				mu.Unlock()
				releaseEarly := rng.IntN(2) == 0
				if releaseEarly {
					b.Release()
					early.Add(1)
				}
				switch rng.IntN(3) {
				case 0: // cancel races the data's arrival
					op.Cancel()
					if _, err := pw.Write(next(1 + rng.IntN(size))); err != nil {
						t.Error(err)
						return
					}
				case 1: // the data races the cancel
					if _, err := pw.Write(next(1 + rng.IntN(size))); err != nil {
						t.Error(err)
						return
					}
					op.Cancel()
				default: // nothing to read: only the cancel ends it
					op.Cancel()
				}
				n, err := op.Wait()
				switch {
				case errors.Is(err, aio.ErrCanceled) && n == 0:
					canceled.Add(1)
				case err == nil && n > 0:
					completed.Add(1)
				default:
					t.Errorf("read = (%d, %v)", n, err)
					return
				}
				if releaseEarly {
					// The bytes went into a buffer we gave up; account
					// for them without looking.
					read += int64(n)
				} else {
					if err := check(buf[:n]); err != nil {
						t.Error(err)
					}
					b.Release()
				}
			}
			// What no read took is still in the pipe, in order.
			rest := make([]byte, written-read)
			if len(rest) > 0 {
				got := 0
				for got < len(rest) {
					n, err := rd.ReadContext(context.Background(), rest[got:])
					if err != nil {
						t.Error(err)
						return
					}
					got += n
				}
				if err := check(rest); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d reads completed, %d cancelled, %d buffers released in flight, %d garbage collections; %+v",
		completed.Load(), canceled.Load(), early.Load(), gcs(), r.Stats())
	if canceled.Load() == 0 || completed.Load() == 0 {
		t.Errorf("want both outcomes: %d completed, %d cancelled", completed.Load(), canceled.Load())
	}
}

// A batched operation's buffer is the operation's from its Start call,
// not from its batch's Submit: released in between, it is recycled only
// after the operation completes, however the operation goes (a read
// done at once, a read the driver makes, a write, one that fails at
// Submit because its file closed), so nobody else can have it while the
// kernel may write it. (A Batch once took the buffer at Submit: a
// one-buffer pool handed it out again at once, and the read wrote the
// new holder's bytes.)
func testPoolReleaseBeforeSubmit(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	p := newPool(t, r, 4096, 1)
	for _, c := range []string{"read", "read past the end", "write", "file closed"} {
		f, data := batchFile(t, r, 8192)
		b := r.NewBatch()
		buf := getBuffer(t, p)
		copy(buf.Bytes(), bytes.Repeat([]byte{0xEE}, 4096))
		var op aio.Op
		var err error
		switch c {
		case "read":
			err = b.StartReadAtOp(&op, f, buf.Bytes(), 4096)
		case "read past the end":
			err = b.StartReadAtOp(&op, f, buf.Bytes(), 6144) // half of it: the driver reads it
		case "write":
			err = b.StartWriteAtOp(&op, f, buf.Bytes(), 0)
		case "file closed":
			err = b.StartReadAtOp(&op, f, buf.Bytes(), 0)
		}
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		buf.Release() // allowed: the operation has the buffer until it completes
		if other, ok := p.TryGet(); ok {
			copy(other.Bytes(), bytes.Repeat([]byte{0x55}, 4096))
			t.Fatalf("%s: TryGet handed out the buffer of an operation started and not yet submitted", c)
		}
		if c == "file closed" {
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		b.Submit()
		n, err := op.Wait()
		switch c {
		case "read":
			if n != 4096 || err != nil {
				t.Fatalf("%s = (%d, %v)", c, n, err)
			}
		case "read past the end":
			if n != 2048 || err != nil {
				t.Fatalf("%s = (%d, %v), want the 2048 bytes left", c, n, err)
			}
		case "write":
			if n != 4096 || err != nil {
				t.Fatalf("%s = (%d, %v)", c, n, err)
			}
		case "file closed":
			if !errors.Is(err, os.ErrClosed) {
				t.Fatalf("%s = (%d, %v), want os.ErrClosed", c, n, err)
			}
		}
		// Completed: the buffer is the pool's again (released in flight,
		// it is recycled just after the completion is told).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		next, err := p.Get(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: the buffer did not come back to the pool after its operation completed: %v", c, err)
		}
		if c == "read" && !bytes.Equal(next.Bytes(), data[4096:8192]) {
			t.Fatalf("%s: the buffer does not hold what the read brought", c)
		}
		next.Release()
	}
}
