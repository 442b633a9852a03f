package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/waitforit/aio"
)

// stormPipes is how many pipes the cancel storm runs on, each with one
// reader and one writer goroutine.
const stormPipes = 16

// stormBacklog bounds the unread bytes in a pipe. It is small, so most
// reads find the pipe empty and block, and a writer never blocks on a
// full pipe (so stopping never waits on one).
const stormBacklog = 256

// streamByte is byte pos of pipe's stream: a multiplicative hash, so a
// lost, duplicated or reordered chunk shows.
func streamByte(pipe int, pos int64) byte {
	return byte((uint64(pos)*0x9e3779b97f4a7c15 + uint64(pipe)*0xbf58476d1ce4e5b9) >> 56)
}

// stormPipe is one pipe of the storm and its counters.
type stormPipe struct {
	id      int
	file    *aio.File // the read end, through the ring (aio)
	osRead  *os.File  // the read end (std)
	osWrite *os.File  // the write end: plain, for both
	written int64     // bytes written; the writer's alone until the run ends
	read    atomic.Int64

	// Outcomes, each counted by its reader alone: completed without a
	// cancel; cancelled; completed with data although the cancel was
	// requested while the op was pending (lost); completed before the
	// cancel was asked for, which made the cancel a no-op (late).
	completed, canceled, lost, late uint64
}

// checkStream verifies that p holds the stream bytes at the pipe's read
// position and advances it.
func (sp *stormPipe) checkStream(p []byte) error {
	pos := sp.read.Load()
	for i, c := range p {
		if want := streamByte(sp.id, pos+int64(i)); c != want {
			return fmt.Errorf("pipe %d: stream byte %d is %#02x, want %#02x (bytes lost, duplicated or reordered)", sp.id, pos+int64(i), c, want)
		}
	}
	sp.read.Add(int64(len(p)))
	return nil
}

// runCancelStorm: reads of 1..64 bytes on 16 pipes; most are cancelled at
// a random moment (at once, after a few yields, or after a random spin)
// while writer goroutines write random-sized chunks at random moments.
// Every outcome is counted: completed, cancelled, cancel lost (the read
// completed with data although its cancel was requested while it was
// pending) or cancel late (it had completed before the cancel was asked).
// After the run the writers close their ends, the readers drain to EOF,
// and every byte written must have been read, in order. The ring's
// Canceled must equal the cancellations seen, and its CancelRacesLost
// cannot exceed the losses seen: from outside, a completion that lands
// between "Done is still open" and Cancel's request looks lost here but
// is, rightly, no race to the ring.
//
// The standard library cannot cancel one read, so its readers use what Go
// code does instead: a read deadline, immediate or a few microseconds
// away ("lost" there means data beat a pending deadline).
func runCancelStorm(rc *runCtx) (runStats, error) {
	pipes := make([]*stormPipe, stormPipes)
	for i := range pipes {
		pr, ar, pw, err := pipe(rc.ring)
		if err != nil {
			return runStats{}, err
		}
		sp := &stormPipe{id: i, file: ar, osRead: pr, osWrite: pw}
		rc.closeFile("storm pipe write end", onceCloser(pw))
		if ar != nil {
			rc.closeFile("storm pipe read end", ar)
		} else {
			rc.closeFile("storm pipe read end", pr)
		}
		pipes[i] = sp
	}
	bufs := make([][64]byte, stormPipes)
	st, err := rc.runWorkers(2*stormPipes, nil, func(w *worker) error {
		if w.id >= stormPipes {
			return stormWriter(w, pipes[w.id-stormPipes])
		}
		sp := pipes[w.id]
		if rc.ring != nil {
			return stormReaderAIO(w, sp, bufs[w.id][:])
		}
		return stormReaderStd(w, sp, bufs[w.id][:])
	})
	if err != nil {
		return st, err
	}
	// Drain: the writers are done; end each stream and read the rest.
	var completed, canceled, lost, late, written uint64
	drainBuf := make([]byte, 4096)
	for _, sp := range pipes {
		sp.osWrite.Close()
		for {
			var n int
			var err error
			if sp.file != nil {
				n, err = sp.file.ReadContext(context.Background(), drainBuf)
			} else {
				n, err = sp.osRead.Read(drainBuf)
			}
			if cerr := sp.checkStream(drainBuf[:n]); cerr != nil {
				return st, cerr
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return st, fmt.Errorf("drain pipe %d: %v", sp.id, err)
			}
		}
		if r := sp.read.Load(); r != sp.written {
			return st, fmt.Errorf("pipe %d: %d bytes written, %d read: bytes lost", sp.id, sp.written, r)
		}
		completed += sp.completed
		canceled += sp.canceled
		lost += sp.lost
		late += sp.late
		written += uint64(sp.written)
	}
	st.extra = map[string]float64{
		"completed": float64(completed), "canceled": float64(canceled),
		"cancel_lost": float64(lost), "cancel_late": float64(late), "bytes": float64(written),
	}
	if rc.ring != nil {
		s := rc.ring.Stats()
		st.extra["ring_races_lost"] = float64(s.CancelRacesLost)
		if s.Canceled != canceled || s.CancelRacesLost > lost {
			return st, fmt.Errorf("ring stats disagree with the outcomes seen: Canceled %d (seen %d), CancelRacesLost %d (seen at most %d)",
				s.Canceled, canceled, s.CancelRacesLost, lost)
		}
	}
	return st, nil
}

