package core

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Table owns a ring's records. Records are created on demand and never
// freed while the table lives; the index of a record is its slot, so the
// in-flight table is the record slice itself and a record whose op is in
// flight is reachable from it, with its buffers, until completion.
type Table struct {
	Driver Driver
	// Hinter is Driver as a WaitHinter, if it is one (set with Driver);
	// Waiting costs one nil check without it.
	Hinter WaitHinter
	// Check turns on checked ownership for write buffers: each is
	// checksummed at submission and again at completion, and a mismatch
	// panics naming the operation and where it was submitted (see
	// checkWrite). Set before the first Submit.
	Check bool

	mu      sync.Mutex                // serialises growth only
	free    atomic.Uint64             // the free records: a lock-free stack (see Get)
	records atomic.Pointer[[]*Record] // append-only; published after growth

	submitted, completed, canceled, racesLost atomic.Uint64

	// The calls without a record (see Counters): the sources counting
	// them now, and what retired ones counted, by mechanism.
	srcMu   sync.Mutex
	sources map[*Counters]struct{}
	retired [mechCount]callCounts
}

// Mech is a mechanism that serves an operation without a record (see the
// aio package's mechanism.go).
type Mech uint8

const (
	// MechDirect: the caller's own system call, done at once or waiting
	// in the kernel in the caller's thread (a write os.File would make).
	MechDirect Mech = iota
	// MechReadiness: the caller's non-blocking system call, parking in
	// Go's netpoller while it would wait.
	MechReadiness
	mechCount
)

// Stats are a table's counters. Direct, Readiness and Driver say which
// mechanism served the operations submitted (see the aio package's
// mechanism.go); they add up to Submitted.
type Stats struct {
	Submitted, Completed, Canceled, InFlight uint64
	CancelRacesLost                          uint64
	Direct, Readiness, Driver                uint64
}

// NewTable returns an empty table; set Driver before the first Submit.
func NewTable() *Table {
	t := &Table{}
	recs := make([]*Record, 0, 64)
	t.records.Store(&recs)
	return t
}

// Get hands out a record for a new operation, with a new generation.
//
// The free records form a stack with no lock, so that no lock is taken
// per operation: free holds a tag (bumped by every change, so that a
// record popped and pushed back meanwhile never makes a stale
// compare-and-swap succeed) and the top record's index plus one (0: the
// stack is empty); each free record's nextFree holds the one below it.
// Only growth takes mu.
func (t *Table) Get() *Record {
	var r *Record
	for {
		h := t.free.Load()
		top := uint32(h)
		if top == 0 {
			r = t.grow()
			break
		}
		cand := (*t.records.Load())[top-1]
		next := cand.nextFree.Load()
		if t.free.CompareAndSwap(h, (h>>32+1)<<32|uint64(next)) {
			r = cand
			break
		}
	}
	s := r.state.Load()
	if s&stSubmitted != 0 && s&stCompleted == 0 {
		r.inconsistent("handed out while in flight", s)
	}
	r.state.Store(uint64(uint32(s>>genShift)+1) << genShift)
	return r
}

// grow makes a new record.
func (t *Table) grow() *Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	recs := *t.records.Load()
	r := &Record{Index: uint32(len(recs)), table: t, Wake: make(chan struct{}, 1)}
	recs = append(recs, r) // may copy: readers keep using the old slice, whose entries are the same
	t.records.Store(&recs)
	return r
}

// Put returns a record to the table. It must have completed (and its
// result been read), or never have been submitted.
func (t *Table) Put(r *Record) {
	s := r.state.Load()
	if s&stSubmitted != 0 && s&stCompleted == 0 {
		r.inconsistent("put while in flight", s)
	}
	r.Buf, r.Path, r.Path2, r.Len, r.Src, r.Addr, r.AddrLen, r.Notify, r.FileRefs, r.RingRefs, r.Handle, r.DriverData = nil, nil, nil, 0, 0, nil, 0, nil, nil, nil, nil, nil
	r.Fixed, r.BufIndex, r.Hold, r.HoldSlot = false, 0, nil, 0
	r.summed = false
	r.Barrier = nil
	r.stack = r.stack[:0]
	for {
		h := t.free.Load()
		r.nextFree.Store(uint32(h))
		if t.free.CompareAndSwap(h, (h>>32+1)<<32|uint64(r.Index+1)) {
			return
		}
	}
}

