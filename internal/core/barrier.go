package core

import "sync"

// Barrier orders a file's syncs after its writes, as POSIX aio_fsync
// does: a sync covers every write submitted before it was called, and
// none submitted after. The kernel gives no such order (io_uring's FSYNC
// runs beside writes still in flight), so the File waits for those writes
// before it asks for the sync.
//
// Writes are counted by epoch. A write enters the current epoch when it
// is submitted (Table.prepare, for a record whose Barrier is set, or by
// hand for an operation done at once) and exits it once its owner has
// been told of its completion. A sync that finds writes in flight closes
// the current epoch and waits until every epoch up to it has drained;
// writes submitted meanwhile enter the next epoch, so a stream of writes
// never starves a sync. A sync that finds none in flight waits for
// nothing and costs one lock.
//
// Invariant (under mu): counts holds the epochs that may still have
// writes in flight, in increasing order, and its first entry, if any,
// has n > 0 (entries that drain at the front are dropped at once). So
// "nothing in flight" is len(counts) == 0, and a waiter for epoch t is
// done when counts is empty or starts after t.
type Barrier struct {
	mu      sync.Mutex
	cur     uint64 // the epoch writes enter now
	counts  []epochCount
	waiters []barrierWaiter
}

type epochCount struct {
	epoch uint64
	n     int // writes of this epoch in flight
}

type barrierWaiter struct {
	epoch uint64
	done  chan struct{}
}

// Enter counts a write submitted now and returns its epoch, for Exit.
func (b *Barrier) Enter() uint64 {
	b.mu.Lock()
	e := b.cur
	if n := len(b.counts); n == 0 || b.counts[n-1].epoch != e {
		b.counts = append(b.counts, epochCount{epoch: e})
	}
	b.counts[len(b.counts)-1].n++
	b.mu.Unlock()
	return e
}

// Exit uncounts a write of epoch e: it has completed and its owner knows.
func (b *Barrier) Exit(e uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	for i < len(b.counts) && b.counts[i].epoch != e {
		i++
	}
	if i == len(b.counts) || b.counts[i].n == 0 {
		panic("aio: inconsistent write barrier: exit without enter")
	}
	b.counts[i].n--
	drop := 0
	for drop < len(b.counts) && b.counts[drop].n == 0 {
		drop++
	}
	if drop == 0 {
		return
	}
	b.counts = append(b.counts[:0], b.counts[drop:]...)
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if len(b.counts) == 0 || b.counts[0].epoch > w.epoch {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

// Wait returns nil if no write is in flight, or else a channel closed
// once every write submitted before the call has exited. Writes
// submitted after the call are not waited for.
func (b *Barrier) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.counts) == 0 {
		return nil
	}
	w := barrierWaiter{epoch: b.cur, done: make(chan struct{})}
	b.cur++
	b.waiters = append(b.waiters, w)
	return w.done
}

// InFlight is the number of writes counted and not yet exited.
func (b *Barrier) InFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.counts {
		n += c.n
	}
	return n
}
