package aiotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
	"weak"

	"github.com/waitforit/aio"
)

func init() {
	register("Rule1/FailedStartSubmitsNothing", testFailedStartSubmitsNothing)
	register("Rule2/ExactlyOneCompletion", testExactlyOneCompletion)
	register("Rule2/ManyOpsEachCompleteOnce", testManyOpsEachCompleteOnce)
	register("Rule2/PipeWriteCancelReportsBytes", testPipeWriteCancelReportsBytes)
	register("Rule3/CancelBlockedPipeRead", testCancelBlockedPipeRead)
	register("Rule3/CancelRacesWrite", testCancelRacesWrite)
	register("Rule3/CancelNeverBlocks", testCancelNeverBlocks)
	register("Rule3/StaleCancelHitsNothing", testStaleCancel)
	register("Rule3/CancelAll", testCancelAll)
	register("Rule4/BuffersSurviveGC", testBuffersSurviveGC)
	register("Rule6/FileCloseWaits", testFileCloseWaits)
	register("Rule6/RingCloseWaits", testRingCloseWaits)
	register("Rule6/RingCloseEndsBlockingCalls", testRingCloseEndsBlockingCalls)
	register("Rule6/CloseRacesSubmitters", testCloseRacesSubmitters)
	register("Rule6/NoDescriptorReuseUnderOps", testNoDescriptorReuse)
	register("Rule7/OpenCancelRacesLeakNothing", testOpenCancelRaces)
	register("Rule8/TinyRingBurst", testTinyRingBurst)
	register("Rule8/TinyRingConcurrent", testTinyRingConcurrent)
	register("Rule9/BadInput", testBadInput)
	register("Rule9/ClosedRingRefusesStreams", testClosedRingRefusesStreams)
	register("Rule9/UnsupportedOperation", testUnsupportedOperation)
	register("Errors/EOFAndPathErrors", testEOFAndPathErrors)
	register("Files/ReadWriteSync", testReadWriteSync)
}

// Outcomes of a race between an operation and its cancel, as the race
// cases name them.
const (
	outCompleted = "completed"                                 // no cancel was requested while it was in flight
	outRaceLost  = "completed though its cancel was requested" // the cancel lost the race (Stats.CancelRacesLost)
	outCanceled  = "cancelled"                                 // ErrCanceled, nothing transferred
)

// raceOutcome classifies a completed operation (err == nil) by whether a
// cancel requested during the round lost the race: lostBefore is
// Stats.CancelRacesLost when the round began.
func raceOutcome(r *aio.Ring, lostBefore uint64) string {
	if r.Stats().CancelRacesLost > lostBefore {
		return outRaceLost
	}
	return outCompleted
}

func testFailedStartSubmitsNothing(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	rd, _ := pipe(t, r)
	buf := sentinel(128)
	before := r.Stats()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	op, err := f.StartReadAt(buf, 0)
	if op != nil {
		t.Fatal("StartReadAt on a closed file returned an Op")
	}
	wantPathErr(t, "StartReadAt after Close", err, os.ErrClosed)
	_, err = f.StartWrite(buf)
	wantPathErr(t, "StartWrite after Close", err, os.ErrClosed)
	_, err = f.ReadAt(buf, 0)
	wantPathErr(t, "ReadAt after Close", err, os.ErrClosed)
	_, err = f.WriteAt(buf, 0)
	wantPathErr(t, "WriteAt after Close", err, os.ErrClosed)
	_, err = f.Read(buf)
	wantPathErr(t, "Read after Close", err, os.ErrClosed)
	_, err = f.Write(buf)
	wantPathErr(t, "Write after Close", err, os.ErrClosed)
	wantPathErr(t, "Sync after Close", f.SyncContext(context.Background()), os.ErrClosed)
	wantPathErr(t, "second Close", f.Close(), os.ErrClosed)
	// The same on a pipe.
	op, err = rd.StartRead(buf)
	if op != nil {
		t.Fatal("StartRead on a closed pipe returned an Op")
	}
	wantPathErr(t, "StartRead on a closed pipe", err, os.ErrClosed)
	_, err = rd.ReadContext(context.Background(), buf)
	wantPathErr(t, "ReadContext on a closed pipe", err, os.ErrClosed)
	var o aio.Op
	wantPathErr(t, "StartReadOp on a closed pipe", rd.StartReadOp(&o, buf), os.ErrClosed)
	if !o.Completed() {
		t.Error("a refused StartReadOp left its Op pending")
	}
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("failed starts submitted %d operations", after.Submitted-before.Submitted)
	}
	if !untouched(buf) {
		t.Error("a failed start touched the buffer")
	}
}

func testExactlyOneCompletion(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	buf := make([]byte, 8)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	var calls [3]atomic.Int32
	got := make(chan int, 10)
	cb := func(i int) func(int, error) {
		return func(n int, err error) {
			if n != 1 || err != nil {
				t.Errorf("callback %d got (%d, %v), want (1, nil)", i, n, err)
			}
			calls[i].Add(1)
			got <- i
		}
	}
	op.OnComplete(cb(0))
	op.OnComplete(cb(1))
	if isDone(op) {
		t.Fatal("read of an empty pipe completed before any write")
	}
	w.Write([]byte("x"))
	n, err := op.Wait()
	if n != 1 || err != nil || buf[0] != 'x' {
		t.Fatalf("Wait = (%d, %v), buf %q; want (1, nil), x", n, err, buf[:1])
	}
	op.OnComplete(cb(2)) // after completion: runs at once, once
	for range 3 {
		<-got
	}
	if n2, err2 := op.Wait(); n2 != n || err2 != err {
		t.Errorf("second Wait = (%d, %v), want the same result (%d, %v)", n2, err2, n, err)
	}
	if n2, err2 := op.WaitContext(context.Background()); n2 != n || err2 != err {
		t.Errorf("WaitContext after completion = (%d, %v)", n2, err2)
	}
	op.Cancel() // a no-op now
	if st := r.Stats(); st.Canceled != 0 || st.CancelRacesLost != 0 {
		t.Errorf("Cancel after completion was counted: %+v", st)
	}
	// A later operation's completion must not re-run these callbacks.
	w.Write([]byte("y"))
	if n, err := rd.Read(buf); n != 1 || err != nil {
		t.Fatalf("Read = (%d, %v)", n, err)
	}
	// A duplicate delivered late is delivered by the time Ring.Close
	// returns: every completion has been.
	rd.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("callback %d ran %d times, want 1", i, c)
		}
	}
}