// Lookup finds the record a driver identifier names. An identifier that
// names no record in flight is a driver bug: completions are never
// invented or duplicated.
func (t *Table) Lookup(id uint64) *Record {
	recs := *t.records.Load()
	idx := uint32(id)
	if int(idx) >= len(recs) {
		panic(fmt.Sprintf("aio: inconsistent completion: unknown op index %d", idx))
	}
	r := recs[idx]
	s := r.state.Load()
	if uint32(s>>genShift) != uint32(id>>32) || s&stSubmitted == 0 || s&stCompleted != 0 {
		r.inconsistent(fmt.Sprintf("completion for gen %d not in flight", uint32(id>>32)), s)
	}
	return r
}

// Submit hands r to the driver. On error nothing was submitted: the
// caller still owns r (and must Put it) and its buffers.
func (t *Table) Submit(r *Record) error {
	p := t.prepare(r)
	if err := t.Driver.Submit(r); err != nil {
		t.revert(r, p)
		return err
	}
	t.recheck(r, p)
	return nil
}

// Prepared is what Submit remembers of a record between marking it
// submitted and the driver taking it: its state before, and its refs,
// read while the record could not yet complete and be reused.
type Prepared struct {
	state              uint64
	fileRefs, ringRefs *Refs
}

// SubmitBatch hands recs to the driver together: one system call for all
// of them where the driver can (BatchSubmitter). It returns how many were
// submitted, in order; the rest, on error, were not, and the caller still
// owns them as after a failed Submit. scratch is reused if big enough.
func (t *Table) SubmitBatch(recs []*Record, scratch []Prepared) (int, []Prepared, error) {
	states := scratch[:0]
	for _, r := range recs {
		states = append(states, t.prepare(r))
	}
	var n int
	var err error
	if bs, ok := t.Driver.(BatchSubmitter); ok {
		n, err = bs.SubmitBatch(recs)
	} else {
		for n = 0; n < len(recs); n++ {
			if err = t.Driver.Submit(recs[n]); err != nil {
				break
			}
		}
	}
	for i := n; i < len(recs); i++ {
		t.revert(recs[i], states[i])
	}
	for i := 0; i < n; i++ {
		t.recheck(recs[i], states[i])
	}
	return n, states, err
}

// prepare marks r submitted, before the kernel can see it.
func (t *Table) prepare(r *Record) Prepared {
	s := r.state.Load()
	if s&(stSubmitted|stCompleted) != 0 {
		r.inconsistent("submitted twice", s)
	}
	if trackStacks.Load() || t.Check {
		r.stack = append(r.stack[:0], make([]uintptr, 32)...)
		r.stack = r.stack[:runtime.Callers(4, r.stack)]
	}
	if t.Check {
		r.sumWrite()
	}
	r.pinBuffers()
	if r.Barrier != nil { // a sync called from now on waits for this write
		r.barrierEpoch = r.Barrier.Enter()
	}
	// Set before the kernel can see the request: its completion must find
	// it. An Or, not a store: a Cancel may set stCancelRequested meanwhile
	// (see Cancel), which recheck then passes on.
	s = r.state.Or(stSubmitted)
	live.Add(1)
	t.submitted.Add(1) // before the completion can be counted
	return Prepared{s, r.FileRefs, r.RingRefs}
}

// revert undoes prepare for a record the driver did not take.
func (t *Table) revert(r *Record, p Prepared) {
	t.submitted.Add(^uint64(0))
	live.Add(-1)
	r.pin.Unpin()
	r.summed = false
	r.state.Store(p.state)
	if h := r.Hold; h != nil { // the kernel never saw Buf
		r.Hold, r.Fixed = nil, false
		h.Done(r.HoldSlot, h.Unhold(r.HoldSlot))
	}
	if b := r.Barrier; b != nil {
		r.Barrier = nil
		b.Exit(r.barrierEpoch)
	}
}

// recheck runs after the driver took r. A cancel (explicit, or a Close of
// the file or ring) that raced with submission may have reached the kernel
// before the request did and matched nothing; ask again now that the
// request is there. A duplicate cancel is harmless; a stale one (gen moved
// on: r completed and was reused) is skipped.
func (t *Table) recheck(r *Record, p Prepared) {
	gen := uint32(p.state >> genShift)
	s := r.state.Load()
	if uint32(s>>genShift) != gen || s&stCompleted != 0 {
		return
	}
	if s&stCancelRequested != 0 {
		t.Driver.Cancel(r, idOf(r.Index, gen))
	} else if p.fileRefs != nil && p.fileRefs.Closing() || p.ringRefs != nil && p.ringRefs.Closing() {
		t.Cancel(r, gen)
	}
}

