//go:build unix

package portable

import (
	"sync"
	"time"
)

// pool runs queued operations on at most max worker goroutines, FIFO,
// while they make progress. Workers start on demand and wait for work on
// a condition variable; they exit at close, which waits for them.
//
// idle counts workers waiting in work.Wait that no push has claimed yet:
// push claims one (idle--) for each Signal, so a Signal never goes to a
// worker another push already woke, and a new worker is started only when
// none is waiting.
//
// A bound alone can deadlock where os does not: an open of a FIFO blocks
// until its other end is opened, so max opens of FIFOs for reading
// block every worker while the opens for writing that would free them
// wait in the queue (Go's os gives each blocking call a thread of its
// own). So when work is queued and no worker has taken any for a whole
// rescuePeriod, the bound is protecting nothing: the pool starts a worker
// for each operation queued, as os would have a thread for each, up to
// hardMax workers in all. An extra worker exits once it finds the queue
// empty. The period is long beside a disk's slowest answers (a fsync
// storm must not erode the bound) and short beside a deadlock.
type pool struct {
	mu         sync.Mutex
	work       sync.Cond
	head, tail *op
	max, n     int // the bound, workers started
	idle       int
	closed     bool
	exited     sync.WaitGroup
	run        func(*op)

	// The rescue (see above): taken counts the operations workers have
	// taken off the queue; while work waits and every worker is busy,
	// the timer runs (armed), and takenAt is taken when it was set.
	taken   uint64
	rescue  *time.Timer
	armed   bool
	takenAt uint64
}

// rescuePeriod is how long queued work may wait with no worker taking
// any before the pool exceeds its bound; hardMax is how far.
const (
	rescuePeriod = time.Second
	hardMax      = 1024
)

func (p *pool) init(max int, run func(*op)) {
	p.max, p.run = max, run
	p.work.L = &p.mu
}

// push queues o. It reports false, queueing nothing, after close.
func (p *pool) push(o *op) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	o.next, o.prev, o.queued = nil, p.tail, true
	if p.tail != nil {
		p.tail.next = o
	} else {
		p.head = o
	}
	p.tail = o
	switch {
	case p.idle > 0:
		p.idle--
		p.work.Signal()
	case p.n < p.max:
		p.startLocked()
	default:
		p.armLocked()
	}
	return true
}

func (p *pool) startLocked() {
	p.n++
	p.exited.Add(1)
	go p.worker()
}

// armLocked arms the rescue, unless it is armed.
func (p *pool) armLocked() {
	if p.armed {
		return
	}
	p.armed, p.takenAt = true, p.taken
	if p.rescue == nil {
		p.rescue = time.AfterFunc(rescuePeriod, p.rescueStuck)
	} else {
		p.rescue.Reset(rescuePeriod)
	}
}

// rescueStuck starts a worker for each queued operation, beyond the
// bound, if no worker has taken any since the rescue was armed; it stays
// armed while work waits.
func (p *pool) rescueStuck() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = false
	if p.closed || p.head == nil {
		return
	}
	if p.taken == p.takenAt && p.idle == 0 {
		for o := p.head; o != nil && p.n < hardMax; o = o.next {
			p.startLocked()
		}
	}
	p.armLocked()
}

// remove takes o out of the queue; it reports false if o was not queued
// (a worker has it, or it was never queued).
func (p *pool) remove(o *op) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !o.queued {
		return false
	}
	p.unlinkLocked(o)
	return true
}

func (p *pool) unlinkLocked(o *op) {
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		p.head = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	} else {
		p.tail = o.prev
	}
	o.next, o.prev, o.queued = nil, nil, false
}

func (p *pool) worker() {
	defer p.exited.Done()
	p.mu.Lock()
	for {
		if o := p.head; o != nil {
			p.unlinkLocked(o)
			p.taken++
			p.mu.Unlock()
			p.run(o)
			p.mu.Lock()
			continue
		}
		if p.closed || p.n > p.max { // (an extra worker: see pool)
			p.n--
			p.mu.Unlock()
			return
		}
		p.idle++
		p.work.Wait() // woken by a push (which claimed us) or by close
	}
}

// close makes the workers exit once the queue is empty and waits for them.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.idle = 0
	p.work.Broadcast()
	if p.rescue != nil {
		p.rescue.Stop() // (one that runs anyway finds closed)
	}
	p.mu.Unlock()
	p.exited.Wait()
}
