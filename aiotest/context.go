package aiotest

// Rule 5: waiting is honest. A blocking call whose context ends requests
// the cancel and still waits for the completion; its result is the real
// outcome.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

func init() {
	register("Rule5/ReadContextCanceledMidFlight", testReadContextCanceledMidFlight)
	register("Rule5/ReadContextRacesWrite", testReadContextRacesWrite)
	register("Rule5/ContextAlreadyDone", testContextAlreadyDone)
	register("Rule5/ContextDeadline", testContextDeadline)
	register("Rule5/CompletedDespiteCancel", testCompletedDespiteCancel)
	register("Rule5/FileReadsRaceContext", testFileReadsRaceContext)
	register("Rule5/FileWritesRaceContext", testFileWritesRaceContext)
}

// outNoCancel: a round of a context race in which the context was never
// cancelled; its call must complete normally.
const outNoCancel = "completed, never cancelled"

// outEndedInFlight: a call that returned after its context ended (it was
// running, in flight, when the cancel came) and completed anyway: it must
// report all its bytes and no error (rule 5). Whatever the mechanism
// (the ring, a worker, the caller's own system call), the outcome is the
// same to the caller.
const outEndedInFlight = "completed though its context ended while it ran"

func testReadContextCanceledMidFlight(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	buf := sentinel(64)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitInFlight(t, r, 1)
		cancel()
	}()
	n, err := rd.ReadContext(ctx, buf)
	if st := r.Stats(); st.InFlight != 0 {
		t.Fatalf("ReadContext returned with the read still in flight: %+v", st)
	}
	if n != 0 {
		t.Fatalf("cancelled ReadContext = %d bytes", n)
	}
	wantPathErr(t, "cancelled ReadContext", err, context.Canceled, aio.ErrCanceled, syscall.ECANCELED)
	w.Write([]byte("after"))
	got := make([]byte, 64)
	if n, err := rd.Read(got); err != nil || string(got[:n]) != "after" {
		t.Fatalf("next Read = (%d, %v) %q", n, err, got[:n])
	}
	if !untouched(buf) {
		t.Fatal("buffer written after ReadContext returned")
	}
}

// testReadContextRacesWrite: a ReadContext waits in flight on an empty
// pipe, then a 1-byte write and the context's cancel race. Every outcome
// is observed: data, data though the context was cancelled (the read
// must then report it, with no error), and cancelled. One round in four
// never cancels and must read its byte. Nothing writes the buffer beyond
// what was reported, and bytes are conserved.
func testReadContextRacesWrite(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	gcs := gcPressure(t)
	rd, w := aioPipe(t, r)
	var bytesRead int
	var bias raceBias
	buf := make([]byte, 64)
	x := drive(t, Scale(1000), []string{outCompleted, outRaceLost, outCanceled, outNoCancel}, func(i int) string {
		resetSentinel(buf)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		noCancel := i%4 == 3
		lost := r.Stats().CancelRacesLost
		var n int
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			n, err = rd.ReadContext(ctx, buf)
		}()
		waitInFlight(t, r, 1)
		write := func() {
			if _, err := w.Write([]byte{'x'}); err != nil {
				t.Error(err)
			}
		}
		if noCancel {
			write()
		} else {
			bias.race(write, cancel).Wait()
		}
		<-done
		// Whatever happens next, nothing may write buf[n:] any more.
		if !untouched(buf[n:]) {
			t.Fatalf("round %d: buffer written beyond the %d bytes reported", i, n)
		}
		switch {
		case err == nil && n == 1 && buf[0] == 'x':
			bytesRead++
			if noCancel {
				return outNoCancel
			}
			bias.observe(false)
			return raceOutcome(r, lost)
		case !noCancel && n == 0 && errors.Is(err, context.Canceled) && errors.Is(err, aio.ErrCanceled):
			bias.observe(true)
			if b := leftBehind(t, rd, 1); b[0] != 'x' {
				t.Fatalf("round %d: after a cancel the pipe held %q", i, b)
			}
			bytesRead++
			return outCanceled
		}
		t.Fatalf("round %d (cancelled: %v): ReadContext = (%d, %v)", i, !noCancel, n, err)
		return ""
	})
	w.Close()
	rest, _ := io.ReadAll(rd)
	t.Logf("%d garbage collections", gcs())
	if bytesRead+len(rest) != x.rounds {
		t.Errorf("written %d != read %d + drained %d", x.rounds, bytesRead, len(rest))
	}
}