// Cancel requests cancellation of the use gen of r. It never blocks on the
// operation, is idempotent, and does nothing once that use has completed
// or if gen is stale. It reports whether this call made the request.
//
// A use not yet submitted (a Batch's operation between its record and
// its Submit's SubmitBatch, which another goroutine runs) keeps the
// request: its submission passes it to the driver (recheck), so a cancel
// in that window is not lost. (A record that is never submitted, or put
// back, loses the mark at its next Get.)
func (t *Table) Cancel(r *Record, gen uint32) bool {
	for {
		s := r.state.Load()
		if uint32(s>>genShift) != gen || s&(stCompleted|stCancelRequested) != 0 {
			return false
		}
		if r.state.CompareAndSwap(s, s|stCancelRequested) {
			if s&stSubmitted != 0 {
				t.Driver.Cancel(r, idOf(r.Index, gen))
			}
			return true
		}
	}
}

// Complete records the kernel's result for r, releases what the operation
// held and wakes its owner. Drivers call it exactly once per submission.
func (t *Table) Complete(r *Record, res int32) {
	raceAcquire(r)
	var violation string
	if r.summed {
		violation = r.checkWrite()
	}
	r.Res = res
	for {
		s := r.state.Load()
		if s&stSubmitted == 0 || s&stCompleted != 0 {
			r.inconsistent("completed twice or never submitted", s)
		}
		if r.state.CompareAndSwap(s, s|stCompleted) {
			if res == -int32(ecanceled) {
				t.canceled.Add(1)
			} else if s&stCancelRequested != 0 {
				t.racesLost.Add(1)
			}
			break
		}
	}
	t.completed.Add(1)
	live.Add(-1)
	r.pin.Unpin()
	fileRefs, ringRefs, notify := r.FileRefs, r.RingRefs, r.Notify
	hold, holdSlot := r.Hold, r.HoldSlot
	barrier, epoch := r.Barrier, r.barrierEpoch
	var recycle bool
	if hold != nil { // the kernel is done with the buffer (see BufferHold)
		recycle = hold.Unhold(holdSlot)
	}
	// From here on the owner may recycle r at any moment.
	if notify != nil {
		notify.Complete(r)
	} else {
		r.Wake <- struct{}{}
	}
	// After the owner was told, so that a pool hands a buffer released in
	// flight to someone else only once its operation is observably
	// complete.
	if hold != nil {
		hold.Done(holdSlot, recycle)
	}
	// After the owner was told: a sync that waited for this write finds
	// it observably complete (an Op's Completed true).
	if barrier != nil {
		barrier.Exit(epoch)
	}
	// Released only after the owner was told: a Close that sees the refs
	// drained finds every operation on them observably complete (an
	// Op's Done already closed), not merely finished in the kernel.
	if fileRefs != nil {
		fileRefs.Release()
	}
	if ringRefs != nil {
		ringRefs.Release()
	}
	if violation != "" {
		// After the completion, so that nothing waits for it forever if
		// the panic is recovered.
		panic(violation)
	}
}

// Waiting tells the driver, if it wants to know (WaitHinter), that the
// calling goroutine is about to wait for the use gen of r. cancellable
// says whether the waiter may still cancel it. Stale or completed uses
// are not reported.
func (t *Table) Waiting(r *Record, gen uint32, cancellable bool) {
	if t.Hinter == nil {
		return
	}
	s := r.state.Load()
	if uint32(s>>genShift) != gen || s&stSubmitted == 0 || s&stCompleted != 0 {
		return
	}
	t.Hinter.Waiting(r, idOf(r.Index, gen), cancellable)
}

// WaitingWrites tells the driver, if it wants to know (WaitHinter), that
// the calling goroutine is about to wait for every write in flight on fd.
func (t *Table) WaitingWrites(fd int) {
	if t.Hinter != nil {
		t.Hinter.WaitingFD(fd)
	}
}

