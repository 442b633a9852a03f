package aio

import (
	"errors"
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
		if err := o.reuse(nil, 0, "read", nil); err != nil {
			t.Fatalf("round %d: reuse of a completed Op: %v", i, err)
		}
		if err := o.reuse(nil, 0, "read", nil); !errors.Is(err, errOpInUse) {
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
		if err := o.reuse(nil, 0, "read", nil); err != nil {
			t.Fatal(err)
		}
		o.n = i
		go o.finish()
		for !o.Completed() {
		}
		if n, _ := o.Wait(); n != i {
			t.Fatalf("round %d: Wait = %d after Completed", i, n)
		}
		if err := o.reuse(nil, 0, "read", nil); err != nil {
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
