package aio_test

// Faults the kernel will not produce on demand, injected through the
// io_uring ABI layer's test hooks (internal/uring): EINTR, EAGAIN and
// EBUSY from io_uring_enter, ENOMEM (and EINVAL) from io_uring_setup,
// and short reads and writes. No completion may be lost or duplicated,
// no byte under- or over-reported (rules 2 and 8).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
	abi "github.com/waitforit/aio/internal/uring"
)

// enterFaults fails every third submitting io_uring_enter, with EINTR,
// EAGAIN and EBUSY in turn, and counts them.
type enterFaults struct {
	calls                     atomic.Uint64
	eintr, eagain, ebusy, all atomic.Uint64
	overflowSeen              atomic.Uint64 // enters made while the kernel held overflowed completions
}

func (f *enterFaults) enter(r *abi.Ring, toSubmit, minComplete, flags uint32) error {
	if r.SQFlags()&abi.SQCQOverflow != 0 {
		f.overflowSeen.Add(1)
	}
	// Only enters that submit: one that only moves overflowed
	// completions into the CQ (GETEVENTS, min_complete 0) returns none of
	// these errors on any kernel (io_cqring_wait returns before it could).
	if toSubmit == 0 {
		return nil
	}
	n := f.calls.Add(1)
	if n%3 != 0 {
		return nil
	}
	f.all.Add(1)
	switch n / 3 % 3 {
	case 0:
		f.eintr.Add(1)
		return syscall.EINTR
	case 1:
		f.eagain.Add(1)
		return syscall.EAGAIN
	}
	f.ebusy.Add(1)
	return syscall.EBUSY
}

func (f *enterFaults) check(t *testing.T) {
	t.Helper()
	t.Logf("%d enters, %d failed on purpose: %d EINTR, %d EAGAIN, %d EBUSY; %d enters with completions in the overflow list",
		f.calls.Load(), f.all.Load(), f.eintr.Load(), f.eagain.Load(), f.ebusy.Load(), f.overflowSeen.Load())
	if f.eintr.Load() == 0 || f.eagain.Load() == 0 || f.ebusy.Load() == 0 {
		t.Error("a kind of fault was never injected")
	}
}

func newURingRing(tb testing.TB, cfg aio.Config) *aio.Ring {
	tb.Helper()
	cfg.Backend = "uring"
	r, err := aio.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	aio.KeepStreamsOnRingForTest(r) // the faults are the ring's: pipes and sockets keep their Start calls there
	return r
}

// TestURingEnterFaults runs the suite's cases that keep many operations
// and cancels going (and the tiny rings whose queues fill and overflow)
// while a third of the submitting io_uring_enter calls fail with EINTR,
// EAGAIN or EBUSY.
func TestURingEnterFaults(t *testing.T) {
	needURing(t)
	f := &enterFaults{}
	defer abi.SetEnterFaultForTest(f.enter)()
	for _, prefix := range []string{"Rule2/", "Rule3/Cancel", "Rule5/ReadContextRacesWrite", "Rule6/", "Rule8/", "BufferPool/CancelStorm", "Batch/"} {
		aiotest.RunPrefix(t, prefix, newURingRing)
	}
	batchReadsUnderFaults(t)
	f.check(t)
}