// Counters count the calls without a record (the caller's own system
// calls: see the aio package's mechanism.go) of one source, a File or
// one direction of a descriptor, by one mechanism. They are the source's
// own, so that no counter shared between goroutines is written per call
// (a cache line bouncing between cores cost a pipe ping-pong a tenth of
// its speed); Stats sums them.
type Counters struct {
	callCounts // first: a source embedding Counters writes these per call
	t          *Table
	m          Mech
}

// callCounts: calls done at once (submitted and completed in one step),
// begun and ended (in flight in between), and of those ended, the
// cancelled ones and those whose cancel lost the race.
//
// serial counts the calls of a source whose calls are serialised (Take,
// Free): bit 0 is set while its one call is in flight, and the rest
// counts the calls made. A serialised call costs its source one atomic
// instruction to begin and one to end, the lock and the counts in one
// word; a lock and separate counts took three or four (a tenth of the CPU
// outside the system calls of a pipe's write and read).
type callCounts struct {
	serial              atomic.Uint64 // first: the one count a serialised call writes
	canceled, racesLost atomic.Uint64
	atOnce, begun       atomic.Uint64
	ended               atomic.Uint64
}

// NewCounters makes the counters of a new source for mechanism m.
func (t *Table) NewCounters(m Mech) *Counters {
	c := new(Counters)
	t.AddCounters(c, m)
	return c
}

// AddCounters makes c, zero and part of its source (so that a source
// costs no allocation of its own for them, and a call finds them beside
// its other state), the counters of that source for mechanism m.
func (t *Table) AddCounters(c *Counters, m Mech) {
	c.t, c.m = t, m
	t.srcMu.Lock()
	if t.sources == nil {
		t.sources = make(map[*Counters]struct{})
	}
	t.sources[c] = struct{}{}
	t.srcMu.Unlock()
}

// Retire folds c's counts into its table's and forgets c. Its source is
// closed: none of its calls is in flight.
func (c *Counters) Retire() {
	t := c.t
	t.srcMu.Lock()
	defer t.srcMu.Unlock()
	if _, ok := t.sources[c]; !ok {
		return
	}
	delete(t.sources, c)
	r := &t.retired[c.m]
	r.atOnce.Add(c.atOnce.Load())
	r.begun.Add(c.begun.Load())
	r.ended.Add(c.ended.Load())
	r.canceled.Add(c.canceled.Load())
	r.racesLost.Add(c.racesLost.Load())
	r.atOnce.Add(c.serial.Load() >> 1) // (none in flight)
}

// Take begins a serialised call of the source: false if one is in
// flight, which the caller must wait for. The call is in flight until
// Free. (A source's calls are either serialised or counted with AtOnce,
// Begin and End, which serialise nothing.)
func (c *Counters) Take() bool {
	s := c.serial.Load()
	return s&1 == 0 && c.serial.CompareAndSwap(s, s|1)
}

// Free ends the serialised call Take began, and lets the next one
// begin. made says the call was made (it counts as submitted and
// completed, and Result says how it ended, if not plainly); a call that
// did nothing (its descriptor was closed first, say) is not counted.
func (c *Counters) Free(made bool) {
	if made {
		c.serial.Add(1) // bit 0 off, one more call
	} else {
		c.serial.Add(^uint64(0)) // bit 0 off
	}
}

// Result counts how a call ended when it was cancelled, or a cancel was
// requested (see End), without counting its end itself (Free, End do).
func (c *Counters) Result(res int32, cancelRequested bool) {
	if res == -int32(ecanceled) {
		c.canceled.Add(1)
	} else if cancelRequested {
		c.racesLost.Add(1)
	}
}

// AtOnce counts a call done at once: submitted and completed in one step.
func (c *Counters) AtOnce() { c.atOnce.Add(1) }

// AtOnceN counts n calls done at once.
func (c *Counters) AtOnceN(n uint64) { c.atOnce.Add(n) }

// Begin counts a call its caller waits for itself (in Go's netpoller, or
// in the kernel in its own thread): submitted now, in flight (and a leak
// if it never ends) until End.
func (c *Counters) Begin() { c.begun.Add(1) }

// End counts the completion of a call begun with Begin, with the
// kernel's result; cancelRequested says whether a cancel was asked for (a
// result other than -ECANCELED then counts as a race the cancel lost).
func (c *Counters) End(res int32, cancelRequested bool) {
	c.Result(res, cancelRequested)
	c.ended.Add(1)
}

