//go:build unix

package portable

import "sync"

// pool runs queued operations on at most max worker goroutines, FIFO.
// Workers start on demand and wait for work on a condition variable; they
// exit only at close, which waits for them.
//
// idle counts workers waiting in work.Wait that no push has claimed yet:
// push claims one (idle--) for each Signal, so a Signal never goes to a
// worker another push already woke, and a new worker is started only when
// none is waiting.
type pool struct {
	mu         sync.Mutex
	work       sync.Cond
	head, tail *op
	max, n     int // the bound, workers started
	idle       int
	closed     bool
	exited     sync.WaitGroup
	run        func(*op)
}

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
		p.n++
		p.exited.Add(1)
		go p.worker()
	}
	return true
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
			p.mu.Unlock()
			p.run(o)
			p.mu.Lock()
			continue
		}
		if p.closed {
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
	p.mu.Unlock()
	p.exited.Wait()
}
