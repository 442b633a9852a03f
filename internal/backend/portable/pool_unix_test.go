//go:build unix

package portable

import (
	"sync"
	"testing"
	"time"
)

// TestPoolRescuesWaitingWork: with one worker, an operation that waits
// for one queued behind it would wait for good (as an open of a FIFO
// waits for the open of its other end). The pool gives what waits threads
// of its own once its queue has not moved for rescuePeriod, and the extra
// workers leave once the queue is empty, so the bound holds again.
func TestPoolRescuesWaitingWork(t *testing.T) {
	var p pool
	release := make(chan struct{}) // closed by the second operation
	var done sync.WaitGroup
	p.init(1, func(o *op) {
		defer done.Done()
		if o.fd == 0 {
			<-release
		} else {
			close(release)
		}
	})
	a, b := &op{fd: 0}, &op{fd: 1}
	done.Add(2)
	begin := time.Now()
	if !p.push(a) || !p.push(b) {
		t.Fatal("push refused on an open pool")
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatalf("two operations that wait for each other did not finish in 30s on a pool of 1")
	}
	if took := time.Since(begin); took < rescuePeriod {
		t.Errorf("finished after %v, before the rescue period (%v): the bound of 1 did not hold", took, rescuePeriod)
	}
	// The extra worker leaves when it finds the queue empty.
	deadline := time.Now().Add(30 * time.Second)
	for {
		p.mu.Lock()
		n := p.n
		p.mu.Unlock()
		if n <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers 30s after the queue emptied, bound 1", n)
		}
		time.Sleep(time.Millisecond)
	}
	p.close()
}