// sum adds c's counts to those of its mechanism in by, ended before
// begun, so that a call racing with the reads is never counted as ended
// without having begun.
func (c *callCounts) sum(into *callTotals) {
	into.ended += c.ended.Load()
	into.canceled += c.canceled.Load()
	into.racesLost += c.racesLost.Load()
	into.atOnce += c.atOnce.Load()
	into.begun += c.begun.Load()
	s := c.serial.Load() // the calls made, and the one in flight
	into.atOnce += s >> 1
	into.begun += s & 1
}

type callTotals struct{ atOnce, begun, ended, canceled, racesLost uint64 }

// calls sums the calls without a record, by mechanism.
func (t *Table) calls() (by [mechCount]callTotals) {
	t.srcMu.Lock()
	defer t.srcMu.Unlock()
	for m := range t.retired {
		t.retired[m].sum(&by[m])
	}
	for c := range t.sources {
		c.callCounts.sum(&by[c.m])
	}
	return by
}

// More delivers one result of a multishot operation that stays in flight
// (the kernel said more will come). Drivers call it before the record's
// one Complete, never after.
func (t *Table) More(r *Record, res int32) {
	raceAcquire(r)
	s := r.state.Load()
	if s&stSubmitted == 0 || s&stCompleted != 0 {
		r.inconsistent("more results outside flight", s)
	}
	m, ok := r.Notify.(MoreNotifier)
	if !ok {
		r.inconsistent("more results for a single-shot op", s)
	}
	m.More(r, res)
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	// Completions are read before submissions, so that a completion
	// racing with the reads is never counted without its submission.
	completed, canceled, racesLost := t.completed.Load(), t.canceled.Load(), t.racesLost.Load()
	by := t.calls()
	driver := t.submitted.Load()
	st := Stats{Driver: driver, Completed: completed, Canceled: canceled, CancelRacesLost: racesLost}
	for m, c := range by {
		st.Completed += c.atOnce + c.ended
		st.Canceled += c.canceled
		st.CancelRacesLost += c.racesLost
		switch Mech(m) {
		case MechDirect:
			st.Direct = c.atOnce + c.begun
		case MechReadiness:
			st.Readiness = c.atOnce + c.begun
		}
	}
	st.Submitted = max(driver+st.Direct+st.Readiness, st.Completed)
	st.InFlight = st.Submitted - st.Completed
	return st
}

// callsInFlight is the number of calls without a record in flight.
func (t *Table) callsInFlight() int64 {
	var n int64
	for _, c := range t.calls() {
		n += int64(c.begun) - int64(c.ended)
	}
	return n
}

// InFlight lists a description of every record in flight, with the stack
// that submitted it when stack tracking is on.
func (t *Table) InFlight() []string {
	var out []string
	for _, r := range *t.records.Load() {
		s := r.state.Load()
		if s&stSubmitted == 0 || s&stCompleted != 0 {
			continue
		}
		desc := fmt.Sprintf("op %d gen %d state %#x", r.Index, s>>genShift, s&0xff)
		if at := FormatStack(r.stack); at != "" {
			desc += " submitted at:" + at
		}
		out = append(out, desc)
	}
	return out
}

var (
	live        atomic.Int64 // ops submitted and not completed, all tables
	trackStacks atomic.Bool
	tables      sync.Map // *Table -> struct{}: tables of open rings
)

// Live returns the number of operations in flight in the whole process:
// records, and the calls without a record of the registered tables.
func Live() int64 {
	n := live.Load()
	tables.Range(func(k, _ any) bool {
		n += k.(*Table).callsInFlight()
		return true
	})
	return n
}

// TrackStacks makes Submit record the caller's stack for leak reports.
func TrackStacks(on bool) { trackStacks.Store(on) }

// Register and Unregister keep the set of tables Leaks looks at.
func Register(t *Table)   { tables.Store(t, struct{}{}) }
func Unregister(t *Table) { tables.Delete(t) }

// Leaks describes every operation still in flight in any registered table.
func Leaks() []string {
	var out []string
	tables.Range(func(k, _ any) bool {
		t := k.(*Table)
		out = append(out, t.InFlight()...)
		if n := t.callsInFlight(); n > 0 {
			out = append(out, fmt.Sprintf("%d call(s) without a record (readiness or direct) still waiting", n))
		}
		return true
	})
	return out
}