func testManyOpsEachCompleteOnce(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size = 1 << 20
	f := patternFile(t, r, size)
	nops := Scale(2000)
	var completions atomic.Int64
	var wg sync.WaitGroup
	wg.Add(nops)
	ops := make([]*aio.Op, nops)
	bufs := make([][]byte, nops)
	offs := make([]int64, nops)
	before := r.Stats()
	for i := range nops {
		bufs[i] = make([]byte, 512)
		offs[i] = rand.Int64N(size - 512)
		op, err := f.StartReadAt(bufs[i], offs[i])
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = op
		op.OnComplete(func(int, error) { completions.Add(1); wg.Done() })
	}
	for _, op := range ops {
		waitOp(t, op)
	}
	wg.Wait()
	for i, op := range ops {
		n, err := op.Wait()
		if n != 512 || err != nil {
			t.Fatalf("op %d = (%d, %v)", i, n, err)
		}
		checkPattern(t, bufs[i], offs[i])
	}
	if c := completions.Load(); c != int64(nops) {
		t.Errorf("%d completions for %d ops", c, nops)
	}
	st := r.Stats()
	if st.Submitted-before.Submitted != uint64(nops) || st.Completed-before.Completed != uint64(nops) || st.InFlight != 0 {
		t.Errorf("stats %+v after %d ops (before %+v)", st, nops, before)
	}
}

