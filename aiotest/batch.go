package aiotest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

func init() {
	register("Batch/SubmitsAndCompletes", testBatchSubmitsAndCompletes)
	register("Batch/WaitSubmitsItsBatch", testBatchWaitSubmits)
	register("Batch/CancelBeforeSubmit", testBatchCancelBeforeSubmit)
	register("Batch/ClosedFileFailsAtSubmit", testBatchClosedFile)
	register("Batch/ConcurrentStartsAndSubmits", testBatchConcurrent)
	register("Batch/CancelRacesSubmit", testBatchCancelRacesSubmit)
	register("Rule1/OpReuse", testOpReuse)
}

// batchFile is a file of size bytes of fillPattern, opened through r.
func batchFile(t *testing.T, r *aio.Ring, size int) (*aio.File, []byte) {
	t.Helper()
	data := make([]byte, size)
	fillPattern(data, 0)
	name := t.TempDir() + "/batch"
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeAtEnd(t, f)
	return f, data
}

func testBatchSubmitsAndCompletes(t *testing.T, s *suite) {
	r := s.ring(t, 8) // fewer entries than the batch: Submit must make room
	f, data := batchFile(t, r, 64<<10)
	base := r.Stats().Submitted
	b := r.NewBatch()
	const n = 16
	bufs := make([][]byte, n)
	ops := make([]*aio.Op, n)
	for i := range ops {
		bufs[i] = make([]byte, 4096)
		off := int64((i * 5 % n) * 4096)
		var err error
		if ops[i], err = b.StartReadAt(f, bufs[i], off); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.Stats(); st.Submitted != base {
		t.Fatalf("before Submit: %+v, want nothing more submitted than %d", st, base)
	}
	if b.Len() != n {
		t.Fatalf("Len = %d, want %d", b.Len(), n)
	}
	if err := b.Submit(); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatalf("Len after Submit = %d", b.Len())
	}
	for i, op := range ops {
		got, err := op.Wait()
		off := (i * 5 % n) * 4096
		if got != 4096 || err != nil || !bytes.Equal(bufs[i], data[off:off+4096]) {
			t.Fatalf("op %d = (%d, %v), data equal %v", i, got, err, bytes.Equal(bufs[i], data[off:off+4096]))
		}
	}
	if st := r.Stats(); st.Submitted != base+n || st.Completed != base+n {
		t.Fatalf("after the batch: %+v, want %d more submitted and completed", st, n)
	}
	// The batch is reusable, for writes too.
	w, err := b.StartWriteAt(f, []byte("batched"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Submit(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Wait(); n != 7 || err != nil {
		t.Fatalf("batched write = (%d, %v)", n, err)
	}
	back := make([]byte, 7)
	if _, err := f.ReadAt(back, 100); err != nil || string(back) != "batched" {
		t.Fatalf("read back %q, %v", back, err)
	}
	if _, err := b.StartReadAt(f, back, -1); err == nil {
		t.Error("negative offset accepted into a batch")
	}
	if b.Len() != 0 {
		t.Errorf("a refused start was added: Len = %d", b.Len())
	}
}

// Waiting on an operation whose batch was never submitted submits it:
// nothing waits forever on an operation the kernel never saw.
func testBatchWaitSubmits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f, data := batchFile(t, r, 8192)
	base := r.Stats().Submitted
	b := r.NewBatch()
	buf1, buf2 := make([]byte, 4096), make([]byte, 4096)
	op1, err := b.StartReadAt(f, buf1, 0)
	if err != nil {
		t.Fatal(err)
	}
	op2, err := b.StartReadAt(f, buf2, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op2.Wait(); n != 4096 || err != nil || !bytes.Equal(buf2, data[4096:]) {
		t.Fatalf("Wait without Submit = (%d, %v)", n, err)
	}
	<-op1.Done() // submitted with op2
	if n, err := op1.Wait(); n != 4096 || err != nil || !bytes.Equal(buf1, data[:4096]) {
		t.Fatalf("op1 = (%d, %v)", n, err)
	}
	if err := b.Submit(); err != nil { // nothing left
		t.Fatal(err)
	}
	if st := r.Stats(); st.Submitted != base+2 {
		t.Fatalf("%+v, want 2 more than %d submitted", st, base)
	}
}

// A cancel of an operation still in its batch submits the batch, then
// requests the cancel: the operation completes exactly once, cancelled.
func testBatchCancelBeforeSubmit(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, _ := pipe(t, r)
	b := r.NewBatch()
	buf := bytes.Repeat([]byte{0xEE}, 64)
	op, err := b.StartRead(rd, buf)
	if err != nil {
		t.Fatal(err)
	}
	op.Cancel()
	n, err := op.Wait()
	if n != 0 || !errors.Is(err, aio.ErrCanceled) || !errors.Is(err, syscall.ECANCELED) {
		t.Fatalf("cancelled batched read = (%d, %v)", n, err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
		t.Error("the cancelled read changed its buffer")
	}
	if st := r.Stats(); st.InFlight != 0 || st.Canceled != 1 {
		t.Fatalf("%+v, want one op submitted and cancelled", st)
	}
}

// An operation whose file is closed before its batch's Submit is never
// submitted and completes with an error matching os.ErrClosed; Close did
// not wait for it.
func testBatchClosedFile(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f, _ := batchFile(t, r, 4096)
	g, data := batchFile(t, r, 4096)
	base := r.Stats().Submitted
	b := r.NewBatch()
	bufF, bufG := sentinel(4096), make([]byte, 4096)
	opF, err := b.StartReadAt(f, bufF, 0)
	if err != nil {
		t.Fatal(err)
	}
	opG, err := b.StartReadAt(g, bufG, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Submit(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Submit with a closed file = %v, want os.ErrClosed", err)
	}
	if n, err := opF.Wait(); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("op on the closed file = (%d, %v)", n, err)
	}
	if !untouched(bufF) {
		t.Error("the op refused at Submit touched its buffer")
	}
	opF.Cancel() // no record behind it: must not panic
	if n, err := opG.Wait(); n != 4096 || err != nil || !bytes.Equal(bufG, data) {
		t.Fatalf("the other op = (%d, %v)", n, err)
	}
	if st := r.Stats(); st.Submitted != base+1 {
		t.Fatalf("%+v, want only the open file's op submitted after %d", st, base)
	}
}

// testOpReuse: an Op the caller provides carries one operation after
// another; one still in flight is refused without submitting anything.
func testOpReuse(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f, data := batchFile(t, r, 8192)
	var o aio.Op
	buf := make([]byte, 4096)
	for i, off := range []int64{0, 4096, 0} {
		if err := f.StartReadAtOp(&o, buf, off); err != nil {
			t.Fatalf("use %d: %v", i, err)
		}
		if n, err := o.Wait(); n != 4096 || err != nil || !bytes.Equal(buf, data[off:off+4096]) {
			t.Fatalf("use %d = (%d, %v)", i, n, err)
		}
	}
	resetSentinel(buf)
	before := r.Stats()
	if err := f.StartReadAtOp(&o, buf, -1); err == nil {
		t.Fatal("negative offset accepted")
	}
	b := r.NewBatch()
	if err := b.StartReadAtOp(&o, f, buf, 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.StartReadAtOp(&o, buf, 0); err == nil {
		t.Fatal("an Op waiting in a batch was reused")
	}
	if st := r.Stats(); st.Submitted != before.Submitted || !untouched(buf) {
		t.Fatalf("refused reuses submitted %d operations or touched the buffer", st.Submitted-before.Submitted)
	}
	b.Submit()
	if n, err := o.Wait(); n != 4096 || err != nil || !bytes.Equal(buf, data[4096:]) {
		t.Fatalf("batched reuse = (%d, %v)", n, err)
	}

	rd, w := pipe(t, r)
	pbuf := make([]byte, 8)
	var po aio.Op
	if err := rd.StartReadOp(&po, pbuf); err != nil {
		t.Fatal(err)
	}
	base := r.Stats().Submitted
	if err := rd.StartReadOp(&po, pbuf); err == nil {
		t.Fatal("an Op in flight was reused")
	}
	if st := r.Stats(); st.Submitted != base {
		t.Fatalf("the refused reuse submitted something: %+v", st)
	}
	w.Write([]byte("x"))
	if n, err := po.Wait(); n != 1 || err != nil || pbuf[0] != 'x' {
		t.Fatalf("pipe read = (%d, %v)", n, err)
	}
	resetSentinel(pbuf)
	if err := rd.StartReadOp(&po, pbuf); err != nil {
		t.Fatalf("reuse after completion: %v", err)
	}
	po.Cancel()
	if n, err := po.Wait(); n != 0 || !errors.Is(err, aio.ErrCanceled) || !untouched(pbuf) {
		t.Fatalf("cancelled reused op = (%d, %v), buffer %q", n, err, pbuf)
	}
}

// Goroutines start operations into one batch (reusing their Ops) while
// others submit it: every operation is submitted once and completes once,
// with the right bytes; none is lost between a start and a Submit (its
// Done would never close), and the counts agree at the end.
func testBatchConcurrent(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	f, data := batchFile(t, r, 64<<10)
	base := r.Stats()
	b := r.NewBatch()
	const starters, depth = 4, 8
	rounds := Scale(300)
	stop := make(chan struct{})
	var submitters sync.WaitGroup
	for range 2 {
		submitters.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := b.Submit(); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
			}
		})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	started := 0
	for g := range starters {
		wg.Go(func() {
			ops := make([]aio.Op, depth)
			bufs := make([][]byte, depth)
			offs := make([]int, depth)
			live := make([]bool, depth)
			wait := func(i int) bool {
				select {
				case <-ops[i].Done(): // submits the batch if it still holds ops[i]
				case <-time.After(30 * time.Second):
					t.Errorf("starter %d: an operation never completed (lost from its batch?)", g)
					return false
				}
				n, err := ops[i].Wait()
				if n != len(bufs[i]) || err != nil || !bytes.Equal(bufs[i], data[offs[i]:offs[i]+n]) {
					t.Errorf("starter %d: read at %d = (%d, %v), bytes right: %v", g, offs[i], n, err, n == len(bufs[i]) && bytes.Equal(bufs[i], data[offs[i]:offs[i]+n]))
					return false
				}
				live[i] = false
				return true
			}
			n := 0
			for k := range rounds * depth {
				i := k % depth
				if live[i] && !wait(i) {
					return
				}
				if bufs[i] == nil {
					bufs[i] = make([]byte, 512)
				}
				offs[i] = (g*depth + k) % 120 * 512
				if err := b.StartReadAtOp(&ops[i], f, bufs[i], int64(offs[i])); err != nil {
					t.Errorf("starter %d: StartReadAtOp: %v", g, err)
					return
				}
				live[i] = true
				n++
			}
			for i := range ops {
				if live[i] && !wait(i) {
					return
				}
			}
			mu.Lock()
			started += n
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stop)
	submitters.Wait()
	if t.Failed() {
		return
	}
	if err := b.Submit(); err != nil || b.Len() != 0 {
		t.Fatalf("after every operation completed: Submit = %v, Len = %d", err, b.Len())
	}
	st := r.Stats()
	if st.Submitted-base.Submitted != uint64(started) || st.Completed-base.Completed != uint64(started) {
		t.Fatalf("%d operations started: %d more submitted, %d more completed", started, st.Submitted-base.Submitted, st.Completed-base.Completed)
	}
}

// Cancels race another goroutine's Submit of the operation's batch (a
// read of an empty pipe, which only a cancel ends), many times: the read
// completes, cancelled, its buffer untouched, and nothing stays in
// flight. The first Cancel may submit the batch itself or find it
// submitted; both are counted. (Submit once took an operation out of its
// batch before it had its record, so that a Cancel in between read the
// record unsynchronised, found none, and did nothing: -race reports it.)
func testBatchCancelRacesSubmit(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	rd, _ := pipe(t, r)
	b := r.NewBatch()
	buf := make([]byte, 64)
	rounds := Scale(2000)
	var cancelFirst, submitFirst int
	for i := range rounds {
		op, err := b.StartRead(rd, buf)
		if err != nil {
			t.Fatal(err)
		}
		ready, submitted := make(chan struct{}), make(chan struct{})
		go func() {
			close(ready)
			if i%4 == 3 { // now and then later, so that both go first
				runtime.Gosched()
			}
			b.Submit()
			close(submitted)
		}()
		<-ready
		op.Cancel()
		select {
		case <-submitted:
			submitFirst++
		default:
			cancelFirst++
		}
		for k := 0; k < 20 && !op.Completed(); k++ { // more cancels into the race
			op.Cancel()
		}
		select {
		case <-op.Done():
		case <-time.After(10 * time.Second): // microseconds when the cancel is not lost
			t.Fatalf("round %d: the cancelled read never completed: a cancel was lost", i)
		}
		<-submitted
		if n, err := op.Wait(); n != 0 || !errors.Is(err, aio.ErrCanceled) {
			t.Fatalf("round %d: cancelled read = (%d, %v)", i, n, err)
		}
		if buf[0] != 0 {
			t.Fatalf("round %d: the cancelled read wrote its buffer", i)
		}
	}
	t.Logf("first Cancel returned before the other Submit: %d, after: %d", cancelFirst, submitFirst)
	if cancelFirst == 0 || submitFirst == 0 {
		t.Errorf("one order never happened in %d rounds (cancel first %d, Submit first %d)", rounds, cancelFirst, submitFirst)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Fatalf("%+v: operations still in flight", st)
	}
}