// stormWriter writes chunks of 1..64 stream bytes at random moments
// (at once, after a yield, a short spin or a short sleep), keeping the
// backlog bounded.
func stormWriter(w *worker, sp *stormPipe) error {
	var chunk [64]byte
	for !w.stopped() {
		if sp.written-sp.read.Load() >= stormBacklog {
			runtime.Gosched()
			continue
		}
		n := 1 + w.rng.IntN(len(chunk))
		for i := range n {
			chunk[i] = streamByte(sp.id, sp.written+int64(i))
		}
		m, err := sp.osWrite.Write(chunk[:n])
		sp.written += int64(m)
		if err != nil {
			return fmt.Errorf("storm write on pipe %d: %v", sp.id, err)
		}
		switch w.rng.IntN(4) {
		case 0:
			runtime.Gosched()
		case 1:
			w.spin(time.Duration(w.rng.IntN(5000)))
		case 2:
			time.Sleep(time.Duration(w.rng.IntN(20)) * time.Microsecond)
		}
	}
	return nil
}

// stormReaderAIO starts reads and cancels most of them at a random moment.
func stormReaderAIO(w *worker, sp *stormPipe, buf []byte) error {
	for !w.stopped() {
		size := 1 + w.rng.IntN(len(buf))
		t0 := w.now()
		op, err := sp.file.StartRead(buf[:size])
		if err != nil {
			return fmt.Errorf("StartRead on pipe %d: %v", sp.id, err)
		}
		cancelled, late := false, false
		cancel := func() {
			select {
			case <-op.Done():
				late = true
			default:
			}
			op.Cancel()
			cancelled = true
		}
		switch r := w.rng.IntN(8); {
		case r < 2: // let it run: the writer or the end of the run completes it
		case r < 4:
			cancel()
		case r < 6:
			for range 1 + w.rng.IntN(4) {
				runtime.Gosched()
			}
			cancel()
		default:
			w.spin(time.Duration(w.rng.IntN(3000)))
			cancel()
		}
		select {
		case <-op.Done():
		case <-w.stopCh:
			if !cancelled {
				cancel()
			}
		}
		n, err := op.Wait()
		w.hist.record(w.now() - t0)
		w.ops++
		switch {
		case err == nil:
			if n == 0 {
				return fmt.Errorf("pipe %d: read completed with 0 bytes and no error", sp.id)
			}
			if cerr := sp.checkStream(buf[:n]); cerr != nil {
				return cerr
			}
			switch {
			case !cancelled:
				sp.completed++
			case late:
				sp.late++
			default:
				sp.lost++
			}
		case errors.Is(err, aio.ErrCanceled):
			if n != 0 {
				return fmt.Errorf("pipe %d: cancelled read reports %d bytes", sp.id, n)
			}
			if !cancelled {
				return fmt.Errorf("pipe %d: read cancelled although nobody asked: %v", sp.id, err)
			}
			sp.canceled++
		default:
			return fmt.Errorf("pipe %d: read failed: %v", sp.id, err)
		}
	}
	return nil
}

