package aiotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

func patternByte(off int64) byte { return byte(off*131 + off>>9) }

func fillPattern(p []byte, off int64) {
	for i := range p {
		p[i] = patternByte(off + int64(i))
	}
}

func checkPattern(t testing.TB, p []byte, off int64) {
	t.Helper()
	for i := range p {
		if p[i] != patternByte(off+int64(i)) {
			t.Fatalf("byte at offset %d = %#x, want %#x", off+int64(i), p[i], patternByte(off+int64(i)))
		}
	}
}

// patternFile creates a file of size bytes holding the pattern and opens
// it through r for reading and writing.
func patternFile(t *testing.T, r *aio.Ring, size int) *aio.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "data")
	buf := make([]byte, size)
	fillPattern(buf, 0)
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, f)
	return f
}

func isClosedErr(err error) bool { return errors.Is(err, os.ErrClosed) }

// wantPathErr checks err is a *fs.PathError matching every target.
func wantPathErr(t testing.TB, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want one matching %v", what, targets)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T) is not a *fs.PathError", what, err, err)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("%s: error %q does not match %v", what, err, target)
		}
	}
}

// wantOpErr checks err is a *net.OpError for op matching every target.
func wantOpErr(t testing.TB, what, op string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want one matching %v", what, targets)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Errorf("%s: error %v (%T) is not a *net.OpError", what, err, err)
	} else if op != "" && oe.Op != op {
		t.Errorf("%s: *net.OpError.Op = %q, want %q", what, oe.Op, op)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("%s: error %q does not match %v", what, err, target)
		}
	}
}

// isDone reports whether op has completed, without blocking.
func isDone(op *aio.Op) bool {
	select {
	case <-op.Done():
		return true
	default:
		return false
	}
}

// sentinelByte fills buffers whose untouched bytes a case checks.
const sentinelByte = 0xEE

// sentinel returns n bytes of sentinelByte.
func sentinel(n int) []byte { return bytes.Repeat([]byte{sentinelByte}, n) }

// resetSentinel fills p with sentinelByte again.
func resetSentinel(p []byte) {
	for i := range p {
		p[i] = sentinelByte
	}
}

// untouched reports whether every byte of p is still sentinelByte.
func untouched(p []byte) bool {
	for _, c := range p {
		if c != sentinelByte {
			return false
		}
	}
	return true
}

// waitInFlight polls (bounded) until r has at least n operations in
// flight: submitted, not completed. A case that cancels after it knows its
// operation has reached the backend races the cancel against the
// operation in flight, not against its start.
func waitInFlight(t testing.TB, r *aio.Ring, n uint64) {
	t.Helper()
	if !pollInFlight(r, n, nil) {
		t.Fatalf("never %d operations in flight: %+v", n, r.Stats())
	}
}

