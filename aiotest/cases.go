package aiotest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
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
	register("Rule3/CancelBlockedPipeRead", testCancelBlockedPipeRead)
	register("Rule3/CancelRacesWrite", testCancelRacesWrite)
	register("Rule3/StaleCancelHitsNothing", testStaleCancel)
	register("Rule3/CancelAll", testCancelAll)
	register("Rule4/BuffersSurviveGC", testBuffersSurviveGC)
	register("Rule5/ReadContextCanceledMidFlight", testReadContextCanceledMidFlight)
	register("Rule5/ReadContextRacesWrite", testReadContextRacesWrite)
	register("Rule5/ContextAlreadyDone", testContextAlreadyDone)
	register("Rule5/ContextDeadline", testContextDeadline)
	register("Rule5/CompletedDespiteCancel", testCompletedDespiteCancel)
	register("Rule5/FileReadsRaceContext", testFileReadsRaceContext)
	register("Rule6/FileCloseWaits", testFileCloseWaits)
	register("Rule6/RingCloseWaits", testRingCloseWaits)
	register("Rule6/CloseRacesSubmitters", testCloseRacesSubmitters)
	register("Rule8/TinyRingBurst", testTinyRingBurst)
	register("Rule8/TinyRingConcurrent", testTinyRingConcurrent)
	register("Rule8/SubmitterThreadExits", testSubmitterThreadExits)
	register("Rule9/BadInput", testBadInput)
	register("Errors/EOFAndPathErrors", testEOFAndPathErrors)
	register("Files/ReadWriteSync", testReadWriteSync)
}