// batchReadsUnderFaults keeps Batches of cached reads going, which the
// calling goroutine enters on the inline ring itself (in SQPOLL mode the
// only submitting enters there are), and checks every byte.
func batchReadsUnderFaults(t *testing.T) {
	r, f := uringFile(t, 64*4096)
	want := make([]byte, 64*4096)
	for i := range want {
		want[i] = byte(i / 4096 * 7)
	}
	if _, err := f.WriteAt(want, 0); err != nil {
		t.Fatal(err)
	}
	ops := make([]aio.Op, 16)
	bufs := make([][]byte, len(ops))
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	b := r.NewBatch()
	for round := range 64 {
		for i := range ops {
			if err := b.StartReadAtOp(&ops[i], f, bufs[i], int64((round+i)%64)*4096); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Submit(); err != nil {
			t.Fatal(err)
		}
		for i := range ops {
			off := (round + i) % 64 * 4096
			if n, err := ops[i].Wait(); n != 4096 || err != nil || !bytes.Equal(bufs[i], want[off:off+4096]) {
				t.Fatalf("round %d read %d = (%d, %v), right bytes %v", round, i, n, err, bytes.Equal(bufs[i], want[off:off+4096]))
			}
		}
	}
}

// TestURingTinyRingOverflows: the tiny-ring cases really overflow the
// completion queue (what they are there for).
func TestURingTinyRingOverflows(t *testing.T) {
	needURing(t)
	f := &enterFaults{}
	defer abi.SetEnterFaultForTest(func(r *abi.Ring, toSubmit, minComplete, flags uint32) error {
		if r.SQFlags()&abi.SQCQOverflow != 0 {
			f.overflowSeen.Add(1)
		}
		return nil
	})()
	aiotest.RunPrefix(t, "Rule8/TinyRingBurst", newURingRing)
	t.Logf("%d enters with completions in the overflow list", f.overflowSeen.Load())
	if f.overflowSeen.Load() == 0 {
		t.Error("Rule8/TinyRingBurst never overflowed the completion queue")
	}
}

// TestURingSetupFaults: a ring whose io_uring_setup fails for want of
// memory is an error matching ENOMEM, with no descriptor left behind, and
// the automatic choice falls back to the portable backend. A kernel that
// refuses IORING_SETUP_SUBMIT_ALL (before 5.18) still gets a ring.
func TestURingSetupFaults(t *testing.T) {
	needURing(t)
	fds := func() int {
		d, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(d)
	}
	var calls atomic.Int64
	restore := abi.SetSetupFaultForTest(func(entries uint32, p *abi.Params) error {
		calls.Add(1)
		return syscall.ENOMEM
	})
	before := fds()
	_, err := aio.New(aio.Config{Backend: "uring"})
	if !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("New(uring) with io_uring_setup failing ENOMEM = %v", err)
	}
	r, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatalf("New with the automatic backend, io_uring_setup failing ENOMEM: %v", err)
	}
	if r.Backend() != "portable" {
		t.Errorf("automatic backend = %q, want portable", r.Backend())
	}
	r.Close()
	restore()
	if after := fds(); after != before {
		t.Errorf("%d descriptors after the failed setups, %d before", after, before)
	}
	if calls.Load() < 2 {
		t.Errorf("io_uring_setup reached %d times, want 2", calls.Load())
	}

	var refused atomic.Int64
	defer abi.SetSetupFaultForTest(func(entries uint32, p *abi.Params) error {
		if p.Flags&abi.SetupSubmitAll != 0 {
			refused.Add(1)
			return syscall.EINVAL
		}
		return nil
	})()
	r, f := uringFile(t, 4096)
	if n, err := f.WriteAt([]byte("old kernel"), 0); n != 10 || err != nil {
		t.Fatalf("WriteAt on a ring without SUBMIT_ALL = (%d, %v)", n, err)
	}
	if refused.Load() == 0 || r.Backend() != "uring" {
		t.Errorf("SUBMIT_ALL refused %d times, backend %s", refused.Load(), r.Backend())
	}
}

// halve shrinks every transfer to half its length (at least 1 byte) and
// counts the transfers it shortened.
type halve struct{ shortened atomic.Uint64 }

func (h *halve) length(op uint8, n uint32) uint32 {
	h.shortened.Add(1)
	return max(n/2, 1)
}