// pollInFlight is waitInFlight that also gives up, returning false, when
// stop is closed (the operation ended before it was seen in flight) or
// after 10 seconds.
func pollInFlight(r *aio.Ring, n uint64, stop <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().InFlight < n {
		select {
		case <-stop:
			return false
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// waitSubmitted polls (bounded) until the ring has submitted n operations.
func waitSubmitted(t *testing.T, r *aio.Ring, n uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Submitted < n {
		if time.Now().After(deadline) {
			t.Fatalf("operation never submitted: %+v", r.Stats())
		}
		runtime.Gosched()
	}
}

// tally counts the outcomes of a stress case's rounds.
type tally struct {
	rounds int
	order  []string
	counts map[string]int
}

func (x *tally) add(outcome string) {
	if x.counts == nil {
		x.counts = map[string]int{}
	}
	if _, ok := x.counts[outcome]; !ok {
		x.order = append(x.order, outcome)
	}
	x.counts[outcome]++
}

func (x *tally) get(outcome string) int { return x.counts[outcome] }

func (x *tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d rounds:", x.rounds)
	for i, o := range x.order {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %d %s", x.counts[o], o)
	}
	return b.String()
}

// driveCap bounds a race case that has not yet seen every outcome it
// names: it goes on for up to driveFactor times its rounds (at least
// driveFloor rounds: some outcomes come once in a thousand rounds on some
// backends, -short or not), or driveTime, whichever comes first, and then
// fails with its counts.
const (
	driveFactor = 20
	driveFloor  = 10000
	driveTime   = 2 * time.Minute
)

// drive runs round(i) rounds times, then keeps going until every outcome
// in want has been observed or the cap (driveFactor × rounds or
// driveFloor, driveTime) is reached. round returns the outcome of its
// round: one of want (or a name that begins with one of want, to count a
// kind of it apart), or any other name worth counting. drive logs the
// counts and fails the test naming each wanted outcome never observed.
func drive(t *testing.T, rounds int, want []string, round func(i int) string) *tally {
	t.Helper()
	x := &tally{}
	start := time.Now()
	missing := func() []string {
		var m []string
	wanted:
		for _, w := range want {
			for o, n := range x.counts {
				if n > 0 && strings.HasPrefix(o, w) {
					continue wanted
				}
			}
			m = append(m, w)
		}
		return m
	}
	for i := 0; ; i++ {
		if i >= rounds && (len(missing()) == 0 || i >= max(driveFactor*rounds, driveFloor) || time.Since(start) > driveTime) {
			break
		}
		o := round(i)
		x.rounds++
		x.add(o)
		if t.Failed() {
			break
		}
	}
	t.Logf("%v", x)
	if m := missing(); len(m) > 0 && !t.Failed() {
		t.Errorf("outcomes never observed in %d rounds (%v): %s", x.rounds, time.Since(start).Round(time.Millisecond), strings.Join(m, ", "))
	}
	return x
}

// gcPressure keeps the garbage collector running through the rest of the
// test: the contract holds with the GC running at every step (rule 8). A
// goroutine runs one collection after another, a moment apart, churning
// short-lived garbage meanwhile. It returns a function that reports how many collections
// have run so far.
func gcPressure(t *testing.T) func() uint32 {
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := numGC()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var keep [][]byte
		for i := 0; !stop.Load(); i++ {
			for range 64 {
				keep = append(keep, make([]byte, 512+i%4096))
			}
			keep = keep[:0]
			runtime.GC()
			time.Sleep(20 * time.Microsecond) // pacing, not synchronization
		}
	}()
	t.Cleanup(func() {
		stop.Store(true)
		wg.Wait()
	})
	return func() uint32 { return numGC() - start }
}

// numGC is the number of garbage collections the process has completed.
func numGC() uint32 {
	var st debug.GCStats
	debug.ReadGCStats(&st)
	return uint32(st.NumGC)
}

// countHandles counts the descriptors (Linux: /proc/self/fd) or handles
// (Windows: GetProcessHandleCount) the process holds; ok is false where
// there is no way to count them.
func countHandles() (n int, ok bool) { return openHandles() }

// handleLeakCheck takes a count of the process's descriptors now (and
// stops the garbage collector until the test ends) and returns a
// function that, at the end of a case (with everything the case
// made closed), polls (bounded) for the count to come back to at most
// what it was, plus slack (handles the runtime may keep for threads it
// started meanwhile, on Windows), and fails if it does not.
func handleLeakCheck(t *testing.T) func(what string) {
	t.Helper()
	// Go's netpoller opens its own descriptors on first use: make sure
	// that has happened before counting.
	if pr, pw, err := os.Pipe(); err == nil {
		pr.Close()
		pw.Close()
	}
	// No collections until the case ends: a descriptor that only a
	// finalizer would close (an *os.File the library dropped) stays
	// open, so that a leak shows in the count.
	old := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	before, ok := countHandles()
	if !ok {
		t.Logf("no way to count descriptors on %s: leaks are checked at the peer only", runtime.GOOS)
		return func(string) {}
	}
	return func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, _ := countHandles()
			if n <= before+handleSlack {
				t.Logf("%s: %d descriptors, %d before", what, n, before)
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %d descriptors open, %d before: leaked", what, n, before)
				return
			}
			runtime.Gosched()
		}
	}
}

