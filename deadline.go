package aio

import (
	"sync"
	"time"

	"github.com/waitforit/aio/internal/core"
)

// deadline is one direction's deadline of a socket, implemented as
// cancel-and-wait: when it passes, the operation in flight in that
// direction gets a cancel request (and still completes, honestly), and
// new operations fail at once with os.ErrDeadlineExceeded. Operations in
// one direction are serialised by the caller (as Go's net does), so at
// most one is registered at a time.
type deadline struct {
	mu      sync.Mutex
	table   *core.Table
	timer   *time.Timer
	seq     uint64 // bumped by every set: a timer from an earlier set does nothing
	expired bool   // the deadline has passed
	cur     *core.Record
	curGen  uint32
	fired   bool          // the current operation's cancel came from this deadline
	waker   chan struct{} // a waiter with no operation of its own (see waitBegin)
}

// set moves the deadline; the zero time clears it. A time in the past
// cancels the operation in flight at once.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.expired = false
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expireLocked()
		return
	}
	seq := d.seq
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		if d.seq == seq {
			d.expireLocked()
		}
		d.mu.Unlock()
	})
}

func (d *deadline) expireLocked() {
	d.expired = true
	if d.cur != nil && !d.fired {
		d.fired = true
		d.table.Cancel(d.cur, d.curGen)
	}
	if d.waker != nil {
		select {
		case d.waker <- struct{}{}:
		default:
		}
	}
}

// armed reports whether a deadline is set (passed or not).
func (d *deadline) armed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.timer != nil || d.expired
}

// passed reports whether the deadline has passed.
func (d *deadline) passed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// begin registers the operation just submitted; if the deadline passed
// meanwhile, its cancel is requested now.
func (d *deadline) begin(r *core.Record, gen uint32) {
	d.mu.Lock()
	d.cur, d.curGen, d.fired = r, gen, false
	if d.expired {
		d.fired = true
		d.table.Cancel(r, gen)
	}
	d.mu.Unlock()
}

// end unregisters the operation once it has completed and reports
// whether the deadline asked for its cancel.
func (d *deadline) end() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cur = nil
	return d.fired
}

// waitBegin registers a caller that waits without an operation of its
// own (an accept served by a multishot request): when the deadline
// passes, ch gets a token. It reports whether the deadline has already
// passed, in which case nothing is registered.
func (d *deadline) waitBegin(ch chan struct{}) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expired {
		return true
	}
	d.waker = ch
	return false
}

// waitEnd unregisters the waiter.
func (d *deadline) waitEnd() {
	d.mu.Lock()
	d.waker = nil
	d.mu.Unlock()
}

// stop releases the timer (on Close).
func (d *deadline) stop() {
	d.mu.Lock()
	d.seq++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.mu.Unlock()
}
