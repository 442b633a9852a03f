package core

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// fakeDriver accepts everything and completes only when told to.
type fakeDriver struct {
	mu        sync.Mutex
	inflight  map[uint64]*Record
	cancels   []uint64
	fdCancels []int
	refuse    bool
}

func newFake() (*Table, *fakeDriver) {
	t := NewTable()
	d := &fakeDriver{inflight: map[uint64]*Record{}}
	t.Driver = d
	return t, d
}

func (d *fakeDriver) Name() string                  { return "fake" }
func (d *fakeDriver) Supported(Kind) (bool, string) { return true, "" }
func (d *fakeDriver) Submit(r *Record) error {
	if d.refuse {
		return errors.New("refused")
	}
	r.Handoff()
	d.mu.Lock()
	d.inflight[r.ID()] = r
	d.mu.Unlock()
	return nil
}
func (d *fakeDriver) Cancel(r *Record, id uint64) {
	d.mu.Lock()
	d.cancels = append(d.cancels, id)
	d.mu.Unlock()
}
func (d *fakeDriver) CancelFD(fd int) { d.fdCancels = append(d.fdCancels, fd) }
func (d *fakeDriver) CancelAll()      {}
func (d *fakeDriver) Close() error    { return nil }

// complete completes the op with user_data id, as a reaper would.
func (d *fakeDriver) complete(t *Table, id uint64, res int32) {
	d.mu.Lock()
	delete(d.inflight, id)
	d.mu.Unlock()
	t.Complete(t.Lookup(id), res)
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		p := recover()
		if p == nil {
			t.Fatalf("%s: no panic", what)
		}
		if !strings.Contains(p.(string), "inconsistent") {
			t.Fatalf("%s: panic %q does not say inconsistent", what, p)
		}
	}()
	fn()
}

func TestLifecycle(t *testing.T) {
	tb, d := newFake()
	r := tb.Get()
	r.Kind, r.Buf = KindRead, make([]byte, 8)
	gen := r.Gen()
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	id := r.ID()
	if !tb.Cancel(r, gen) || tb.Cancel(r, gen) {
		t.Fatal("Cancel must request exactly once")
	}
	if len(d.cancels) != 1 || d.cancels[0] != id {
		t.Fatalf("driver cancels %v, want [%d]", d.cancels, id)
	}
	d.complete(tb, id, 8) // the cancel lost the race
	<-r.Wake
	if r.Res != 8 || !r.Completed() {
		t.Fatal("result not recorded")
	}
	if st := tb.Stats(); st.Submitted != 1 || st.Completed != 1 || st.CancelRacesLost != 1 || st.Canceled != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	if tb.Cancel(r, gen) {
		t.Fatal("Cancel after completion requested something")
	}
	mustPanic(t, "second completion", func() { tb.Complete(r, 0) })
	tb.Put(r)
	r2 := tb.Get()
	if r2 != r || r2.Gen() == gen {
		t.Fatalf("record not reused with a new generation (gen %d -> %d)", gen, r2.Gen())
	}
	if tb.Cancel(r2, gen) {
		t.Fatal("a stale generation cancelled a newer use")
	}
	mustPanic(t, "lookup of a stale id", func() { tb.Lookup(id) })
	tb.Put(r2)
}

func TestSubmitRefusedLeavesNothing(t *testing.T) {
	tb, d := newFake()
	d.refuse = true
	r := tb.Get()
	r.Buf = make([]byte, 4)
	if err := tb.Submit(r); err == nil {
		t.Fatal("refused submit returned no error")
	}
	if st := tb.Stats(); st.Submitted != 0 || st.InFlight != 0 || Live() != 0 {
		t.Fatalf("a refused submit was counted: %+v live %d", st, Live())
	}
	tb.Put(r) // allowed: never submitted
}

func TestInconsistentTransitions(t *testing.T) {
	tb, _ := newFake()
	r := tb.Get()
	mustPanic(t, "complete before submit", func() { tb.Complete(r, 0) })
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "submit twice", func() { tb.Submit(r) })
	mustPanic(t, "put while in flight", func() { tb.Put(r) })
	tb.Complete(r, -int32(syscall.ECANCELED))
	<-r.Wake
	if tb.Stats().Canceled != 1 {
		t.Fatal("ECANCELED completion not counted as cancelled")
	}
	tb.Put(r)
}