// coldFile creates a file of size bytes holding the pattern, evicts it
// from the page cache where the system lets it (see evict), and opens it
// through r. It returns the File and the file's name, to evict it again.
func coldFile(t *testing.T, r *aio.Ring, size int) (*aio.File, string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "cold")
	buf := make([]byte, size)
	fillPattern(buf, 0)
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	switch resident, err := evict(name); {
	case err != nil:
		t.Fatal(err)
	case resident < 0:
		t.Logf("no way to evict a file from the cache on %s: its reads may not wait for the disk", runtime.GOOS)
	case resident > 0:
		t.Logf("%d pages of %s stay cached after eviction (tmpfs?): its reads may not wait for the disk", resident, name)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, f)
	return f, name
}

// busyBackend keeps n goroutines writing and syncing files through r
// until the returned function is called (or the test ends): the
// backend's threads for blocking calls (workers, io-wq) are busy, so
// operations queue behind them.
func busyBackend(t *testing.T, r *aio.Ring, n int) (stop func()) {
	var quit atomic.Bool
	var wg sync.WaitGroup
	dir := t.TempDir()
	for i := range n {
		f, err := r.Open(context.Background(), filepath.Join(dir, fmt.Sprint("load", i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			buf := make([]byte, 64<<10)
			for k := 0; !quit.Load(); k++ {
				if _, err := f.WriteAt(buf, int64(k%16)*int64(len(buf))); err != nil {
					t.Error(err)
					return
				}
				if err := f.Sync(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			quit.Store(true)
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// leftBehind reads the n bytes that a read the case saw cancelled must
// have left in the stream. It gives up after 10 seconds and fails: a
// cancelled read that took them reported less than it moved (rule 2).
func leftBehind(t *testing.T, rd *aio.File, n int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, n)
	got := 0
	for got < n {
		m, err := rd.ReadContext(ctx, buf[got:])
		got += m
		if err != nil {
			t.Fatalf("the %d bytes a cancelled read left in the stream: got %d (%v); did it take them?", n, got, err)
		}
	}
	return buf
}

// waitOp is op.Wait, bounded: an operation that has not completed after
// 30 seconds fails the case (a lost completion) instead of hanging it.
func waitOp(t *testing.T, op *aio.Op) (int, error) {
	t.Helper()
	select {
	case <-op.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("an operation has not completed after 30s: was its completion lost?")
	}
	return op.Wait()
}

// closeAtEnd closes each of cs, in order, at the end of the test,
// bounded: a Close that waits for operations that never complete (a lost
// completion) fails the test instead of hanging the run. All the Closes
// of one test share one 30-second bound.
func closeAtEnd(t *testing.T, cs ...io.Closer) {
	b, loaded := closeBounds.LoadOrStore(t, new(closeBound))
	if !loaded { // cleanups run last-in first-out: this one after every Close
		t.Cleanup(func() { closeBounds.Delete(t) })
	}
	bound := b.(*closeBound)
	t.Cleanup(func() {
		bound.once.Do(func() { bound.deadline = time.Now().Add(30 * time.Second) })
		for _, c := range cs {
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				c.Close()
			}()
			select {
			case <-closed:
			case <-time.After(time.Until(bound.deadline)):
				t.Errorf("%T.Close has not returned after 30s: operations that never complete?", c)
			}
		}
	})
}

// closeBound is the deadline the Closes of one test share.
type closeBound struct {
	once     sync.Once
	deadline time.Time
}

var closeBounds sync.Map // *testing.T -> *closeBound
