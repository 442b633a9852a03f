package aiotest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

// Rule 10: Sync is a barrier. Sync, SyncData and their Context forms
// complete only after every write on the File submitted before the call
// has completed, whether by a Start, a Batch already submitted or a
// blocking call.

func init() {
	register("Rule10/SyncWaitsForStartedWrites", func(t *testing.T, s *suite) { testSyncBarrier(t, s, "start", false) })
	register("Rule10/SyncDataWaitsForStartedWrites", func(t *testing.T, s *suite) { testSyncBarrier(t, s, "start", true) })
	register("Rule10/SyncWaitsForBatchWrites", func(t *testing.T, s *suite) { testSyncBarrier(t, s, "batch", false) })
	register("Rule10/SyncWaitsForBlockingWrites", func(t *testing.T, s *suite) { testSyncBarrier(t, s, "blocking", false) })
	register("Rule10/SyncCanceledWhileWaiting", testSyncCanceledWhileWaiting)
	register("Rule10/SyncWaitsOnlyForItsFile", testSyncOnlyItsFile)
}

// syncWrites is how many writes of syncWriteSize each round starts
// before it syncs: enough that, without the barrier, the sync regularly
// overtakes some of them (45 rounds in 300 did on io_uring).
const (
	syncWrites    = 32
	syncWriteSize = 256 << 10
)

// testSyncBarrier starts many large writes (how: "start", "batch" or
// "blocking" from other goroutines), then syncs. When the sync returns,
// every write submitted before it must be complete: its Op observably
// so, and its data in the file for anyone who reads it. Rounds in which
// some write was still in flight when the sync was called are counted:
// the case fails if the barrier never had anything to wait for, since it
// would then have proved nothing.
func testSyncBarrier(t *testing.T, s *suite, how string, datasync bool) {
	r := s.ring(t, 0)
	name := filepath.Join(t.TempDir(), "synced")
	f, err := r.Open(context.Background(), name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bufs := make([][]byte, syncWrites)
	for i := range bufs {
		bufs[i] = make([]byte, syncWriteSize)
	}
	// Rounds go on past the planned number, up to a cap, until some round
	// had writes in flight when it synced: a case must see what it tests.
	rounds := Scale(20)
	waited, round := 0, 0
	for ; round < rounds || waited == 0 && round < 20*rounds; round++ {
		for i := range bufs {
			fillPattern(bufs[i], int64(round*syncWrites*syncWriteSize+i*syncWriteSize))
		}
		off := func(i int) int64 { return int64(i * syncWriteSize) }
		ops := make([]*aio.Op, syncWrites)
		var blocking sync.WaitGroup
		var blockingErr error
		var errMu sync.Mutex
		switch how {
		case "start":
			for i := range ops {
				if ops[i], err = f.StartWriteAt(bufs[i], off(i)); err != nil {
					t.Fatal(err)
				}
			}
		case "batch":
			b := r.NewBatch()
			for i := range ops {
				if ops[i], err = b.StartWriteAt(f, bufs[i], off(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Submit(); err != nil {
				t.Fatal(err)
			}
		case "blocking":
			// Each goroutine's write is submitted (or done at once) before
			// the sync is called: the ring's Submitted count says when.
			before := r.Stats().Submitted
			for i := range bufs {
				blocking.Add(1)
				go func() {
					defer blocking.Done()
					if n, err := f.WriteAt(bufs[i], off(i)); n != len(bufs[i]) || err != nil {
						errMu.Lock()
						blockingErr = errors.Join(blockingErr, err, errors.New("short write"))
						errMu.Unlock()
					}
				}()
			}
			waitSubmitted(t, r, before+syncWrites)
		}
		inFlight := 0
		for _, op := range ops {
			if op != nil && !op.Completed() {
				inFlight++
			}
		}
		if how == "blocking" {
			inFlight = int(r.Stats().InFlight) // the sync itself is not submitted yet
		}
		if inFlight > 0 {
			waited++
		}
		if datasync {
			err = f.SyncData()
		} else {
			err = f.Sync()
		}
		if err != nil {
			t.Fatalf("round %d: sync: %v", round, err)
		}
		// The barrier's promise, checked at the moment the sync returned.
		for i, op := range ops {
			if op != nil && !op.Completed() {
				t.Fatalf("round %d: the sync returned while write %d, started before it, was still in flight", round, i)
			}
		}
		got := make([]byte, syncWrites*syncWriteSize)
		if n, err := readFileAt(name, got); err != nil || n != len(got) {
			t.Fatalf("round %d: reading the file back: (%d, %v)", round, n, err)
		}
		for i := range bufs {
			if !bytes.Equal(got[off(i):off(i)+syncWriteSize], bufs[i]) {
				t.Fatalf("round %d: after the sync, the file lacks write %d submitted before it", round, i)
			}
		}
		for i, op := range ops {
			if op == nil {
				continue
			}
			if n, err := op.Wait(); n != syncWriteSize || err != nil {
				t.Fatalf("round %d: write %d = (%d, %v), want the whole buffer: nobody cancelled it", round, i, n, err)
			}
		}
		blocking.Wait()
		if blockingErr != nil {
			t.Fatalf("round %d: blocking write: %v", round, blockingErr)
		}
	}
	t.Logf("%d rounds of %d writes of %d KiB (%s), then sync: %d rounds had writes in flight at the sync", round, syncWrites, syncWriteSize>>10, how, waited)
	if waited == 0 {
		t.Errorf("no round had a write in flight when it synced: the barrier was never exercised")
	}
}

// readFileAt reads name from offset 0 into p with the os package.
func readFileAt(name string, p []byte) (int, error) {
	g, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer g.Close()
	return g.ReadAt(p, 0)
}

// testSyncCanceledWhileWaiting: a sync whose context ends while it waits
// for earlier writes is cancelled; the writes are not. The write here is
// to a full pipe, so it stays in flight until the test drains it.
func testSyncCanceledWhileWaiting(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rounds := Scale(20)
	for round := range rounds {
		wr, op, drain := stuckWrite(t, r)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := wr.SyncContext(ctx)
		cancel()
		wantPathErr(t, "SyncContext ended while waiting", err, context.DeadlineExceeded, aio.ErrCanceled)
		if op.Completed() {
			t.Fatalf("round %d: the write completed though nothing drained the pipe", round)
		}
		drain() // the write was not cancelled: it delivers every byte
	}
	t.Logf("%d syncs cancelled while a write was in flight; every write completed in full", rounds)
}

// testSyncOnlyItsFile: the barrier is per File. A sync of one file does
// not wait for another file's write, even one that never completes.
func testSyncOnlyItsFile(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	_, stuck, drain := stuckWrite(t, r)
	f := patternFile(t, r, 1<<16)
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.SyncContext(ctx); err != nil {
		t.Fatalf("Sync of one file waited for another's write: %v", err)
	}
	if stuck.Completed() {
		t.Fatal("the pipe write completed though nothing drained the pipe")
	}
	drain()
}