// stormReaderStd is the standard library's version: a deadline instead of
// a cancel. A read left to run gets a 20 ms deadline, so the end of the
// run never waits long for it.
func stormReaderStd(w *worker, sp *stormPipe, buf []byte) error {
	for !w.stopped() {
		size := 1 + w.rng.IntN(len(buf))
		t0 := w.now()
		cancelled := true
		var deadline time.Time
		switch r := w.rng.IntN(8); {
		case r < 2:
			cancelled = false
			deadline = time.Now().Add(20 * time.Millisecond)
		case r < 4:
			deadline = time.Unix(1, 0) // already past: the read is cancelled before it starts
		default:
			deadline = time.Now().Add(time.Duration(w.rng.IntN(3000)))
		}
		if err := sp.osRead.SetReadDeadline(deadline); err != nil {
			return &notApplicable{reason: fmt.Sprintf("pipes have no deadlines here: %v", err)}
		}
		n, err := sp.osRead.Read(buf[:size])
		w.hist.record(w.now() - t0)
		w.ops++
		switch {
		case err == nil:
			if cerr := sp.checkStream(buf[:n]); cerr != nil {
				return cerr
			}
			if cancelled {
				sp.lost++
			} else {
				sp.completed++
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if n != 0 {
				return fmt.Errorf("pipe %d: timed-out read reports %d bytes", sp.id, n)
			}
			sp.canceled++
		default:
			return fmt.Errorf("pipe %d: read failed: %v", sp.id, err)
		}
	}
	return sp.osRead.SetReadDeadline(time.Time{})
}

// cancelIdle is how long the canceller of the idle cancel-latency
// workloads sleeps, on a timer, between the read's start and its cancel.
// (With nothing else to run, Go's scheduler may sleep up to 1 ms for it:
// the netpoller waits in milliseconds. The read is blocked either way.)
const cancelIdle = 200 * time.Microsecond

// pastDeadline is a deadline in the past: setting it wakes a blocked call.
var pastDeadline = time.Unix(1, 0)

// cancelCycle is one way to block a read and cancel it from another
// goroutine (see runCancelLatency).
type cancelCycle struct {
	// arm prepares the next read, in the canceller before the go-ahead:
	// a fresh context, or the deadline cleared.
	arm func() error
	// block is the reader's blocking call. It calls ready just before it
	// blocks (after starting the op, for the Op API).
	block func(ready func()) (int, error)
	// cancel is the canceller's cancel.
	cancel func()
	// check says what is wrong with a cancelled read's outcome.
	check func(n int, err error) error
}

// runCancelLatency measures cancel latency as users see it: a reader
// goroutine blocks reading an empty pipe; the canceller goroutine, which
// gave it the go-ahead, sleeps on a timer (idle, not spinning: its thread
// may sleep too) for about 200 µs, then cancels; the latency is from the
// cancel call to the blocked call's return, both read on one monotonic
// clock. aio cancels with a context given to ReadContext (op false) or
// with Op.Cancel on a StartRead whose Op.Wait blocks the reader (op
// true); the standard library sets a read deadline in the past on an
// *os.File pipe from the canceller, the same way for both.
//
// Every read must end cancelled, with no byte. For aio the ring's
// counters must agree: with the Op API every read was submitted and
// cancelled; with a context, every read that reached the ring's
// mechanisms ended cancelled (a read whose context ended before it
// started, if the reader was slow to run, never reaches them: counted as
// canceled_before_start).
func runCancelLatency(rc *runCtx, op bool) (runStats, error) {
	pp, err := rc.newPipe()
	if err != nil {
		return runStats{}, err
	}
	var buf [64]byte
	var c cancelCycle
	switch {
	case rc.ring == nil:
		r := pp.osR
		c = cancelCycle{
			arm: func() error {
				if err := r.SetReadDeadline(time.Time{}); err != nil {
					return &notApplicable{reason: fmt.Sprintf("pipes have no deadlines here: %v", err)}
				}
				return nil
			},
			block:  func(ready func()) (int, error) { ready(); return r.Read(buf[:]) },
			cancel: func() { r.SetReadDeadline(pastDeadline) },
			check: func(n int, err error) error {
				if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
					return fmt.Errorf("read on an empty pipe past its deadline: n=%d, err=%v; want os.ErrDeadlineExceeded", n, err)
				}
				return nil
			},
		}
	case op:
		f := pp.aioR
		var cur *aio.Op // the reader's op: set before ready, read by the canceller after it
		c = cancelCycle{
			arm: func() error { return nil },
			block: func(ready func()) (int, error) {
				o, err := f.StartRead(buf[:])
				cur = o
				ready()
				if err != nil {
					return 0, fmt.Errorf("StartRead: %w", err)
				}
				return o.Wait()
			},
			cancel: func() {
				if cur != nil {
					cur.Cancel()
				}
			},
			check: func(n int, err error) error {
				if n != 0 || !errors.Is(err, aio.ErrCanceled) {
					return fmt.Errorf("read on an empty pipe, Op.Cancel from another goroutine: n=%d, err=%v; want ErrCanceled", n, err)
				}
				return nil
			},
		}
	default:
		f := pp.aioR
		var ctx context.Context
		var cancel context.CancelFunc
		c = cancelCycle{
			arm: func() error {
				ctx, cancel = context.WithCancel(context.Background())
				return nil
			},
			block:  func(ready func()) (int, error) { ready(); return f.ReadContext(ctx, buf[:]) },
			cancel: func() { cancel() },
			check: func(n int, err error) error {
				if n != 0 || !errors.Is(err, context.Canceled) {
					return fmt.Errorf("ReadContext on an empty pipe, context cancelled from another goroutine: n=%d, err=%v; want context.Canceled", n, err)
				}
				return nil
			},
		}
	}

	var before aio.Stats
	if rc.ring != nil {
		before = rc.ring.Stats()
	}
	st, err := runIdleCancel(rc, c)
	if err != nil || rc.ring == nil {
		return st, err
	}
	s := rc.ring.Stats()
	submitted, canceled := s.Submitted-before.Submitted, s.Canceled-before.Canceled
	switch {
	case op && canceled != st.ops:
		err = fmt.Errorf("ring stats: Canceled %d, but %d reads were cancelled", canceled, st.ops)
	case !op && (canceled != submitted || submitted > st.ops):
		err = fmt.Errorf("ring stats: %d reads submitted and %d cancelled, for %d reads that all ended cancelled", submitted, canceled, st.ops)
	}
	if !op {
		st.extra = map[string]float64{"canceled_before_start": float64(st.ops - submitted)}
	}
	return st, err
}