// TestURingShortTransfers: with every read, write, send and receive cut to
// half its length as it reaches the kernel, the blocking calls still
// transfer everything (they go on after a short transfer), the Start
// calls report exactly the bytes moved, and nothing beyond them changes.
func TestURingShortTransfers(t *testing.T) {
	needURing(t)
	h := &halve{}
	defer abi.SetLengthFaultForTest(h.length)()
	r := newURingRing(t, aio.Config{})
	defer r.Close()
	if !aio.DisableTryNowForTest(r) { // through the ring, every one
		t.Fatal("no direct path to turn off")
	}
	ctx := context.Background()
	const size = 256 << 10
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(ctx, name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Blocking calls loop over short transfers.
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != size || err != nil || !bytes.Equal(buf, data) {
		t.Fatalf("ReadAt = (%d, %v), data equal %v", n, err, bytes.Equal(buf, data))
	}
	upd := bytes.Repeat([]byte{0xA5}, 100_000)
	if n, err := f.WriteAt(upd, 1000); n != len(upd) || err != nil {
		t.Fatalf("WriteAt = (%d, %v)", n, err)
	}
	copy(data[1000:], upd)
	if got, _ := os.ReadFile(name); !bytes.Equal(got, data) {
		t.Fatal("the file differs after a WriteAt made of short writes")
	}
	pool, err := r.NewBufferPool(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pb, err := pool.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.ReadAtContext(ctx, pb.Bytes(), 4096); n != 64<<10 || err != nil || !bytes.Equal(pb.Bytes(), data[4096:4096+64<<10]) {
		t.Fatalf("ReadAtContext into a pool buffer = (%d, %v)", n, err)
	}
	pb.Release()

	// A Start call reports the short transfer as it is.
	sbuf := bytes.Repeat([]byte{0xEE}, 64<<10)
	op, err := f.StartReadAt(sbuf, 8192)
	if err != nil {
		t.Fatal(err)
	}
	n, err := op.Wait()
	if err != nil || n <= 0 || n >= len(sbuf) {
		t.Fatalf("StartReadAt of %d bytes with its length halved = (%d, %v)", len(sbuf), n, err)
	}
	if !bytes.Equal(sbuf[:n], data[8192:8192+n]) || !bytes.Equal(sbuf[n:], bytes.Repeat([]byte{0xEE}, len(sbuf)-n)) {
		t.Fatalf("StartReadAt reported %d bytes: the buffer says otherwise", n)
	}
	wbuf := bytes.Repeat([]byte{0x5A}, 64<<10)
	op, err = f.StartWriteAt(wbuf, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err = op.Wait()
	if err != nil || n <= 0 || n >= len(wbuf) {
		t.Fatalf("StartWriteAt of %d bytes with its length halved = (%d, %v)", len(wbuf), n, err)
	}
	copy(data, wbuf[:n])
	if got, _ := os.ReadFile(name); !bytes.Equal(got, data) {
		t.Fatalf("StartWriteAt reported %d bytes: the file says otherwise", n)
	}

	// Streams: a pipe and a TCP connection carry every byte, in order.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	wr, err := r.NewFile(pw)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer wr.Close()
		if n, err := wr.Write(data); n != len(data) || err != nil {
			t.Errorf("pipe Write = (%d, %v)", n, err)
		}
	}()
	if got, err := io.ReadAll(pr); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the pipe carried %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	wg.Wait()

	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		if n, err := c.Write(data); n != len(data) || err != nil {
			t.Errorf("Conn.Write = (%d, %v)", n, err)
		}
	}()
	c, err := r.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []byte
	reads := 0
	rb := make([]byte, 32<<10)
	for {
		n, err := c.Read(rb)
		got = append(got, rb[:n]...)
		reads++
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if !bytes.Equal(got, data) {
		t.Fatalf("the connection carried %d bytes, want the %d written", len(got), len(data))
	}
	t.Logf("%d transfers shortened; %d reads of the connection", h.shortened.Load(), reads)
	if h.shortened.Load() == 0 {
		t.Error("no transfer was shortened")
	}
	var _ net.Conn = c
}