func TestSubmitSeesClosingAndCancels(t *testing.T) {
	// A Close that began while the op was being submitted must still
	// reach the op: Submit re-checks and cancels it.
	tb, d := newFake()
	var refs Refs
	refs.Acquire()
	refs.StartClose()
	r := tb.Get()
	r.FileRefs = &refs
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	if !r.CancelRequested() || len(d.cancels) != 1 {
		t.Fatal("op submitted during Close was not cancelled")
	}
	d.complete(tb, r.ID(), -int32(syscall.ECANCELED))
	<-r.Wake
	select {
	case <-refs.Drained():
	default:
		t.Fatal("completion did not release the file reference")
	}
	tb.Put(r)
}

func TestRefs(t *testing.T) {
	var c Refs
	for i := range 2 {
		if !c.Acquire() {
			t.Fatalf("Acquire %d failed on an open Refs", i+1)
		}
	}
	if !c.StartClose() {
		t.Fatal("the first StartClose failed")
	}
	if c.StartClose() {
		t.Fatal("a second StartClose succeeded: StartClose must succeed exactly once")
	}
	if c.Acquire() {
		t.Fatal("Acquire succeeded after StartClose")
	}
	select {
	case <-c.Drained():
		t.Fatal("drained with references held")
	default:
	}
	c.Release()
	c.Release()
	<-c.Drained()
	mustPanic(t, "release without acquire", c.Release)

	var empty Refs
	empty.StartClose()
	<-empty.Drained() // closing with nothing held drains at once
}

func TestRefsConcurrent(t *testing.T) {
	for range 200 {
		var c Refs
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c.Acquire() {
					c.Release()
				}
			}()
		}
		c.StartClose()
		<-c.Drained()
		if c.Count() != 0 {
			t.Fatalf("drained with %d references", c.Count())
		}
		wg.Wait()
	}
}

// FuzzLifecycle drives a table through random sequences of get, submit,
// cancel (current and stale generations), complete and put, and checks
// the invariants after every step: stats add up, a cancel only ever
// reaches the driver for an op in flight with the current generation,
// and every submitted op completes exactly once.
func FuzzLifecycle(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 0, 1, 3, 2, 4})
	f.Add([]byte{0, 0, 0, 1, 1, 1, 2, 5, 3, 3, 3, 4, 4, 4})
	f.Fuzz(func(t *testing.T, prog []byte) {
		tb, d := newFake()
		type use struct {
			r         *Record
			gen       uint32
			submitted bool
			completed bool
		}
		var uses []*use
		var stale []use
		completions := 0
		for i, b := range prog {
			var u *use
			if len(uses) > 0 {
				u = uses[int(b>>3)%len(uses)]
			}
			switch b & 7 {
			case 0: // get
				r := tb.Get()
				uses = append(uses, &use{r: r, gen: r.Gen()})
			case 1: // submit
				if u != nil && !u.submitted {
					if err := tb.Submit(u.r); err != nil {
						t.Fatal(err)
					}
					u.submitted = true
				}
			case 2: // cancel the current use
				if u != nil {
					before := len(d.cancels)
					asked := tb.Cancel(u.r, u.gen)
					if asked && (!u.submitted || u.completed) {
						t.Fatalf("step %d: cancel requested for an op not in flight", i)
					}
					if asked != (len(d.cancels) == before+1) {
						t.Fatalf("step %d: Cancel reported %v but driver saw %d", i, asked, len(d.cancels)-before)
					}
				}
			case 3: // complete
				if u != nil && u.submitted && !u.completed {
					res := int32(b >> 4)
					if b&0x80 != 0 {
						res = -int32(syscall.ECANCELED)
					}
					d.complete(tb, u.r.ID(), res)
					<-u.r.Wake
					u.completed = true
					completions++
				}
			case 4: // put
				if u != nil && (!u.submitted || u.completed) {
					tb.Put(u.r)
					stale = append(stale, *u)
					for j := range uses {
						if uses[j] == u {
							uses = append(uses[:j], uses[j+1:]...)
							break
						}
					}
				}
			case 5: // cancel through a stale handle
				for _, s := range stale {
					if tb.Cancel(s.r, s.gen) {
						t.Fatalf("step %d: a stale handle requested a cancel", i)
					}
				}
			}
			st := tb.Stats()
			if st.Completed != uint64(completions) || st.InFlight != st.Submitted-st.Completed {
				t.Fatalf("step %d: stats %+v, %d completions", i, st, completions)
			}
			if st.Canceled+st.CancelRacesLost > st.Completed {
				t.Fatalf("step %d: stats %+v", i, st)
			}
		}
		for _, u := range uses { // finish what is in flight
			if u.submitted && !u.completed {
				d.complete(tb, u.r.ID(), 0)
				<-u.r.Wake
			}
		}
		if st := tb.Stats(); st.InFlight != 0 || Live() != 0 {
			t.Fatalf("left in flight: %+v live %d", st, Live())
		}
	})
}