func testContextAlreadyDone(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	rd, _ := pipe(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	buf := sentinel(64)
	before := r.Stats()
	_, err := f.ReadAtContext(ctx, buf, 0)
	wantPathErr(t, "ReadAtContext", err, context.Canceled)
	_, err = f.WriteAtContext(ctx, buf, 0)
	wantPathErr(t, "WriteAtContext", err, context.Canceled)
	_, err = rd.ReadContext(ctx, buf)
	wantPathErr(t, "ReadContext", err, context.Canceled)
	_, err = f.WriteContext(ctx, buf)
	wantPathErr(t, "WriteContext", err, context.Canceled)
	wantPathErr(t, "SyncContext", f.SyncContext(ctx), context.Canceled)
	_, err = r.Open(ctx, f.Name(), os.O_RDONLY, 0)
	wantPathErr(t, "Open", err, context.Canceled)
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("calls with a done context submitted %d operations", after.Submitted-before.Submitted)
	}
	if !untouched(buf) {
		t.Error("buffer touched")
	}
	// Op.WaitContext on a submitted op still cancels and waits.
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	n, err := op.WaitContext(ctx)
	if n != 0 || !isDone(op) {
		t.Fatalf("WaitContext = %d, done %v", n, isDone(op))
	}
	wantPathErr(t, "WaitContext", err, context.Canceled, aio.ErrCanceled)
	if !untouched(buf) {
		t.Error("the cancelled read touched its buffer")
	}
}

func testContextDeadline(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, _ := pipe(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	n, err := rd.ReadContext(ctx, make([]byte, 8))
	if n != 0 {
		t.Fatalf("n = %d", n)
	}
	wantPathErr(t, "ReadContext past deadline", err, context.DeadlineExceeded, os.ErrDeadlineExceeded, aio.ErrCanceled)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v is not a net.Error with Timeout()", err)
	}
}

// watchedContext tells, by closing asked, when someone first asks for its
// Done channel: Op.WaitContext does as it starts to wait, so a cancel
// after that ends the context mid-wait.
type watchedContext struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func (c *watchedContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// testCompletedDespiteCancel: Op.WaitContext whose context ends while it
// waits requests the cancel and still waits; a read that completed
// anyway (the cancel lost the race to a write) reports its bytes and no
// error. Every outcome is observed; a round in four never cancels.
func testCompletedDespiteCancel(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	// An op already complete: a done context cannot cancel it.
	w.Write([]byte("data"))
	buf := make([]byte, 4)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	<-op.Done()
	n, err := op.WaitContext(ctx) // requests a cancel that cannot win
	if n != 4 || err != nil || string(buf) != "data" {
		t.Fatalf("WaitContext = (%d, %v) %q; want (4, nil) data", n, err, buf)
	}

	gcs := gcPressure(t)
	var bias raceBias
	buf = make([]byte, 16)
	drive(t, Scale(1000), []string{outCompleted, outRaceLost, outCanceled, outNoCancel}, func(i int) string {
		resetSentinel(buf)
		noCancel := i%4 == 3
		lost := r.Stats().CancelRacesLost
		op, err := rd.StartRead(buf)
		if err != nil {
			t.Fatal(err)
		}
		base, cancel := context.WithCancel(context.Background())
		defer cancel()
		ctx := &watchedContext{Context: base, asked: make(chan struct{})}
		var n int
		done := make(chan struct{})
		go func() {
			defer close(done)
			n, err = op.WaitContext(ctx)
		}()
		<-ctx.asked // WaitContext is waiting
		msg := []byte("abcd")[:1+rand.IntN(4)]
		write := func() {
			if _, err := w.Write(msg); err != nil {
				t.Error(err)
			}
		}
		if noCancel {
			write()
		} else {
			bias.race(write, cancel).Wait()
		}
		<-done
		if !isDone(op) {
			t.Fatalf("round %d: WaitContext returned before the completion", i)
		}
		if !untouched(buf[n:]) {
			t.Fatalf("round %d: buffer written beyond the %d bytes reported", i, n)
		}
		switch {
		case err == nil && n > 0:
			if !bytes.Equal(buf[:n], msg[:n]) {
				t.Fatalf("round %d: read %q, want a prefix of %q", i, buf[:n], msg)
			}
			if n < len(msg) { // the rest of the message is still in the pipe
				if rest := leftBehind(t, rd, len(msg)-n); !bytes.Equal(rest, msg[n:]) {
					t.Fatalf("round %d: read %q, then %q, of %q", i, buf[:n], rest, msg)
				}
			}
			if noCancel {
				return outNoCancel
			}
			bias.observe(false)
			return raceOutcome(r, lost)
		case !noCancel && n == 0 && errors.Is(err, context.Canceled) && errors.Is(err, aio.ErrCanceled):
			bias.observe(true)
			if rest := leftBehind(t, rd, len(msg)); !bytes.Equal(rest, msg) {
				t.Fatalf("round %d: after a cancel the pipe held %q, want %q", i, rest, msg)
			}
			return outCanceled
		}
		t.Fatalf("round %d (cancelled: %v): WaitContext = (%d, %v)", i, !noCancel, n, err)
		return ""
	})
	t.Logf("%d garbage collections", gcs())
}

// testFileReadsRaceContext: reads of a file evicted from the cache (they
// wait for the disk) whose context is cancelled once they are in
// flight. A read the cancel could not stop (it returned after the
// context ended) reports all its bytes and no error (rule 5); one cut short reports the bytes it has, all real, and
// the context's error, with the rest of the buffer untouched. Rounds that
// never cancel must read in full.
func testFileReadsRaceContext(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size, chunk = 8 << 20, 256 << 10
	f, name := coldFile(t, r, size)
	const cut = "cut short by the context"
	buf := make([]byte, chunk)
	var bias raceBias
	drive(t, Scale(200), []string{outEndedInFlight}, func(i int) string {
		if i%(size/chunk) == size/chunk-1 {
			if _, err := evict(name); err != nil {
				t.Fatal(err)
			}
		}
		resetSentinel(buf)
		off := int64(i%(size/chunk)) * chunk
		noCancel := i%4 == 3
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lost := r.Stats().CancelRacesLost
		inFlight := r.Stats().InFlight
		var n int
		var err error
		var returned, canceled time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			n, err = f.ReadAtContext(ctx, buf, off)
			returned = time.Now()
		}()
		if !noCancel {
			pollInFlight(r, inFlight+1, done)
			bias.race(func() {}, func() { cancel(); canceled = time.Now() }).Wait()
		}
		<-done
		checkPattern(t, buf[:n], off)
		if !untouched(buf[n:]) {
			t.Fatalf("round %d: buffer written beyond the %d bytes reported", i, n)
		}
		switch {
		case err == nil && n == chunk:
			if noCancel {
				return outNoCancel
			}
			bias.observe(false)
			if returned.After(canceled) {
				return endedInFlight(r, lost)
			}
			return outCompleted
		case !noCancel && n < chunk && errors.Is(err, context.Canceled):
			bias.observe(true)
			return cut
		}
		t.Fatalf("round %d (cancelled: %v): ReadAtContext = (%d, %v)", i, !noCancel, n, err)
		return ""
	})
}

