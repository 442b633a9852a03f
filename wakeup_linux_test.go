package aio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// TestURingNoLostWakeup mixes operations that complete inside their own
// submission (cached reads, for which the driver keeps the ring's eventfd
// quiet) with ones that complete later (pipe reads, which need it), from
// many goroutines at once, then closes the ring: every operation must be
// seen to complete. A completion posted while nobody was told to look
// would leave its caller blocked; the watchdog turns that into a failure.
func TestURingNoLostWakeup(t *testing.T) {
	needURing(t)
	name := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(name, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	rounds := aiotest.Scale(20)
	for round := range rounds {
		r, err := aio.New(aio.Config{Backend: "uring", Entries: 16})
		if err != nil {
			t.Fatal(err)
		}
		aio.KeepStreamsOnRingForTest(r) // the pipe read must wait in the ring, for the reaper to see

		f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		rd, err := r.NewFile(pr)
		if err != nil {
			t.Fatal(err)
		}
		pr.Close()

		const readers, pings = 6, 200
		var wg sync.WaitGroup
		progress := make(chan struct{}, 1024)
		for g := range readers {
			wg.Add(1)
			go func() { // inline completions
				defer wg.Done()
				buf := make([]byte, 4096)
				for i := range pings * 4 {
					if _, err := startWait(f.StartReadAt(buf, int64((g*7+i)%256)*4096)); err != nil {
						t.Error(err)
						return
					}
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}()
		}
		wg.Add(2)
		go func() { // completions that come later
			defer wg.Done()
			b := make([]byte, 1)
			for range pings {
				if _, err := startWait(rd.StartRead(b)); err != nil {
					t.Error(err)
					return
				}
				progress <- struct{}{}
			}
		}()
		go func() { // the writer is not the ring's: only the reaper sees the reads complete
			defer wg.Done()
			for range pings {
				if _, err := pw.Write([]byte{1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for waiting := true; waiting; {
			select {
			case <-done:
				waiting = false
			case <-progress:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: no completion for 10s, a wakeup was lost: %+v", round, r.Stats())
			}
		}
		wg.Wait()

		// Phases: a burst of cached reads, after which the reaper finds
		// nothing in the kernel and silences the eventfd; then a pipe
		// read that only the reaper can see complete.
		for i := range pings / 4 {
			var burst sync.WaitGroup
			for g := range 4 {
				burst.Add(1)
				go func() {
					defer burst.Done()
					buf := make([]byte, 4096)
					for j := range 16 {
						if _, err := startWait(f.StartReadAt(buf, int64((g*16+j)%256)*4096)); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			burst.Wait()
			base := r.Stats().Submitted
			got := make(chan error, 1)
			go func() {
				_, err := startWait(rd.StartRead(make([]byte, 1)))
				got <- err
			}()
			for r.Stats().Submitted == base {
				runtime.Gosched()
			}
			// Until the kernel holds it: a write before that would let
			// the read complete inside its own submission.
			for n, ok := aio.InKernelForTest(r); n == 0; n, ok = aio.InKernelForTest(r) {
				if !ok {
					t.Fatal("the uring driver does not report what the kernel holds")
				}
				runtime.Gosched()
			}
			if _, err := pw.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d phase %d: the pipe read never completed, a wakeup was lost: %+v", round, i, r.Stats())
			}
		}
		f.Close()
		rd.Close()
		pw.Close()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if st := r.Stats(); st.Submitted != st.Completed {
			t.Fatalf("round %d: %+v", round, st)
		}
	}
}

// startWait waits for the op a Start call returned.
func startWait(op *aio.Op, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return op.Wait()
}

// TestURingSpuriousTaskrunFlag: the kernel can leave IORING_SQ_TASKRUN
// set with no task work behind it (it sets the flag after it adds the
// work, so an enter racing with the add runs the work first). The owner
// must still go to sleep, operations must still complete, and Close must
// return: an owner that trusted the flag spun at 100% of a CPU, for good
// once Close had nothing left to wait for (seen once in a CI run).
func TestURingSpuriousTaskrunFlag(t *testing.T) {
	needURing(t)
	name := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(name, []byte("spurious"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	waitAsleep := func(step string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			asleep, flag := aio.OwnerAsleepForTest(r)
			if asleep {
				t.Logf("%s: the owner is asleep, task-work flag %v", step, flag)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the owner did not go to sleep in 10s (task-work flag %v)", step, flag)
			}
			runtime.Gosched()
		}
	}
	waitAsleep("idle")
	if !aio.SpuriousTaskrunForTest(r) {
		t.Fatal("the uring ring has no task-work flag to set")
	}
	waitAsleep("flag set")

	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	aio.DisableTryNowForTest(r) // the read goes through the owner
	if n, err := startWait(f.StartReadAt(buf, 0)); string(buf[:n]) != "spurious" || (err != nil && !errors.Is(err, io.EOF)) {
		t.Fatalf("StartReadAt with the flag set = (%d %q, %v)", n, buf[:n], err)
	}
	f.Close()
	aio.SpuriousTaskrunForTest(r)
	waitAsleep("after a read")

	closeRingWithin(t, r, "with the task-work flag set")
}

// closeRingWithin closes r and fails if Close does not return in 10s
// (when says in what state).
func closeRingWithin(t *testing.T, r *aio.Ring, when string) {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Ring.Close did not return in 10s %s", when)
	}
}

// TestURingOwnerParksWithOneP: with GOMAXPROCS 1 the owner waits for its
// eventfd parked in Go's netpoller, not in a blocking read, which would
// keep the only P from the goroutines it has just woken until sysmon
// took it back (see the uring driver's waitWake); once GOMAXPROCS grows
// it reads blocking again. Calls through the owner complete, with the
// right bytes, before, across and after the change, and Close returns.
func TestURingOwnerParksWithOneP(t *testing.T) {
	needURing(t)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	aio.DisableTryNowForTest(r) // every call goes through the owner
	rd, wr := ringPipe(t, r)
	msg, buf := make([]byte, 64), make([]byte, 64)
	seq := 0
	round := func(n int) {
		t.Helper()
		for range n {
			seq++
			msg[0], msg[1] = byte(seq), byte(seq>>8)
			if _, err := wr.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(rd, buf); err != nil || buf[0] != msg[0] || buf[1] != msg[1] {
				t.Fatalf("read back %x, %v; want %x", buf[:2], err, msg[:2])
			}
		}
	}
	round(100)
	wakes, parked, ownerReads := aio.OwnerWakesForTest(r)
	t.Logf("GOMAXPROCS 1: %d wake-ups, %d parked", wakes, parked)
	if wakes == 0 {
		t.Fatal("the owner never slept between 200 calls through it")
	}
	if ownerReads && parked == 0 {
		t.Fatal("with GOMAXPROCS 1 the owner never slept parked in the netpoller")
	}
	if !ownerReads && parked != 0 {
		t.Fatalf("an owner that does not read its eventfd counted %d parked reads of it", parked)
	}

	// The owner looks at GOMAXPROCS every 256 sleeps: go on until it has
	// slept 300 times without parking.
	runtime.GOMAXPROCS(2)
	var since uint64
	for i := 0; ; i++ {
		w0, p0, _ := aio.OwnerWakesForTest(r)
		round(50)
		w1, p1, _ := aio.OwnerWakesForTest(r)
		if p1 == p0 {
			since += w1 - w0
		} else {
			since = 0
		}
		if since >= 300 {
			t.Logf("GOMAXPROCS 2: %d wake-ups since the last parked one", since)
			break
		}
		if i == 400 {
			t.Fatalf("with GOMAXPROCS 2 the owner still parks after %d calls (%d wake-ups, %d parked)", 2*50*i, w1, p1)
		}
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	closeRingWithin(t, r, "after GOMAXPROCS changed")
}

// TestURingSQPollFullSQ: with the kernel's thread polling the SQ
// (AIO_URING_MODE=sqpoll), the SQ empties without an enter of the
// owner's, so nothing but the owner's own look tells a submitter waiting
// for room that there is some. Far more reads than an 8-entry ring holds
// are started on empty pipes, which complete only once everything is
// started and the pipes written: a submitter that waits for room nobody
// announces waits for ever (it did, in TestURingEnterFaults in that mode).
// The other modes must pass it too.
func TestURingSQPollFullSQ(t *testing.T) {
	needURing(t)
	for _, mode := range []string{"sqpoll", "owner"} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv("AIO_URING_MODE", mode)
			if r, err := aio.New(aio.Config{Backend: "uring"}); errors.Is(err, syscall.EPERM) {
				t.Skipf("this kernel gives an SQPOLL ring to privileged processes only (before 5.11): %v", err)
			} else if err == nil {
				r.Close()
			}
			for range aiotest.Scale(10) {
				sqFullRound(t)
			}
		})
	}
}

// sqFullRound is one round of TestURingSQPollFullSQ, on a ring of its
// own made in the mode the environment names.
func sqFullRound(t *testing.T) {
	r, err := aio.New(aio.Config{Backend: "uring", Entries: 8})
	if err != nil {
		t.Fatal(err)
	}
	aio.KeepStreamsOnRingForTest(r) // the reads wait in the ring
	const pipes, perPipe = 50, 20
	rds, ws := make([]*aio.File, pipes), make([]*aio.File, pipes)
	for i := range pipes {
		rds[i], ws[i] = ringPipe(t, r)
	}
	type started struct {
		ops []*aio.Op
		err error
	}
	done := make(chan started, 1)
	go func() { // started apart, so that a hang fails the test
		var s started
		defer func() { done <- s }()
		for _, rd := range rds {
			for range perPipe {
				op, err := rd.StartRead(make([]byte, 1))
				if err != nil {
					s.err = err
					return
				}
				s.ops = append(s.ops, op)
			}
		}
	}()
	var s started
	select {
	case s = <-done:
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("%d reads not started after 30s: a submitter waits for SQ room nobody announced\n%s",
			pipes*perPipe, buf[:runtime.Stack(buf, true)])
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	for _, w := range ws {
		if _, err := w.Write(make([]byte, perPipe)); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for i, op := range s.ops {
		n, err := op.Wait()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		total += n
	}
	if total != pipes*perPipe {
		t.Errorf("read %d bytes, wrote %d", total, pipes*perPipe)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
