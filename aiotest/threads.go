package aiotest

// Rule 3's converse: an operation nobody cancelled never completes as
// cancelled and never fails for a reason of the library's making,
// whatever becomes of the goroutine or the OS thread that started it.
// io_uring ties a request to the thread that entered it; a goroutine that
// locks its thread and returns takes the thread with it.

import (
	"errors"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

func init() {
	register("Rule3/ThreadExit/PipeRead", testThreadExitPipeRead)
	register("Rule3/ThreadExit/ColdFileRead", testThreadExitColdFileRead)
	register("Rule3/ThreadExit/RideAlong", testThreadExitRideAlong)
}

// onExitingThread runs start on a new goroutine that locks its OS thread
// and returns without unlocking it, so that the runtime ends the thread
// with the goroutine, and waits until the thread is gone. It reports
// false, and why, when it cannot know the thread is gone: the goroutine
// ran on the main thread (the runtime keeps that one), or the system
// cannot watch a thread exit.
func onExitingThread(t *testing.T, start func()) (gone bool, why string) {
	t.Helper()
	ch := make(chan thread, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		start()
		ch <- currentThread()
	}()
	th := <-ch
	if th.isMain() {
		return false, "started on the main thread, which never exits"
	}
	if ok, err := th.waitGone(); !ok {
		return false, err.Error()
	}
	return true, ""
}

// threadExitOutcome classifies the result of a read nobody cancelled:
// anything but its data is a failure of the contract, counted (so that a
// run shows how often) and reported at the end.
func threadExitOutcome(n, want int, err error) string {
	switch {
	case err == nil && n == want:
		return "real data"
	case errors.Is(err, aio.ErrCanceled):
		return "cancelled though nobody cancelled it"
	case err != nil:
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return "failed: " + errno.Error()
		}
		return "failed: " + err.Error()
	}
	return "short read"
}

// finishThreadExit logs x and fails unless every round had the real data
// and some rounds really had their thread exit.
func finishThreadExit(t *testing.T, x *tally, exited int, notGone map[string]int) {
	t.Helper()
	t.Logf("%v; the submitting thread was seen to exit in %d rounds (otherwise: %v)", x, exited, notGone)
	if bad := x.rounds - x.get("real data"); bad > 0 {
		t.Errorf("%d of %d reads started on a thread that then exited did not get their data: %v", bad, x.rounds, x)
	}
	if exited == 0 {
		t.Errorf("no round saw its submitting thread exit: %v", notGone)
	}
}

// testThreadExitPipeRead: StartRead on a pipe, from a goroutine that
// locks its thread and returns; once the thread is gone, the data is
// written. Every read gets it.
func testThreadExitPipeRead(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	x := &tally{}
	exited, notGone := 0, map[string]int{}
	for i := range Scale(100) {
		rd, w := pipe(t, r)
		buf := sentinel(64)
		var op *aio.Op
		var err error
		gone, why := onExitingThread(t, func() { op, err = rd.StartRead(buf) })
		if err != nil {
			t.Fatalf("round %d: StartRead: %v", i, err)
		}
		if gone {
			exited++
		} else {
			notGone[why]++
		}
		if _, err := w.Write([]byte("late")); err != nil {
			t.Fatal(err)
		}
		n, err := op.Wait()
		if err == nil && (string(buf[:n]) != "late"[:n] || !untouched(buf[n:])) {
			t.Fatalf("round %d: read %d bytes, buffer %q", i, n, buf[:8])
		}
		if err != nil && !untouched(buf) {
			t.Fatalf("round %d: a read that failed (%v) wrote its buffer", i, err)
		}
		x.rounds++
		x.add(threadExitOutcome(n, 4, err))
		rd.Close()
		w.Close()
	}
	finishThreadExit(t, x, exited, notGone)
}

// testThreadExitColdFileRead: StartReadAt of 1 MiB from a file evicted
// from the page cache (the read waits for the disk), from a goroutine
// that locks its thread and returns. Every read gets the file's bytes.
func testThreadExitColdFileRead(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size = 1 << 20
	f, name := coldFile(t, r, size)
	x := &tally{}
	exited, notGone := 0, map[string]int{}
	buf := make([]byte, size)
	for i := range Scale(50) {
		if i > 0 {
			if _, err := evict(name); err != nil {
				t.Fatal(err)
			}
		}
		resetSentinel(buf)
		var op *aio.Op
		var err error
		gone, why := onExitingThread(t, func() { op, err = f.StartReadAt(buf, 0) })
		if err != nil {
			t.Fatalf("round %d: StartReadAt: %v", i, err)
		}
		if gone {
			exited++
		} else {
			notGone[why]++
		}
		n, err := op.Wait()
		if err == nil {
			checkPattern(t, buf[:n], 0)
		}
		x.rounds++
		x.add(threadExitOutcome(n, size, err))
	}
	finishThreadExit(t, x, exited, notGone)
}

// testThreadExitRideAlong: ordinary goroutines start pipe reads while
// goroutines that lock their threads and exit start reads of their own,
// so that the ordinary goroutines' requests may reach the kernel through
// the exiting threads (io_uring takes every published request in each
// enter). Once the exiting threads are gone the data is written; every
// read gets it.
func testThreadExitRideAlong(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 1<<20)
	x := &tally{}
	exited, notGone := 0, map[string]int{}
	const pairs = 8
	for range Scale(50) {
		type read struct {
			op  *aio.Op
			buf []byte
			w   interface{ Write([]byte) (int, error) }
		}
		reads := make([]read, 2*pairs)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for k := range pairs {
			rd, w := pipe(t, r)
			reads[k].buf, reads[k].w = sentinel(16), w
			rd2, w2 := pipe(t, r)
			reads[pairs+k].buf, reads[pairs+k].w = sentinel(16), w2
			wg.Add(2)
			go func() { // an ordinary goroutine
				defer wg.Done()
				op, err := rd.StartRead(reads[k].buf)
				if err != nil {
					t.Error(err)
				}
				reads[k].op = op
			}()
			go func() {
				defer wg.Done()
				gone, why := onExitingThread(t, func() {
					// Busy the ring from this thread, then start the read.
					if _, err := f.StartReadAt(make([]byte, 4096), 0); err != nil {
						t.Error(err)
					}
					op, err := rd2.StartRead(reads[pairs+k].buf)
					if err != nil {
						t.Error(err)
					}
					reads[pairs+k].op = op
				})
				mu.Lock()
				if gone {
					exited++
				} else {
					notGone[why]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for _, rd := range reads {
			if _, err := rd.w.Write([]byte("late")); err != nil {
				t.Fatal(err)
			}
		}
		for i, rd := range reads {
			n, err := rd.op.Wait()
			if err == nil && (string(rd.buf[:n]) != "late"[:n] || !untouched(rd.buf[n:])) {
				t.Fatalf("read %d: %d bytes, buffer %q", i, n, rd.buf)
			}
			x.rounds++
			x.add(threadExitOutcome(n, 4, err))
		}
	}
	finishThreadExit(t, x, exited, notGone)
}