// testPipeWriteCancelReportsBytes: writes into a pipe that a reader
// drains a little at a time race their cancels; the pipe is full most of
// the time, so the write waits in flight. Whatever the outcome, n is
// exactly what moved: the reader gets the writes' stream, in order,
// without a gap or a byte nobody reported (rule 2).
func testPipeWriteCancelReportsBytes(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	wr, rd := writePipe(t, r)
	const chunk = 16 << 10
	var written, read int64 // stream positions
	drain := func(max int) {
		buf := make([]byte, max)
		n, err := rd.Read(buf)
		if err != nil {
			t.Fatalf("draining the pipe: %v", err)
		}
		checkPattern(t, buf[:n], read)
		read += int64(n)
	}
	var bias raceBias
	buf := make([]byte, chunk)
	drive(t, Scale(1000), []string{outCanceled, outCompleted}, func(i int) string {
		fillPattern(buf, written)
		lost := r.Stats().CancelRacesLost
		op, err := wr.StartWrite(buf)
		if err != nil {
			t.Fatal(err)
		}
		// A reader makes room while the cancel is requested: sometimes
		// less than the write needs, sometimes more.
		d := 1 + rand.IntN(2*chunk)
		if written-read < int64(d) { // never block on an empty pipe
			d = int(written - read)
		}
		wg := bias.race(func() {
			if d > 0 {
				drain(d)
			}
		}, op.Cancel)
		n, err := op.Wait()
		wg.Wait()
		written += int64(n)
		switch {
		case err == nil && n > 0:
			bias.observe(false)
			return raceOutcome(r, lost)
		case n == 0 && errors.Is(err, aio.ErrCanceled):
			bias.observe(true)
			return outCanceled
		}
		t.Fatalf("round %d: write = (%d, %v)", i, n, err)
		return ""
	})
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	for {
		rest, err := io.ReadAll(io.LimitReader(rd, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		checkPattern(t, rest, read)
		read += int64(len(rest))
		if len(rest) == 0 {
			break
		}
	}
	if read != written {
		t.Errorf("the writes reported %d bytes, the reader got %d", written, read)
	}
	t.Logf("%d bytes through the pipe", read)
}

func testCancelBlockedPipeRead(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	buf := bytes.Repeat([]byte{0xEE}, 64)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	if isDone(op) || op.Completed() {
		t.Fatal("read of an empty pipe completed before any write")
	}
	op.Cancel()
	op.Cancel() // idempotent
	n, err := op.Wait()
	if !op.Completed() {
		t.Error("Completed is false after Wait returned")
	}
	if n != 0 {
		t.Errorf("cancelled read reported %d bytes", n)
	}
	wantPathErr(t, "cancelled read", err, aio.ErrCanceled, syscall.ECANCELED)
	op.Cancel() // no-op after completion
	if st := r.Stats(); st.Canceled != 1 {
		t.Errorf("Stats.Canceled = %d, want 1", st.Canceled)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	n, err = rd.Read(got)
	if err != nil || string(got[:n]) != "hello" {
		t.Fatalf("next Read = (%d, %v) %q, want hello", n, err, got[:n])
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
		t.Fatalf("the cancelled read's buffer was written: %q", buf)
	}
}

// testCancelRacesWrite: every round starts a read on an empty pipe, then
// a 1-byte write and a cancel race, with the GC running throughout. Every
// round ends in exactly one of the outcomes, each is observed (a cancel
// that lost the race too), and every byte written is read exactly once
// (by a round that won, or by the drain after a cancel).
func testCancelRacesWrite(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	gcs := gcPressure(t)
	rd, w := aioPipe(t, r)
	var bytesRead, canceled int
	var bias raceBias
	buf := make([]byte, 64)
	x := drive(t, Scale(1000), []string{outCompleted, outRaceLost, outCanceled}, func(i int) string {
		resetSentinel(buf)
		lost := r.Stats().CancelRacesLost
		op, err := rd.StartRead(buf)
		if err != nil {
			t.Fatal(err)
		}
		// The write and the cancel start together and each waits a
		// random little while first, so they land on both sides of the
		// moment the read completes.
		wg := bias.race(func() {
			if _, err := w.Write([]byte{'x'}); err != nil {
				t.Error(err)
			}
		}, op.Cancel)
		n, err := op.Wait()
		wg.Wait()
		switch {
		case err == nil && n > 0:
			bias.observe(false)
			bytesRead += n
			if !bytes.Equal(buf[:n], bytes.Repeat([]byte{'x'}, n)) || !untouched(buf[n:]) {
				t.Fatalf("round %d: buffer %q after reading %d bytes", i, buf[:n+1], n)
			}
			return raceOutcome(r, lost)
		case errors.Is(err, aio.ErrCanceled) && n == 0:
			bias.observe(true)
			canceled++
			if !untouched(buf) {
				t.Fatalf("round %d: cancelled read wrote its buffer", i)
			}
			// The byte is still in the pipe: read it now, so the next
			// round starts on an empty pipe again.
			if b := leftBehind(t, rd, 1); b[0] != 'x' {
				t.Fatalf("round %d: after a cancel the pipe held %q", i, b)
			}
			bytesRead++
			return outCanceled
		}
		t.Fatalf("round %d: (%d, %v) is neither a completion nor a cancel", i, n, err)
		return ""
	})
	w.Close()
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	t.Logf("%d garbage collections; Stats %+v; %d bytes left for the drain", gcs(), st, len(rest))
	if bytesRead+len(rest) != x.rounds {
		t.Errorf("bytes written %d != bytes read %d + drained %d", x.rounds, bytesRead, len(rest))
	}
	if st.Canceled != uint64(canceled) {
		t.Errorf("Stats.Canceled = %d, observed %d", st.Canceled, canceled)
	}
}

// testCancelNeverBlocks: Cancel only asks. It returns while the
// operation may still be in flight (a read waiting for the disk cannot be
// stopped; a parked pipe read is woken by someone else), is idempotent
// and does nothing after the completion. Rounds alternate a pipe read and
// a 1 MiB read of a file evicted from the cache; the case fails if Cancel
// never once returned before the completion was delivered (a Cancel that
// waited for it would always).
func testCancelNeverBlocks(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	const size = 1 << 20
	f, name := coldFile(t, r, 8*size)
	buf := make([]byte, size)
	const before, after = "Cancel returned before the completion", "completion delivered before Cancel returned"
	drive(t, Scale(100), []string{before}, func(i int) string {
		var op *aio.Op
		var err error
		file := i%2 == 1
		if file {
			off := int64(i/2%8) * size
			if i/2%8 == 0 {
				if _, err := evict(name); err != nil {
					t.Fatal(err)
				}
			}
			op, err = f.StartReadAt(buf, off)
		} else {
			op, err = rd.StartRead(buf[:64])
		}
		if err != nil {
			t.Fatal(err)
		}
		op.Cancel()
		outcome := after
		if !op.Completed() {
			outcome = before
		}
		op.Cancel() // idempotent
		n, err := op.Wait()
		st := r.Stats()
		op.Cancel() // a no-op now
		if st2 := r.Stats(); st2 != st {
			t.Fatalf("round %d: Cancel after completion moved the counters: %+v, then %+v", i, st, st2)
		}
		switch {
		case file && err == nil && n > 0 && n <= size: // a Start call's read may be short
		case n == 0 && errors.Is(err, aio.ErrCanceled): // a file read still queued can be stopped
		default:
			t.Fatalf("round %d: read = (%d, %v)", i, n, err)
		}
		return outcome
	})
	w.Write([]byte("x")) // the pipe works after all that
	if n, err := rd.Read(buf[:8]); n != 1 || err != nil {
		t.Fatalf("Read after the cancels = (%d, %v)", n, err)
	}
}

func testStaleCancel(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	rd, w := pipe(t, r)
	var old []*aio.Op
	for range 64 {
		op, err := f.StartReadAt(make([]byte, 16), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := op.Wait(); err != nil {
			t.Fatal(err)
		}
		old = append(old, op)
	}
	// New operations reuse the finished ones' records; cancelling through
	// the old handles must not touch them.
	var fresh []*aio.Op
	for range 64 {
		op, err := rd.StartRead(make([]byte, 1))
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, op)
	}
	for _, op := range old {
		op.Cancel()
	}
	if _, err := w.Write(bytes.Repeat([]byte{'z'}, 64)); err != nil {
		t.Fatal(err)
	}
	for i, op := range fresh {
		if n, err := op.Wait(); n != 1 || err != nil {
			t.Fatalf("fresh op %d = (%d, %v): a stale Cancel hit it", i, n, err)
		}
	}
}

// testCancelAll: File.CancelAll cancels every operation in flight on
// that file, and only those: a read in flight on another file of the same
// ring, and one on another ring, were cancelled by nobody (rule 3), and
// complete with their data.
func testCancelAll(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	other, otherW := pipe(t, r)
	r2 := s.ring(t, 0)
	elsewhere, elsewhereW := pipe(t, r2)
	bystanders := map[string]*aio.Op{}
	bufs := map[string][]byte{}
	for name, f := range map[string]*aio.File{"another file of the ring": other, "a file of another ring": elsewhere} {
		bufs[name] = sentinel(8)
		op, err := f.StartRead(bufs[name])
		if err != nil {
			t.Fatal(err)
		}
		bystanders[name] = op
	}
	var ops []*aio.Op
	for range 16 {
		op, err := rd.StartRead(make([]byte, 8))
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	rd.CancelAll()
	for i, op := range ops {
		n, err := op.Wait()
		if n != 0 || !errors.Is(err, aio.ErrCanceled) {
			t.Errorf("op %d after CancelAll = (%d, %v)", i, n, err)
		}
	}
	otherW.Write([]byte("mine"))
	elsewhereW.Write([]byte("mine"))
	for name, op := range bystanders {
		n, err := op.Wait()
		if err != nil || string(bufs[name][:n]) != "mine" {
			t.Errorf("a read in flight on %s when CancelAll was called = (%d, %v) %q; nobody cancelled it", name, n, err, bufs[name][:n])
		}
	}
	// The file is still usable.
	w.Write([]byte("ok"))
	buf := make([]byte, 8)
	if n, err := rd.Read(buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("Read after CancelAll = (%d, %v) %q", n, err, buf[:n])
	}
}

// testBuffersSurviveGC drops every reference to in-flight reads and their
// buffers, churns the heap through many collections, and checks that the
// buffers stayed alive (weak pointers still resolve while the reads wait
// for data), that the kernel's writes landed in them, and that no other
// object was corrupted. Pipe reads and socket reads (where a socket can be
// a File) wait for the test; reads of a file evicted from the cache
// complete on their own during the churn.
func testBuffersSurviveGC(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size = 4096
	type slot struct {
		kind string
		w    io.Writer // nil: the read completes on its own
		buf  weak.Pointer[byte]
		done chan int
	}
	var slots []*slot
	start := func(sl *slot, start func(buf []byte) (*aio.Op, error)) {
		sl.done = make(chan int, 1)
		slots = append(slots, sl)
		i := len(slots) - 1
		func() { // the buffer and Op live only in this frame
			buf := sentinel(size)
			sl.buf = weak.Make(&buf[0])
			op, err := start(buf)
			if err != nil {
				t.Fatal(err)
			}
			done := sl.done
			op.OnComplete(func(n int, err error) {
				if err != nil {
					t.Errorf("read %d (%s): %v", i, sl.kind, err)
				}
				done <- n
			})
		}()
	}
	for range 24 {
		rd, w := pipe(t, r)
		start(&slot{kind: "pipe", w: w}, rd.StartRead)
	}
	for range 8 {
		rd, w, ok := socketFile(t, r)
		if !ok {
			break
		}
		start(&slot{kind: "socket", w: w}, rd.StartRead)
	}
	f, name := coldFile(t, r, 8*size)
	if _, err := evict(name); err != nil {
		t.Fatal(err)
	}
	for k := range 8 {
		start(&slot{kind: "cold file"}, func(buf []byte) (*aio.Op, error) { return f.StartReadAt(buf, int64(k)*size) })
	}
	type canary struct {
		data [1000]byte
		seed byte
	}
	var keep []*canary
	rounds := Scale(20)
	for round := range rounds {
		for j := range 2000 {
			c := &canary{seed: byte(round + j)}
			for k := range c.data {
				c.data[k] = c.seed + byte(k)
			}
			if j%10 == 0 {
				keep = append(keep, c)
			}
		}
		runtime.GC()
	}
	// The reads still waiting must still have their buffers: hold them
	// now, then let the data come.
	held := make([][]byte, len(slots))
	for i, sl := range slots {
		if sl.w == nil {
			continue
		}
		p := sl.buf.Value()
		if p == nil {
			t.Fatalf("buffer %d (%s) was collected while its read was in flight", i, sl.kind)
		}
		held[i] = unsafe.Slice(p, size)
		msg := make([]byte, size)
		fillPattern(msg, int64(i))
		if _, err := sl.w.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	checked := map[string]int{}
	for i, sl := range slots {
		n := <-sl.done
		if sl.w == nil { // a file read: it completed on its own
			if n != size {
				t.Fatalf("read %d (%s) got %d bytes, want %d", i, sl.kind, n, size)
			}
			if p := sl.buf.Value(); p != nil {
				checkPattern(t, unsafe.Slice(p, size), int64(i-len(slots)+8)*size)
				checked[sl.kind]++
			}
			continue
		}
		// A stream read may come back short; the rest follows.
		if n <= 0 || n > size {
			t.Fatalf("read %d (%s) got %d bytes", i, sl.kind, n)
		}
		checkPattern(t, held[i][:n], int64(i))
		if !untouched(held[i][n:]) {
			t.Fatalf("read %d (%s) wrote beyond the %d bytes it reported", i, sl.kind, n)
		}
		checked[sl.kind]++
	}
	t.Logf("%d reads, data checked: %v (a file read's buffer may be collected once its read is done)", len(slots), checked)
	runtime.GC()
	for _, c := range keep {
		for k := range c.data {
			if c.data[k] != c.seed+byte(k) {
				t.Fatalf("heap object corrupted at byte %d", k)
			}
		}
	}
}

// raceBias steers two racing actions towards the moment they tie: the
// cancel side waits longer by a bias (plus jitter), or the act side when
// the bias is negative, and the bias moves after each round towards
// whichever outcome is rarer, so the rounds settle around the race window
// whatever the machine's speed and whichever side is slower.
//
// Rounds take turns at three ways of waiting, each with its own bias,
// because each shifts the race differently on a small machine: spinning
// holds a CPU the completion may need, yielding (runtime.Gosched) keeps
// the scheduler from polling the network, sleeping lets it.
type raceBias struct {
	rounds int
	last   int              // the way the last race waited
	spins  int              // waitSpin's bias, in spins
	delay  [2]time.Duration // waitYield's and waitSleep's
}

const (
	waitSpin = iota
	waitYield
	waitSleep
)

// The biases' bounds: a race whose act never lets the operation complete
// must not wait on for ever.
const (
	maxSpins = 1 << 16
	maxDelay = 2 * time.Millisecond
)

func (b *raceBias) observe(canceled bool) {
	if b.last == waitSpin {
		step := max(b.spins, -b.spins)/8 + 50
		if !canceled {
			step = -step
		}
		b.spins = min(max(b.spins+step, -maxSpins), maxSpins)
		return
	}
	d := &b.delay[b.last-1]
	step := max(*d, -*d)/8 + time.Microsecond
	if !canceled {
		step = -step
	}
	*d = min(max(*d+step, -maxDelay), maxDelay)
}

// race runs act and cancel in two new goroutines, each after a random
// wait (cancel's lengthened by the bias, or act's by a negative one), and
// returns a WaitGroup that is done when both have run. (No start barrier:
// goroutines spinning on one would starve the caller on a small machine.)
func (b *raceBias) race(act, cancel func()) *sync.WaitGroup {
	b.last = b.rounds % 3
	b.rounds++
	var wg sync.WaitGroup
	wg.Add(2)
	switch b.last {
	case waitSpin:
		run := func(fn func(), spins int) {
			defer wg.Done()
			for range spins {
				spinSink.Add(1)
			}
			fn()
		}
		go run(act, max(-b.spins, 0)+rand.IntN(1000))
		go run(cancel, max(b.spins, 0)+rand.IntN(1000))
	case waitYield:
		run := func(fn func(), d time.Duration) {
			defer wg.Done()
			for start := time.Now(); time.Since(start) < d; {
				runtime.Gosched()
			}
			fn()
		}
		go run(act, max(-b.delay[0], 0)+rand.N(10*time.Microsecond))
		go run(cancel, max(b.delay[0], 0)+rand.N(10*time.Microsecond))
	case waitSleep:
		run := func(fn func(), d time.Duration) {
			defer wg.Done()
			if d > 0 {
				time.Sleep(d) // a head start, not synchronization
			}
			fn()
		}
		go run(act, max(-b.delay[1], 0))
		go run(cancel, max(b.delay[1], 0)+rand.N(20*time.Microsecond))
	}
	return &wg
}

var spinSink atomic.Int64

func testFileCloseWaits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, _ := pipe(t, r)
	nops := 200
	ops := make([]*aio.Op, nops)
	for i := range ops {
		op, err := rd.StartRead(sentinel(8))
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = op
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := rd.ReadContext(context.Background(), make([]byte, 8))
		blocked <- err
	}()
	waitInFlight(t, r, uint64(nops+1))
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight when File.Close returned: %+v", st)
	}
	for i, op := range ops {
		if !isDone(op) {
			t.Fatalf("op %d still in flight after File.Close returned", i)
		}
		n, err := op.Wait()
		if n != 0 {
			t.Errorf("op %d read %d bytes", i, n)
		}
		wantPathErr(t, "op cancelled by Close", err, aio.ErrCanceled, os.ErrClosed)
	}
	wantPathErr(t, "blocked ReadContext", <-blocked, os.ErrClosed, aio.ErrCanceled)
	_, err := rd.StartRead(make([]byte, 8))
	wantPathErr(t, "StartRead after Close", err, os.ErrClosed)
}

func testRingCloseWaits(t *testing.T, s *suite) {
	g0 := runtime.NumGoroutine()
	r := s.newRing(t, aio.Config{})
	var ops []*aio.Op
	var ws []*os.File
	for range 20 {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		rd, err := r.NewFile(pr)
		pr.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		ws = append(ws, pw)
		for range 15 {
			op, err := rd.StartRead(make([]byte, 8))
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		if !isDone(op) {
			t.Fatalf("op %d still in flight after Ring.Close returned", i)
		}
		n, err := op.Wait()
		if n != 0 {
			t.Errorf("op %d read %d bytes", i, n)
		}
		wantPathErr(t, "op cancelled by Ring.Close", err, aio.ErrCanceled, os.ErrClosed)
	}
	if st := r.Stats(); st.InFlight != 0 || st.Submitted != st.Completed || st.Submitted != uint64(len(ops)) {
		t.Errorf("stats after Ring.Close: %+v", st)
	}
	if err := r.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Ring.Close = %v, want os.ErrClosed", err)
	}
	_, err := r.Open(context.Background(), os.DevNull, os.O_RDONLY, 0)
	wantPathErr(t, "Open on a closed ring", err, os.ErrClosed)
	_, err = r.NewFile(ws[0])
	wantPathErr(t, "NewFile on a closed ring", err, os.ErrClosed)
	for _, w := range ws {
		w.Close()
	}
	waitGoroutines(t, g0)
}

// testRingCloseEndsBlockingCalls: Ring.Close cancels the blocking calls
// waiting on the ring's pipes and connections too, and returns only once
// they have completed (rule 6): nothing is in flight when it returns, and
// the calls return an error matching os.ErrClosed (net.ErrClosed).
func testRingCloseEndsBlockingCalls(t *testing.T, s *suite) {
	r := s.newRing(t, aio.Config{})
	blocked := make(chan error, 2)
	bp, _ := pipe(t, r)
	bc, _ := tcpPair(t, r)
	go func() {
		_, err := bp.Read(make([]byte, 8))
		blocked <- err
	}()
	go func() {
		_, err := bc.Read(make([]byte, 8))
		blocked <- err
	}()
	waitInFlight(t, r, 2)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("Ring.Close returned with operations in flight: %+v", st)
	}
	timeout := time.After(10 * time.Second)
	for range 2 {
		select {
		case err := <-blocked:
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, net.ErrClosed) {
				t.Errorf("a blocked call ended by Ring.Close = %v, want an error matching os.ErrClosed (net.ErrClosed)", err)
			}
		case <-timeout:
			t.Error("blocking calls on a pipe and a connection still wait 10s after Ring.Close")
			return
		}
	}
}

// testCloseRacesSubmitters: readers keep reading a pipe, a byte at a
// time, while it is closed under them: every round starts with their
// reads in flight, then a write (a few bytes or many) and the Close race.
// Each reader ends with a read that was under way when Close began
// (cancelled, or failed with os.ErrClosed), or one refused because Close
// had begun (it was between two reads); both are observed. No byte is
// lost: what the readers report plus what is still in the pipe is what
// was written.
func testCloseRacesSubmitters(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const readers = 4
	const inFlight, refused = "read under way ended by Close", "read refused after Close began"
	var written, got int64
	var plainClosed atomic.Int64 // reads under way that failed with os.ErrClosed, not ErrCanceled
	var bias raceBias
	drive(t, Scale(100), []string{inFlight, refused}, func(i int) string {
		rd, drainEnd, w := pipeWithDrain(t, r)
		ends := make(chan string, readers)
		var total atomic.Int64
		var closing atomic.Int64 // when Close began (UnixNano)
		for range readers {
			go func() {
				buf := make([]byte, 1)
				for {
					start := time.Now().UnixNano()
					n, err := rd.ReadContext(context.Background(), buf)
					total.Add(int64(n))
					underWay := closing.Load() == 0 || start < closing.Load()
					switch {
					case err == nil && n == 1:
						if buf[0] != 'b' {
							t.Errorf("read %q", buf)
						}
						continue
					case n == 0 && errors.Is(err, aio.ErrCanceled) && errors.Is(err, os.ErrClosed):
						ends <- inFlight
					case n == 0 && errors.Is(err, os.ErrClosed) && underWay:
						plainClosed.Add(1)
						ends <- inFlight
					case n == 0 && errors.Is(err, os.ErrClosed):
						ends <- refused
					default:
						t.Errorf("ReadContext = (%d, %v)", n, err)
						ends <- "failed"
					}
					return
				}
			}()
		}
		// At least one read in flight (blocking reads of one pipe may
		// wait their turn behind it, as os.File's do).
		waitInFlight(t, r, 1)
		msg := bytes.Repeat([]byte{'b'}, 1+rand.IntN(64))
		if i%2 == 1 {
			// Many bytes: the readers are busy reading, between one
			// read and the next, when the Close comes.
			msg = bytes.Repeat([]byte{'b'}, 32<<10)
		}
		bias.race(func() {
			if _, err := w.Write(msg); err != nil {
				t.Error(err)
			}
		}, func() {
			closing.Store(time.Now().UnixNano())
			if err := rd.Close(); err != nil {
				t.Error(err)
			}
			if st := r.Stats(); st.InFlight != 0 {
				t.Errorf("round %d: in flight when Close returned: %+v", i, st)
			}
		}).Wait()
		counts := map[string]int{}
		for range readers {
			counts[<-ends]++
		}
		w.Close()
		rest, err := io.ReadAll(drainEnd)
		if err != nil {
			t.Fatal(err)
		}
		drainEnd.Close()
		written += int64(len(msg))
		got += total.Load() + int64(len(rest))
		// Steer the Close towards the moment the readers have woken up
		// to the data.
		bias.observe(total.Load() == 0)
		if counts[refused] > 0 && (counts[inFlight] == 0 || i%2 == 1) {
			return refused
		}
		return inFlight
	})
	t.Logf("%d reads under way when Close began failed with os.ErrClosed alone, not ErrCanceled", plainClosed.Load())
	if got != written {
		t.Errorf("written %d bytes, read and left in the pipes %d", written, got)
	}
}

// testNoDescriptorReuse: a file is closed while writes to it are in
// flight, and meanwhile other files are opened (so they may get the
// closed descriptor's number). Close waits for the writes before it frees
// the number, so none of the new files ever receives a byte.
func testNoDescriptorReuse(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir := t.TempDir()
	const writes, size = 8, 256 << 10
	data := bytes.Repeat([]byte{'A'}, size)
	var victims []string
	drive(t, Scale(50), nil, func(i int) string {
		f, err := r.Open(context.Background(), filepath.Join(dir, "a"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		var ops []*aio.Op
		for k := range writes {
			op, err := f.StartWriteAt(data, int64(k)*size)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // opens files while the Close runs
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				name := filepath.Join(dir, fmt.Sprintf("b%d-%d", i, k))
				g, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					t.Error(err)
					return
				}
				victims = append(victims, name)
				defer g.Close() // held until the round ends
			}
		}()
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		for _, op := range ops {
			if !isDone(op) {
				t.Fatal("a write in flight after Close returned")
			}
			if n, err := op.Wait(); err != nil && !(n == 0 && errors.Is(err, aio.ErrCanceled)) {
				t.Fatalf("write = (%d, %v)", n, err)
			}
		}
		return "closed with writes in flight"
	})
	for _, name := range victims {
		if fi, err := os.Stat(name); err != nil || fi.Size() != 0 {
			t.Fatalf("%s, opened while another file closed, has %d bytes (%v)", name, fi.Size(), err)
		}
	}
	t.Logf("%d files opened during the Closes, all empty", len(victims))
}

// testOpenCancelRaces: opens (with O_CREATE|O_TRUNC, which io_uring
// cannot do inline) race their context's cancel, while writes and syncs
// keep the backend's threads busy (so that an open may still be queued
// when its cancel comes). An open that completed
// anyway hands its File to the waiting caller; a cancelled one leaves
// nothing. The process has the descriptors it started with at the end.
func testOpenCancelRaces(t *testing.T, s *suite) {
	checkLeaks := handleLeakCheck(t)
	r := s.ring(t, 0)
	dir := t.TempDir()
	stopLoad := busyBackend(t, r, 8)
	var bias raceBias
	drive(t, Scale(1000), []string{outCanceled, outRaceLost}, func(i int) string {
		name := filepath.Join(dir, fmt.Sprint("f", i%16))
		ctx, cancel := context.WithCancel(context.Background())
		lost := r.Stats().CancelRacesLost
		inFlight := r.Stats().InFlight
		var f *aio.File
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			f, err = r.Open(ctx, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		}()
		pollInFlight(r, inFlight+1, done)
		wg := bias.race(func() {}, cancel)
		<-done
		wg.Wait()
		switch {
		case err == nil:
			bias.observe(false)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			return raceOutcome(r, lost)
		case errors.Is(err, context.Canceled):
			bias.observe(true)
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != "open" || pe.Path != name {
				t.Fatalf("cancelled Open = %v, want a *fs.PathError for open %s", err, name)
			}
			return outCanceled
		}
		t.Fatalf("round %d: Open = %v", i, err)
		return ""
	})
	stopLoad()
	if err := r.Close(); err != nil && !isClosedErr(err) {
		t.Fatal(err)
	}
	checkLeaks("after the opens")
}

// testTinyRingBurst puts far more operations in flight than an 8-entry
// ring's queues hold, then makes them all complete at once: the SQ fills
// (submitters wait) and the CQ overflows (completions wait in the kernel).
func testTinyRingBurst(t *testing.T, s *suite) {
	r := s.ring(t, 8)
	const pipes, perPipe = 50, 20
	var ops []*aio.Op
	var ws []*os.File
	for range pipes {
		rd, w := pipe(t, r)
		ws = append(ws, w)
		for range perPipe {
			op, err := rd.StartRead(make([]byte, 1))
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
	}
	for _, w := range ws {
		if _, err := w.Write(bytes.Repeat([]byte{'b'}, perPipe)); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for i, op := range ops {
		n, err := waitOp(t, op)
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		total += n
	}
	if total != pipes*perPipe {
		t.Errorf("read %d bytes, wrote %d", total, pipes*perPipe)
	}
	const size = 256 << 10
	f := patternFile(t, r, size)
	nops := Scale(3000)
	fops := make([]*aio.Op, nops)
	bufs := make([][]byte, nops)
	offs := make([]int64, nops)
	for i := range nops {
		bufs[i] = make([]byte, 64)
		offs[i] = rand.Int64N(size - 64)
		op, err := f.StartReadAt(bufs[i], offs[i])
		if err != nil {
			t.Fatal(err)
		}
		fops[i] = op
	}
	for i, op := range fops {
		if n, err := waitOp(t, op); n != 64 || err != nil {
			t.Fatalf("read %d = (%d, %v)", i, n, err)
		}
		checkPattern(t, bufs[i], offs[i])
	}
	if st := r.Stats(); st.Submitted != st.Completed || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// testTinyRingConcurrent: 32 goroutines read and write through an
// 8-entry ring with the GC running all the while.
func testTinyRingConcurrent(t *testing.T, s *suite) {
	r := s.ring(t, 8)
	gcs := gcPressure(t)
	const size = 1 << 20
	f := patternFile(t, r, size)
	workers, iters := 32, Scale(500)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			// Each worker owns one 4 KiB block to write; everyone reads anywhere
			// outside the written blocks.
			own := int64(g) * 4096
			for i := range iters {
				switch i % 4 {
				case 0:
					fillPattern(buf, own)
					if n, err := f.WriteAt(buf, own); n != len(buf) || err != nil {
						t.Errorf("WriteAt = (%d, %v)", n, err)
						return
					}
				default:
					off := int64(workers)*4096 + rand.Int64N(size-int64(workers)*4096-4096)
					n, err := f.ReadAt(buf, off)
					if n != len(buf) || err != nil {
						t.Errorf("ReadAt = (%d, %v)", n, err)
						return
					}
					for k := range buf {
						if buf[k] != patternByte(off+int64(k)) {
							t.Errorf("ReadAt at %d: wrong data", off)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	st := r.Stats()
	t.Logf("%d calls, %d garbage collections: %+v", workers*iters, gcs(), st)
	if st.Submitted != st.Completed || st.InFlight != 0 || st.Submitted < uint64(workers*iters) {
		t.Errorf("stats %+v after %d calls", st, workers*iters)
	}
}

// wantBadInput checks the error of a call refused for bad input: a
// *fs.PathError for op, whose text says why (contains reason), and not
// an error of some other class (a closed file, a bad descriptor, a fault).
func wantBadInput(t *testing.T, what string, err error, op, reason string) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T) is not a *fs.PathError", what, err, err)
		return
	}
	if pe.Op != op {
		t.Errorf("%s: PathError.Op = %q, want %q", what, pe.Op, op)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("%s: error %q does not say %q", what, err, reason)
	}
	for _, other := range []error{os.ErrClosed, syscall.EBADF, syscall.EFAULT, aio.ErrCanceled, errors.ErrUnsupported} {
		if errors.Is(err, other) {
			t.Errorf("%s: error %q matches %v", what, err, other)
		}
	}
}

func testBadInput(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	buf := sentinel(16)
	before := r.Stats()
	_, err := f.ReadAt(buf, -1)
	wantBadInput(t, "ReadAt(-1)", err, "readat", "negative offset")
	_, err = f.WriteAt(buf, -1)
	wantBadInput(t, "WriteAt(-1)", err, "writeat", "negative offset")
	_, err = f.ReadAtContext(context.Background(), buf, -5)
	wantBadInput(t, "ReadAtContext(-5)", err, "readat", "negative offset")
	_, err = f.WriteAtContext(context.Background(), buf, -5)
	wantBadInput(t, "WriteAtContext(-5)", err, "writeat", "negative offset")
	op, err := f.StartReadAt(buf, -1)
	wantBadInput(t, "StartReadAt(-1)", err, "readat", "negative offset")
	if op != nil {
		t.Error("StartReadAt(-1) returned an Op")
	}
	_, err = f.StartWriteAt(buf, -1)
	wantBadInput(t, "StartWriteAt(-1)", err, "writeat", "negative offset")
	_, err = r.Open(context.Background(), "bad\x00name", os.O_RDONLY, 0)
	wantPathErr(t, "Open with NUL", err, syscall.EINVAL)
	// A buffer larger than one operation accepts (reserved, never
	// touched): the Start calls refuse it without submitting.
	if huge, release, ok := hugeBuffer(t); ok {
		_, err = f.StartReadAt(huge, 0)
		wantBadInput(t, "StartReadAt with a huge buffer", err, "read", "larger")
		_, err = f.StartWrite(huge)
		wantBadInput(t, "StartWrite with a huge buffer", err, "write", "larger")
		release()
	}
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("bad input submitted %d operations", after.Submitted-before.Submitted)
	}
	if !untouched(buf) {
		t.Error("bad input touched the buffer")
	}
	// A closed ring refuses everything.
	r2 := s.newRing(t, aio.Config{})
	f2 := patternFile(t, r2, 4096)
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	closedAt := r2.Stats()
	_, err = f2.ReadAt(buf, 0)
	wantPathErr(t, "ReadAt on a closed ring", err, os.ErrClosed)
	_, err = f2.StartRead(buf)
	wantPathErr(t, "StartRead on a closed ring", err, os.ErrClosed)
	_, err = r2.Open(context.Background(), f.Name(), os.O_RDONLY, 0)
	wantPathErr(t, "Open on a closed ring", err, os.ErrClosed)
	if _, err := r2.Listen("tcp", "127.0.0.1:0"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen on a closed ring = %v, want net.ErrClosed", err)
	}
	if st := r2.Stats(); st != closedAt {
		t.Errorf("the closed ring's counters moved: %+v, then %+v", closedAt, st)
	}
	if !untouched(buf) {
		t.Error("a closed ring touched the buffer")
	}
	if err := f2.Close(); err != nil { // the descriptor is still the file's to close
		t.Errorf("File.Close after Ring.Close: %v", err)
	}
}

// testClosedRingRefusesStreams: once the ring is closed, calls on its
// pipes and connections fail at once with os.ErrClosed (net.ErrClosed)
// and submit nothing, as calls on its files do (rules 6 and 9). Data
// waits in them, so that a call wrongly let through returns it rather
// than waiting for ever.
func testClosedRingRefusesStreams(t *testing.T, s *suite) {
	r := s.newRing(t, aio.Config{})
	p, w := pipe(t, r)
	c, srv := tcpPair(t, r)
	w.Write([]byte("data waiting"))
	srv.Write([]byte("data waiting"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	buf := sentinel(64)
	closedAt := r.Stats()
	for _, call := range []struct {
		what   string
		closed error
		call   func() (int, error)
	}{
		{"a pipe's Read", os.ErrClosed, func() (int, error) { return p.Read(buf) }},
		{"a pipe's StartRead", os.ErrClosed, func() (int, error) { _, err := p.StartRead(buf); return 0, err }},
		{"a Conn's Read", net.ErrClosed, func() (int, error) { return c.Read(buf) }},
		{"a Conn's Write", net.ErrClosed, func() (int, error) { return c.Write(buf) }},
		{"DialContext", net.ErrClosed, func() (int, error) {
			_, err := r.DialContext(context.Background(), "tcp", "127.0.0.1:1")
			return 0, err
		}},
	} {
		if n, err := call.call(); !errors.Is(err, call.closed) {
			t.Errorf("%s on a closed ring = (%d, %v), want an error matching %v", call.what, n, err, call.closed)
		}
	}
	if st := r.Stats(); st != closedAt {
		t.Errorf("the closed ring's counters moved: %+v, then %+v", closedAt, st)
	}
	if !untouched(buf) {
		t.Error("a closed ring touched the buffer")
	}
}

// testUnsupportedOperation: an operation the backend cannot do on this
// system fails at once with an error matching errors.ErrUnsupported that
// names what is missing, and submits nothing (rule 9).
func testUnsupportedOperation(t *testing.T, s *suite) {
	if s.disableRead == nil {
		t.Skip("the suite was given no way to make reads unsupported (WithDisableRead)")
	}
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	if !s.disableRead(r) {
		t.Fatalf("the %s backend cannot make reads unsupported", r.Backend())
	}
	buf := sentinel(16)
	before := r.Stats()
	check := func(what string, err error) {
		t.Helper()
		var ue *aio.UnsupportedError
		if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &ue) {
			t.Errorf("%s with reads unsupported = %v; want an *aio.UnsupportedError matching errors.ErrUnsupported", what, err)
			return
		}
		if ue.Backend != r.Backend() || ue.Op == "" || !strings.Contains(err.Error(), ue.Op) {
			t.Errorf("%s: %+v does not name the backend (%s) and what is missing", what, ue, r.Backend())
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != f.Name() {
			t.Errorf("%s: %v is not a *fs.PathError for %s", what, err, f.Name())
		}
	}
	_, err := f.ReadAt(buf, 0)
	check("ReadAt", err)
	op, err := f.StartReadAt(buf, 0)
	check("StartReadAt", err)
	if op != nil {
		t.Error("StartReadAt returned an Op")
	}
	_, err = f.Read(buf)
	check("Read", err)
	if r.Stats().Submitted != before.Submitted || !untouched(buf) {
		t.Error("an unsupported operation was submitted")
	}
	// Writes still work.
	if n, err := f.WriteAt([]byte("ok"), 0); n != 2 || err != nil {
		t.Errorf("WriteAt with reads unsupported = (%d, %v)", n, err)
	}
}

func testEOFAndPathErrors(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 1000)
	buf := make([]byte, 100)
	if n, err := f.ReadAt(buf, 950); n != 50 || err != io.EOF {
		t.Errorf("short ReadAt = (%d, %v), want (50, io.EOF)", n, err)
	}
	if n, err := f.ReadAt(buf, 5000); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past end = (%d, %v), want (0, io.EOF)", n, err)
	}
	op, _ := f.StartReadAt(buf, 1000)
	if n, err := op.Wait(); n != 0 || err != io.EOF {
		t.Errorf("StartReadAt at end = (%d, %v), want (0, io.EOF)", n, err)
	}
	rd, w := pipe(t, r)
	w.Write([]byte("tail"))
	w.Close()
	if n, err := rd.Read(buf); n != 4 || err != nil {
		t.Errorf("Read = (%d, %v)", n, err)
	}
	if n, err := rd.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read at end of stream = (%d, %v), want (0, io.EOF)", n, err)
	}
	_, err := r.Open(context.Background(), "/nonexistent/aiotest", os.O_RDONLY, 0)
	wantPathErr(t, "Open of a missing file", err, fs.ErrNotExist, syscall.ENOENT)
	var pe *fs.PathError
	if errors.As(err, &pe) && (pe.Op != "open" || pe.Path != "/nonexistent/aiotest") {
		t.Errorf("PathError = %+v", pe)
	}
	ro, err := r.Open(context.Background(), f.Name(), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.WriteAt(buf, 0)
	wantPathErr(t, "WriteAt on a read-only file", err, syscall.EBADF)
}

func testReadWriteSync(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	name := t.TempDir() + "/rw"
	f, err := r.Open(context.Background(), name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 3<<20+17)
	fillPattern(data, 0)
	if n, err := f.Write(data[:1000]); n != 1000 || err != nil {
		t.Fatalf("Write = (%d, %v)", n, err)
	}
	if n, err := f.WriteAt(data[1000:], 1000); n != len(data)-1000 || err != nil {
		t.Fatalf("WriteAt = (%d, %v)", n, err)
	}
	if err := f.SyncContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file content differs (err %v, %d bytes)", err, len(got))
	}
	back := make([]byte, len(data))
	if n, err := f.ReadAt(back, 0); n != len(data) || err != nil || !bytes.Equal(back, data) {
		t.Fatalf("ReadAt = (%d, %v)", n, err)
	}
	fi, err := os.Stat(name)
	switch {
	case err != nil:
		t.Error(err)
	case runtime.GOOS == "windows": // only a read-only bit: it must be writable
		if fi.Mode().Perm()&0o200 == 0 {
			t.Errorf("mode = %v, want writable", fi.Mode())
		}
	case fi.Mode().Perm() != 0o600:
		t.Errorf("mode = %v, want 0600", fi.Mode())
	}
	var _ io.ReaderAt = f
	var _ io.WriterAt = f
	var _ io.ReadWriteCloser = f
}