// runIdleCancel runs c's cycles (see runCancelLatency): worker 0 is the
// canceller, worker 1 the reader.
func runIdleCancel(rc *runCtx, c cancelCycle) (runStats, error) {
	type result struct {
		n    int
		err  error
		done time.Duration
	}
	goAhead := make(chan struct{})
	started := make(chan struct{}, 1)
	results := make(chan result, 1) // the reader never waits to deliver
	ready := func() { started <- struct{}{} }
	return rc.runWorkers(2, nil, func(w *worker) error {
		if w.id == 1 { // the reader: one blocking read per go-ahead
			for {
				select {
				case <-w.stopCh:
					return nil
				case <-goAhead:
				}
				n, err := c.block(ready)
				results <- result{n, err, w.now()}
			}
		}
		for !w.stopped() {
			if err := c.arm(); err != nil {
				return err
			}
			select {
			case goAhead <- struct{}{}:
			case <-w.stopCh:
				return nil
			}
			<-started
			time.Sleep(cancelIdle)
			t0 := w.now()
			c.cancel()
			res := <-results
			w.hist.record(res.done - t0)
			w.ops++
			if err := c.check(res.n, res.err); err != nil {
				return err
			}
		}
		return nil
	})
}

// cancelSettle is how long a cancel-latency cycle lets its read block
// before cancelling it.
const cancelSettle = 10 * time.Microsecond

// runCancelLatencySpin measures the time from a cancel request to the
// completion being observed, for a read blocked on an empty pipe: start
// the read, spin 10 µs, cancel, wait. With aio that is Op.Cancel then
// Op.Wait in one goroutine; the standard library's nearest equivalent is
// a goroutine blocked in Read and SetReadDeadline(past) from another.
// The spinning keeps the canceller's thread awake, which flatters every
// implementation: see runCancelLatency for what users see.
func runCancelLatencySpin(rc *runCtx) (runStats, error) {
	pp, err := rc.newPipe()
	if err != nil {
		return runStats{}, err
	}
	if rc.ring != nil {
		f := pp.aioR
		var buf [64]byte
		st, err := rc.runWorkers(1, nil, func(w *worker) error {
			for !w.stopped() {
				op, err := f.StartRead(buf[:])
				if err != nil {
					return fmt.Errorf("StartRead: %v", err)
				}
				w.spin(cancelSettle)
				t0 := w.now()
				op.Cancel()
				n, err := op.Wait()
				w.hist.record(w.now() - t0)
				w.ops++
				if !errors.Is(err, aio.ErrCanceled) || n != 0 {
					return fmt.Errorf("read on an empty pipe, cancelled: n=%d, err=%v; want ErrCanceled", n, err)
				}
			}
			return nil
		})
		if err == nil {
			if s := rc.ring.Stats(); s.Canceled != st.ops {
				err = fmt.Errorf("ring stats: Canceled %d, but %d reads were cancelled", s.Canceled, st.ops)
			}
		}
		return st, err
	}

	r := pp.osR
	type result struct {
		n    int
		err  error
		done time.Duration
	}
	begin := make(chan struct{})
	results := make(chan result)
	var buf [64]byte
	return rc.runWorkers(2, nil, func(w *worker) error {
		if w.id == 1 { // the reader: one Read per go-ahead
			for {
				select {
				case <-w.stopCh:
					return nil
				case <-begin:
				}
				n, err := r.Read(buf[:])
				results <- result{n, err, w.now()}
			}
		}
		for !w.stopped() {
			if err := r.SetReadDeadline(time.Time{}); err != nil {
				return &notApplicable{reason: fmt.Sprintf("pipes have no deadlines here: %v", err)}
			}
			select {
			case begin <- struct{}{}:
			case <-w.stopCh:
				return nil
			}
			w.spin(cancelSettle)
			t0 := w.now()
			r.SetReadDeadline(pastDeadline)
			res := <-results
			w.hist.record(res.done - t0)
			w.ops++
			if !errors.Is(res.err, os.ErrDeadlineExceeded) || res.n != 0 {
				return fmt.Errorf("read on an empty pipe past its deadline: n=%d, err=%v", res.n, res.err)
			}
		}
		return nil
	})
}