func testFailedStartSubmitsNothing(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	buf := bytes.Repeat([]byte{0xEE}, 128)
	before := r.Stats()
	if err := f.Close(); err != nil {
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
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("failed starts submitted %d operations", after.Submitted-before.Submitted)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 128)) {
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
// a 1-byte write and a cancel race. Every round ends in exactly one of the
// two outcomes, both are observed, and every byte written is read exactly
// once (by a round that won, or by the final drain).
func testCancelRacesWrite(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := aioPipe(t, r)
	rounds := Scale(3000)
	var completed, canceled, bytesRead int
	var bias raceBias
	buf := make([]byte, 64)
	for i := range rounds {
		for j := range buf {
			buf[j] = 0xEE
		}
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
			completed++
			bias.observe(false)
			bytesRead += n
			if !bytes.Equal(buf[:n], bytes.Repeat([]byte{'x'}, n)) || buf[n] != 0xEE {
				t.Fatalf("round %d: buffer %q after reading %d bytes", i, buf[:n+1], n)
			}
		case errors.Is(err, aio.ErrCanceled) && n == 0:
			canceled++
			bias.observe(true)
			if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, len(buf))) {
				t.Fatalf("round %d: cancelled read wrote its buffer", i)
			}
			// The byte is still in the pipe: read it now, so the next
			// round starts on an empty pipe again.
			if n, err := rd.Read(make([]byte, 64)); n != 1 || err != nil {
				t.Fatalf("round %d: draining after cancel = (%d, %v), want the 1 byte", i, n, err)
			}
			bytesRead++
		default:
			t.Fatalf("round %d: (%d, %v) is neither a completion nor a cancel", i, n, err)
		}
	}
	w.Close()
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	t.Logf("%d rounds: %d completed, %d cancelled, %d cancels lost the race; %d bytes left for the drain",
		rounds, completed, canceled, st.CancelRacesLost, len(rest))
	if bytesRead+len(rest) != rounds {
		t.Errorf("bytes written %d != bytes read %d + drained %d", rounds, bytesRead, len(rest))
	}
	if completed == 0 || canceled == 0 {
		t.Errorf("want both outcomes observed: %d completed, %d cancelled", completed, canceled)
	}
	if st.Canceled != uint64(canceled) {
		t.Errorf("Stats.Canceled = %d, observed %d", st.Canceled, canceled)
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

func testCancelAll(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
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
	// The file is still usable.
	w.Write([]byte("ok"))
	buf := make([]byte, 8)
	if n, err := rd.Read(buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("Read after CancelAll = (%d, %v) %q", n, err, buf[:n])
	}
}

// testBuffersSurviveGC drops every reference to in-flight reads and their
// buffers, churns the heap through many collections, and checks that the
// buffers stayed alive (weak pointers still resolve), that the kernel's
// writes landed in them, and that no other object was corrupted.
func testBuffersSurviveGC(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const nops, size = 32, 4096
	type slot struct {
		w    *os.File
		buf  weak.Pointer[byte]
		done chan int
	}
	slots := make([]slot, nops)
	for i := range slots {
		rd, w := pipe(t, r)
		slots[i].w = w
		slots[i].done = make(chan int, 1)
		func() { // the buffer and Op live only in this frame
			buf := bytes.Repeat([]byte{0xEE}, size)
			slots[i].buf = weak.Make(&buf[0])
			op, err := rd.StartRead(buf)
			if err != nil {
				t.Fatal(err)
			}
			done := slots[i].done
			op.OnComplete(func(n int, err error) {
				if err != nil {
					t.Errorf("read %d: %v", i, err)
				}
				done <- n
			})
		}()
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
	for i := range slots {
		if slots[i].buf.Value() == nil {
			t.Fatalf("buffer %d was collected while its read was in flight", i)
		}
		msg := make([]byte, size)
		fillPattern(msg, int64(i))
		if _, err := slots[i].w.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	for i := range slots {
		n := <-slots[i].done
		if n != size {
			t.Fatalf("read %d got %d bytes, want %d", i, n, size)
		}
		if p := slots[i].buf.Value(); p != nil {
			checkPattern(t, unsafe.Slice(p, size), int64(i))
		}
	}
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
// cancel side waits bias spins more (plus jitter), or the act side -bias
// more when bias is negative, and the bias moves after each round
// towards whichever outcome is rarer, so the rounds settle around the
// race window whatever the machine's speed and whichever side is slower.
type raceBias struct{ bias int }

func (b *raceBias) observe(canceled bool) {
	step := max(b.bias, -b.bias)/8 + 50
	if canceled {
		b.bias += step
	} else {
		b.bias -= step
	}
}

// race runs act and cancel in two new goroutines, each after a random
// spin (cancel's shifted by the bias), and returns a WaitGroup that is
// done when both have run. (No start barrier: goroutines spinning on one
// would starve the caller on a small machine.)
func (b *raceBias) race(act, cancel func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	run := func(fn func(), spins int) {
		defer wg.Done()
		for range spins {
			spinSink.Add(1)
		}
		fn()
	}
	wg.Add(2)
	go run(act, max(-b.bias, 0)+rand.IntN(1000))
	go run(cancel, max(b.bias, 0)+rand.IntN(1000))
	return &wg
}

var spinSink atomic.Int64

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

func testReadContextCanceledMidFlight(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	buf := bytes.Repeat([]byte{0xEE}, 64)
	ctx, cancel := context.WithCancel(context.Background())
	base := r.Stats().Submitted
	go func() {
		waitSubmitted(t, r, base+1)
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
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
		t.Fatal("buffer written after ReadContext returned")
	}
}

// testReadContextRacesWrite: a context cancel races a write, many times.
// Whatever the outcome, the buffer beyond what was reported is untouched,
// even after more data arrives, and bytes are conserved.
func testReadContextRacesWrite(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := aioPipe(t, r)
	rounds := Scale(2000)
	var got, canceled, bytesRead int
	var bias raceBias
	buf := make([]byte, 64)
	for i := range rounds {
		for j := range buf {
			buf[j] = 0xEE
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := bias.race(func() { w.Write([]byte{'x'}) }, cancel)
		n, err := rd.ReadContext(ctx, buf)
		// Whatever happens next, nothing may write buf[n:] any more.
		wg.Wait()
		switch {
		case err == nil && n > 0:
			got++
			bias.observe(false)
			bytesRead += n
		case n == 0 && errors.Is(err, context.Canceled):
			// Cancelled in flight (matches ErrCanceled too), or ctx ended
			// before anything was submitted.
			canceled++
			bias.observe(true)
			if n, err := rd.Read(make([]byte, 64)); n != 1 || err != nil {
				t.Fatalf("round %d: draining after cancel = (%d, %v), want the 1 byte", i, n, err)
			}
			bytesRead++
		default:
			t.Fatalf("round %d: ReadContext = (%d, %v)", i, n, err)
		}
		if !bytes.Equal(buf[n:], bytes.Repeat([]byte{0xEE}, len(buf)-n)) {
			t.Fatalf("round %d: buffer written beyond the %d bytes reported", i, n)
		}
	}
	w.Close()
	rest, _ := io.ReadAll(rd)
	t.Logf("%d rounds: %d read data, %d cancelled", rounds, got, canceled)
	if bytesRead+len(rest) != rounds {
		t.Errorf("written %d != read %d + drained %d", rounds, bytesRead, len(rest))
	}
	if got == 0 || canceled == 0 {
		t.Errorf("want both outcomes: %d read, %d cancelled", got, canceled)
	}
}

func testContextAlreadyDone(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	rd, _ := pipe(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	buf := bytes.Repeat([]byte{0xEE}, 64)
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
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
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

func testCompletedDespiteCancel(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
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
	// The same through the blocking call: data already there, ctx ends
	// while the read is in flight or already done; bytes win.
	for i := range Scale(200) {
		w.Write([]byte("abcd"))
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			go cancel()
		}
		n, err := rd.ReadContext(ctx, buf)
		cancel()
		if err == nil && n == 4 && string(buf) == "abcd" {
			continue
		}
		if errors.Is(err, context.Canceled) && n == 0 {
			// Cancelled before the data was seen: it is still in the pipe.
			if n, err := rd.Read(buf); n != 4 || err != nil {
				t.Fatalf("drain after cancel = (%d, %v)", n, err)
			}
			continue
		}
		t.Fatalf("round %d: ReadContext = (%d, %v)", i, n, err)
	}
}

func testFileReadsRaceContext(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size = 1 << 20
	f := patternFile(t, r, size)
	var full, short int
	for i := range Scale(500) {
		buf := make([]byte, 64<<10)
		off := rand.Int64N(size - int64(len(buf)))
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			go cancel()
		}
		n, err := f.ReadAtContext(ctx, buf, off)
		cancel()
		checkPattern(t, buf[:n], off)
		if err == nil {
			if n != len(buf) {
				t.Fatalf("ReadAtContext = %d bytes and no error", n)
			}
			full++
		} else {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("ReadAtContext = (%d, %v)", n, err)
			}
			short++
		}
	}
	t.Logf("%d full reads, %d cut short by their context", full, short)
}

func testFileCloseWaits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, _ := pipe(t, r)
	nops := 200
	ops := make([]*aio.Op, nops)
	for i := range ops {
		op, err := rd.StartRead(make([]byte, 8))
		if err != nil {
			t.Fatal(err)
		}
		ops[i] = op
	}
	blocked := make(chan error, 1)
	base := r.Stats().Submitted
	go func() {
		_, err := rd.ReadContext(context.Background(), make([]byte, 8))
		blocked <- err
	}()
	waitSubmitted(t, r, base+1)
	if err := rd.Close(); err != nil {
		t.Fatal(err)
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
	wantPathErr(t, "blocked ReadContext", <-blocked, os.ErrClosed)
	_, err := rd.StartRead(make([]byte, 8))
	wantPathErr(t, "StartRead after Close", err, os.ErrClosed)
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after Close: %+v", st)
	}
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

// testCloseRacesSubmitters: goroutines keep starting reads while the file
// is closed under them. Every read that started completes; none hangs.
func testCloseRacesSubmitters(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	for range Scale(100) {
		rd, w := pipe(t, r)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 8)
				for {
					_, err := rd.ReadContext(context.Background(), buf)
					if errors.Is(err, os.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("ReadContext: %v", err)
						return
					}
				}
			}()
		}
		w.Write([]byte("some bytes for the readers"))
		if err := rd.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		w.Close()
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight: %+v", st)
	}
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
		n, err := op.Wait()
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
		if n, err := op.Wait(); n != 64 || err != nil {
			t.Fatalf("read %d = (%d, %v)", i, n, err)
		}
		checkPattern(t, bufs[i], offs[i])
	}
	if st := r.Stats(); st.Submitted != st.Completed || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

func testTinyRingConcurrent(t *testing.T, s *suite) {
	r := s.ring(t, 8)
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
	if st := r.Stats(); st.Submitted != st.Completed || st.InFlight != 0 || st.Submitted < uint64(workers*iters) {
		t.Errorf("stats %+v after %d calls", st, workers*iters)
	}
}

// testSubmitterThreadExits: io_uring ties requests to the submitting
// thread. A goroutine that locks its thread and exits takes the thread
// with it; its operation must still complete, exactly once.
func testSubmitterThreadExits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, w := pipe(t, r)
	started := make(chan *aio.Op)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		op, err := rd.StartRead(make([]byte, 8))
		if err != nil {
			t.Error(err)
		}
		started <- op
	}()
	op := <-started
	if op == nil {
		t.FailNow()
	}
	w.Write([]byte("late"))
	n, err := op.Wait()
	if !(n == 4 && err == nil) && !(n == 0 && errors.Is(err, aio.ErrCanceled)) {
		t.Fatalf("op from an exited thread = (%d, %v)", n, err)
	}
	if st := r.Stats(); st.Completed != st.Submitted {
		t.Errorf("stats %+v", st)
	}
}

