package aio_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
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