// multiNotifier records a multishot op's results.
type multiNotifier struct {
	more  []int32
	final []int32
}

func (m *multiNotifier) More(r *Record, res int32) { m.more = append(m.more, res) }
func (m *multiNotifier) Complete(r *Record) {
	m.final = append(m.final, r.Res)
	r.table.Put(r)
}

func TestMore(t *testing.T) {
	tb, d := newFake()
	r := tb.Get()
	m := &multiNotifier{}
	r.Kind, r.Notify = KindAcceptMulti, m
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	id := r.ID()
	tb.More(tb.Lookup(id), 7)
	tb.More(tb.Lookup(id), 8)
	if st := tb.Stats(); st.InFlight != 1 || st.Completed != 0 {
		t.Fatalf("after two More: %+v, want the op still in flight", st)
	}
	d.complete(tb, id, -int32(syscall.ECANCELED))
	if len(m.more) != 2 || m.more[0] != 7 || m.more[1] != 8 || len(m.final) != 1 {
		t.Fatalf("more %v final %v", m.more, m.final)
	}
	mustPanic(t, "More after completion", func() { tb.More(r, 9) })

	// A single-shot op never gets More.
	r = tb.Get()
	r.Kind = KindAccept
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "More for a single-shot op", func() { tb.More(r, 3) })
	d.complete(tb, r.ID(), 3)
	tb.Put(r)
}

// TestFreeListConcurrent: records come from a lock-free stack; under
// concurrent Get and Put no record is ever handed to two holders at
// once, and every record handed out comes back.
func TestFreeListConcurrent(t *testing.T) {
	tab := NewTable()
	const workers, rounds = 8, 20000
	var inUse sync.Map // *Record -> struct{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			held := make([]*Record, 0, 4)
			for i := range rounds {
				r := tab.Get()
				if _, dup := inUse.LoadOrStore(r, struct{}{}); dup {
					t.Errorf("record %d handed out twice at once", r.Index)
					return
				}
				held = append(held, r)
				if len(held) == cap(held) || i == rounds-1 {
					for _, h := range held {
						inUse.Delete(h)
						tab.Put(h)
					}
					held = held[:0]
				}
			}
		}()
	}
	wg.Wait()
	n := len(*tab.records.Load())
	seen := map[uint32]bool{}
	for h := uint32(tab.free.Load()); h != 0; h = (*tab.records.Load())[h-1].nextFree.Load() {
		if seen[h] {
			t.Fatalf("free list has a cycle at record %d", h-1)
		}
		seen[h] = true
	}
	if len(seen) != n {
		t.Fatalf("%d records made, %d back on the free list", n, len(seen))
	}
	t.Logf("%d records served %d gets", n, workers*rounds)
}