func testBadInput(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f := patternFile(t, r, 4096)
	buf := bytes.Repeat([]byte{0xEE}, 16)
	before := r.Stats()
	_, err := f.ReadAt(buf, -1)
	wantPathErr(t, "ReadAt(-1)", err)
	_, err = f.WriteAt(buf, -1)
	wantPathErr(t, "WriteAt(-1)", err)
	_, err = f.ReadAtContext(context.Background(), buf, -5)
	wantPathErr(t, "ReadAtContext(-5)", err)
	op, err := f.StartReadAt(buf, -1)
	wantPathErr(t, "StartReadAt(-1)", err)
	if op != nil {
		t.Error("StartReadAt(-1) returned an Op")
	}
	_, err = f.StartWriteAt(buf, -1)
	wantPathErr(t, "StartWriteAt(-1)", err)
	_, err = r.Open(context.Background(), "bad\x00name", os.O_RDONLY, 0)
	wantPathErr(t, "Open with NUL", err)
	testHugeBuffer(t, f)
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("bad input submitted %d operations", after.Submitted-before.Submitted)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 16)) {
		t.Error("bad input touched the buffer")
	}
	// A closed ring refuses everything.
	r2 := s.newRing(t, aio.Config{})
	f2 := patternFile(t, r2, 4096)
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = f2.ReadAt(buf, 0)
	wantPathErr(t, "ReadAt on a closed ring", err, os.ErrClosed)
	_, err = f2.StartRead(buf)
	wantPathErr(t, "StartRead on a closed ring", err, os.ErrClosed)
	if err := f2.Close(); err != nil { // the descriptor is still the file's to close
		t.Errorf("File.Close after Ring.Close: %v", err)
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
