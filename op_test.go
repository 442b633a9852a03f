package aio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestOpFinishRacesWatchers races an Op's completion (finish) against a
// Wait, a Done and an OnComplete started at the same moment, and the
// poller that reuses the Op as soon as Completed says so. Whatever the
// order, every watcher returns, sees the result, and sees it only after
// Completed, Done and Wait all agree it has completed; and a reused Op
// starts over with no count left from the previous use. Both orders, a
// watcher that came before the completion and one that came after, must
// occur (counted), or the test proves nothing.
func TestOpFinishRacesWatchers(t *testing.T) {
	rounds := 20000
	if testing.Short() {
		rounds = 3000
	}
	var o Op
	var waited, late int
	var spin atomic.Int64
	errTest := errors.New("test result")
	for i := range rounds {
		if err := o.reuse(nil, 0, nil, nil); err != nil {
			t.Fatalf("round %d: reuse of a completed Op: %v", i, err)
		}
		if err := o.reuse(nil, 0, nil, nil); !errors.Is(err, errOpInUse) {
			t.Fatalf("round %d: reuse of an Op in flight = %v, want errOpInUse", i, err)
		}
		if o.Completed() {
			t.Fatalf("round %d: a fresh use reports Completed", i)
		}
		want := i + 1
		fn := make(chan int, 2)
		var wg sync.WaitGroup
		wg.Add(3)
		start := make(chan struct{})
		go func() { // Wait
			defer wg.Done()
			<-start
			n, err := o.Wait()
			if n != want || err != errTest {
				t.Errorf("round %d: Wait = (%d, %v), want (%d, %v)", i, n, err, want, errTest)
			}
			if !o.Completed() {
				t.Errorf("round %d: Wait returned, Completed is false", i)
			}
			select {
			case <-o.Done():
			default:
				t.Errorf("round %d: Wait returned, Done is not closed", i)
			}
		}()
		// Done: early if it made its channel before the completion.
		var early bool
		go func() {
			defer wg.Done()
			<-start
			ch := o.Done()
			early = ch != closedChan
			<-ch
			if !o.Completed() {
				t.Errorf("round %d: Done closed, Completed is false", i)
			}
			if n := o.n; n != want {
				t.Errorf("round %d: after Done n = %d, want %d", i, n, want)
			}
		}()
		go func() { // OnComplete
			defer wg.Done()
			<-start
			o.OnComplete(func(n int, err error) { fn <- n })
		}()
		finished := make(chan struct{})
		go func() { // the completion, a little later each round
			defer close(finished)
			<-start
			for range i % 256 {
				spin.Add(1)
			}
			o.n, o.err = want, errTest
			o.finish()
		}()
		close(start)
		<-finished
		wg.Wait()
		if early {
			waited++
		} else {
			late++
		}
		if n := <-fn; n != want {
			t.Fatalf("round %d: OnComplete got n = %d, want %d", i, n, want)
		}
		select {
		case n := <-fn:
			t.Fatalf("round %d: OnComplete ran twice (again with %d)", i, n)
		default:
		}
		if !o.Completed() {
			t.Fatalf("round %d: not Completed after finish", i)
		}
	}
	t.Logf("%d rounds: Done asked before the completion %d, after %d", rounds, waited, late)
	if waited == 0 || late == 0 {
		t.Errorf("one order never happened: watched first %d, completed first %d", waited, late)
	}
}

// TestOpPollerReusesAtOnce completes an Op that nobody watches (the
// one-instruction path) and reuses it from a goroutine that polls
// Completed, as an event loop does, then waits on the new use: the
// previous use must leave nothing behind that would let the new Wait
// return early or hang.
func TestOpPollerReusesAtOnce(t *testing.T) {
	rounds := 20000
	if testing.Short() {
		rounds = 3000
	}
	var o Op
	for i := range rounds {
		if err := o.reuse(nil, 0, nil, nil); err != nil {
			t.Fatal(err)
		}
		o.n = i
		go o.finish()
		for !o.Completed() {
		}
		if n, _ := o.Wait(); n != i {
			t.Fatalf("round %d: Wait = %d after Completed", i, n)
		}
		if err := o.reuse(nil, 0, nil, nil); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if n, _ := o.Wait(); n != -i {
				t.Errorf("round %d: Wait of the second use = %d, want %d", i, n, -i)
			}
		}()
		o.n = -i
		o.finish()
		<-done
	}
}

// TestBatchWaitRacesSubmit races a Wait on operations of a batch (which
// submits the batch if they are still in it) against the batch's own
// Submit, on every backend of this system: a cached read done at once and a read
// past the end that goes to the driver. Whoever submits, each completes
// once with its result, the batch is left empty, and no Op is touched by
// a Submit once complete. Both orders are counted and must occur.
func TestBatchWaitRacesSubmit(t *testing.T) {
	backends := []string{"uring", "portable"} // on Linux both must be there, as for every uring test
	if runtime.GOOS != "linux" {
		backends = []string{Probe().Backend} // this system's own (iocp on Windows)
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			r, err := New(Config{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			name := filepath.Join(t.TempDir(), "f")
			data := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rounds := 4000
			if testing.Short() {
				rounds = 500
			}
			b := r.NewBatch()
			var cached, past Op
			buf, end := make([]byte, len(data)), make([]byte, 8)
			var waiterFirst, submitFirst int
			var spin atomic.Int64
			for i := range rounds {
				if err := b.StartReadAtOp(&cached, f, buf, 0); err != nil {
					t.Fatal(err)
				}
				if err := b.StartReadAtOp(&past, f, end, int64(len(data))); err != nil {
					t.Fatal(err)
				}
				inBatch := make(chan bool, 1)
				done := make(chan struct{})
				var ready, start atomic.Bool // both running when the race starts
				go func() {
					defer close(done)
					ready.Store(true)
					for !start.Load() {
					}
					for range i * 37 % 256 { // and the waiter too, in another order
						spin.Add(1)
					}
					inBatch <- cached.state.Load()&opInBatch != 0
					if n, err := cached.Wait(); n != len(data) || err != nil || !bytes.Equal(buf, data) {
						t.Errorf("round %d: cached read = (%d, %v)", i, n, err)
					}
					if n, err := past.Wait(); n != 0 || err != io.EOF {
						t.Errorf("round %d: read past the end = (%d, %v), want (0, EOF)", i, n, err)
					}
				}()
				for !ready.Load() {
				}
				start.Store(true)
				for range i % 256 { // Submit a little later each round
					spin.Add(1)
				}
				if err := b.Submit(); err != nil {
					t.Fatal(err)
				}
				<-done
				if <-inBatch {
					waiterFirst++
				} else {
					submitFirst++
				}
				if n := b.Len(); n != 0 {
					t.Fatalf("round %d: %d operations left in the batch", i, n)
				}
				if cached.state.Load()&opInBatch != 0 || past.state.Load()&opInBatch != 0 {
					t.Fatalf("round %d: a completed Op still marked in its batch", i)
				}
			}
			t.Logf("%d rounds: the waiter came first %d, Submit %d", rounds, waiterFirst, submitFirst)
			if waiterFirst == 0 || submitFirst == 0 {
				t.Errorf("one order never happened: waiter first %d, Submit first %d", waiterFirst, submitFirst)
			}
		})
	}
}