// testFileWritesRaceContext: WriteAtContext of 256 KiB whose context is
// cancelled once the write is in flight (on the ring, on a worker, or in
// the caller's own thread, as a buffered ext4 write is). n is exactly
// what reached the file: the file holds the new bytes for the first n and
// the old ones after (rule 2), and a write the cancel could not stop (it
// returned after the context ended) reports them all with no error
// (rule 5).
func testFileWritesRaceContext(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size, chunk = 4 << 20, 256 << 10
	f, name := coldFile(t, r, size)
	model := make([]byte, size)
	fillPattern(model, 0)
	check, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	const cut = "cut short by the context"
	buf := make([]byte, chunk)
	back := make([]byte, chunk)
	var bias raceBias
	drive(t, Scale(200), []string{outEndedInFlight}, func(i int) string {
		off := int64(rand.IntN(size/chunk)) * chunk
		fillPattern(buf, off+int64(i)+1) // differs from what is there
		noCancel := i%4 == 3
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lost := r.Stats().CancelRacesLost
		inFlight := r.Stats().InFlight
		var n int
		var err error
		var returned, canceled time.Time
		done := make(chan struct{})
		go func() {
			defer close(done)
			n, err = f.WriteAtContext(ctx, buf, off)
			returned = time.Now()
		}()
		if !noCancel {
			pollInFlight(r, inFlight+1, done)
			bias.race(func() {}, func() { cancel(); canceled = time.Now() }).Wait()
		}
		<-done
		copy(model[off:], buf[:n])
		if _, err := check.ReadAt(back, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, model[off:off+chunk]) {
			t.Fatalf("round %d: WriteAtContext reported %d bytes (%v), the file holds something else", i, n, err)
		}
		switch {
		case err == nil && n == chunk:
			if noCancel {
				return outNoCancel
			}
			bias.observe(false)
			if returned.After(canceled) {
				return endedInFlight(r, lost)
			}
			return outCompleted
		case !noCancel && n < chunk && errors.Is(err, context.Canceled):
			bias.observe(true)
			return cut
		}
		t.Fatalf("round %d (cancelled: %v): WriteAtContext = (%d, %v)", i, !noCancel, n, err)
		return ""
	})
}

// endedInFlight names the outcome of a call that completed though its
// context ended while it ran; a cancel request that reached the operation
// and lost (Stats.CancelRacesLost) is counted apart.
func endedInFlight(r *aio.Ring, lostBefore uint64) string {
	if raceOutcome(r, lostBefore) == outRaceLost {
		return outEndedInFlight + " (its cancel lost the race)"
	}
	return outEndedInFlight
}