// TestCheckWrite: with Check on, a write whose buffer changed between
// submission and completion panics at the completion, after the owner
// was told (nothing is left in flight), naming the operation and where
// it was submitted; an unchanged one does not.
func TestCheckWrite(t *testing.T) {
	tb, d := newFake()
	tb.Check = true
	submit := func(buf []byte) *Record {
		r := tb.Get()
		r.Kind, r.FD, r.Buf = KindWrite, 7, buf
		if err := tb.Submit(r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	buf := []byte("hello, world")
	r := submit(buf)
	d.complete(tb, r.ID(), int32(len(buf)))
	<-r.Wake
	tb.Put(r)

	r = submit(buf)
	buf[0] = 'J'
	var msg string
	func() {
		defer func() { msg, _ = recover().(string) }()
		d.complete(tb, r.ID(), int32(len(buf)))
	}()
	for _, want := range []string{"a write of 12 bytes on fd 7", "changed while the operation was in flight", "TestCheckWrite"} {
		if !strings.Contains(msg, want) {
			t.Errorf("panic %q lacks %q", msg, want)
		}
	}
	if !r.Completed() || tb.Stats().InFlight != 0 {
		t.Error("the write was not completed before the panic")
	}
	<-r.Wake
	tb.Put(r)
	// Reads are not checked (the kernel writes their buffers).
	r = tb.Get()
	r.Kind, r.Buf = KindRead, buf
	if err := tb.Submit(r); err != nil {
		t.Fatal(err)
	}
	buf[1] = 'X'
	d.complete(tb, r.ID(), 1)
}

// BenchmarkCheckCost is what Check adds to each write: the checksum at
// submission and at completion, and the stack of the submitter.
func BenchmarkCheckCost(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(map[int]string{4 << 10: "4KiB", 64 << 10: "64KiB"}[size], func(b *testing.B) {
			r := &Record{Kind: KindWrite, Buf: make([]byte, size)}
			pcs := make([]uintptr, 32)
			b.SetBytes(int64(size))
			for b.Loop() {
				r.sumWrite()
				runtime.Callers(4, pcs)
				if r.checkWrite() != "" {
					b.Fatal("mismatch")
				}
			}
		})
	}
}

// TestCountersSerial: a serialised source's slot is its lock and its
// count. A call in flight is one submitted and not completed; freeing
// the slot completes it, or, for a call that did nothing, forgets it;
// Result adds only how a cancelled call ended; Retire keeps the counts.
func TestCountersSerial(t *testing.T) {
	tb := NewTable()
	var c Counters
	tb.AddCounters(&c, MechReadiness)
	want := func(step string, submitted, completed, inFlight, canceled, lost uint64) {
		t.Helper()
		st := tb.Stats()
		if st.Readiness != submitted || st.Completed != completed || st.InFlight != inFlight ||
			st.Canceled != canceled || st.CancelRacesLost != lost {
			t.Fatalf("%s: Stats = %+v; want readiness %d, completed %d, in flight %d, canceled %d, races lost %d",
				step, st, submitted, completed, inFlight, canceled, lost)
		}
		if got := tb.callsInFlight(); got != int64(inFlight) {
			t.Fatalf("%s: callsInFlight = %d, want %d", step, got, inFlight)
		}
	}
	want("new", 0, 0, 0, 0, 0)
	if !c.Take() {
		t.Fatal("Take failed on a free slot")
	}
	if c.Take() {
		t.Fatal("a second Take succeeded while the slot was held")
	}
	want("taken", 1, 0, 1, 0, 0)
	c.Free(true)
	want("freed, made", 1, 1, 0, 0, 0)
	if !c.Take() {
		t.Fatal("Take failed after Free")
	}
	c.Free(false)
	want("freed, did nothing", 1, 1, 0, 0, 0)
	c.Take()
	c.Result(-int32(ecanceled), true)
	c.Free(true)
	c.Take()
	c.Result(5, true)
	c.Free(true)
	want("a cancelled call and a lost race", 3, 3, 0, 1, 1)

	// Concurrent takers: exactly one holds the slot at a time, and
	// every call is counted once.
	const workers, calls = 4, 1000
	var holders atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				for !c.Take() {
					runtime.Gosched()
				}
				if holders.Add(1) != 1 {
					t.Error("two holders of the slot at once")
				}
				holders.Add(-1)
				c.Free(true)
			}
		}()
	}
	wg.Wait()
	want("after the concurrent calls", 3+workers*calls, 3+workers*calls, 0, 1, 1)
	c.Retire()
	want("retired", 3+workers*calls, 3+workers*calls, 0, 1, 1)
}
