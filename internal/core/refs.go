package core

import (
	"sync"
	"sync/atomic"
)

// Refs counts the operations that hold a descriptor (or a ring) and makes
// Close wait for them, in the spirit of internal/poll's fdMutex, reduced to
// what completion-based I/O needs:
//
//	bit 63     closing: Close has begun; Acquire fails from then on
//	bits 0-62  operations holding a reference (from Acquire until their
//	           completion, or until Release when submission failed)
//
// The party that observes (closing, 0), whether Close itself or the last
// Release, closes drained exactly once.
type Refs struct {
	state   atomic.Uint64
	once    sync.Once
	drained chan struct{}
}

const refClosing = 1 << 63

func (c *Refs) init() { c.once.Do(func() { c.drained = make(chan struct{}) }) }

// closedChan is drained for refs that nobody waited for before they
// drained: no channel is made for them.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// markDrained closes drained: called once, by the party that observes
// (closing, 0).
func (c *Refs) markDrained() {
	made := false
	c.once.Do(func() { c.drained, made = closedChan, true })
	if !made {
		close(c.drained)
	}
}

// Acquire takes a reference; it fails once closing has begun.
func (c *Refs) Acquire() bool {
	for {
		s := c.state.Load()
		if s&refClosing != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// Release drops a reference taken by Acquire.
func (c *Refs) Release() {
	s := c.state.Add(^uint64(0))
	if s&^refClosing == refClosing-1 { // wrapped below zero
		panic("aio: inconsistent reference count: release without acquire")
	}
	if s == refClosing {
		c.markDrained()
	}
}

// Closing reports whether Close has begun.
func (c *Refs) Closing() bool { return c.state.Load()&refClosing != 0 }

// Count returns the number of references held.
func (c *Refs) Count() uint64 { return c.state.Load() &^ refClosing }

// StartClose marks the refs closing. It reports false if closing had
// already begun (a second Close).
func (c *Refs) StartClose() bool {
	for {
		s := c.state.Load()
		if s&refClosing != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s|refClosing) {
			if s == 0 {
				c.markDrained()
			}
			return true
		}
	}
}

// Drained is closed once closing has begun and no reference is held.
func (c *Refs) Drained() <-chan struct{} {
	c.init()
	return c.drained
}
