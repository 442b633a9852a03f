//go:build unix

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

// simRing is a simulator ring with the given seed, closed at the end of
// the test.
func simRing(t *testing.T, seed int64, faults aio.SimFaults) *aio.Ring {
	t.Helper()
	r, err := aio.New(aio.Config{Backend: "sim", Seed: seed, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// workload makes a fixed sequence of calls from one goroutine: Start
// calls waited for out of order, cancels, blocking calls on a file and a
// pipe, a sync, an open. Its results, and the simulator's trace, depend
// only on the seed.
func workload(t *testing.T, r *aio.Ring) string {
	t.Helper()
	var out strings.Builder
	note := func(what string, n int, err error) {
		e := "nil"
		switch {
		case err == nil:
		case errors.Is(err, aio.ErrCanceled):
			e = "canceled"
		case errors.Is(err, io.EOF):
			e = "EOF"
		default:
			e = err.Error()
		}
		out.WriteString(what + "=" + itoa(n) + "/" + e + " ")
	}
	ctx := context.Background()
	name := filepath.Join(t.TempDir(), "data")
	f, err := r.Open(ctx, name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 3*4096)
	var ops []*aio.Op
	for i := range 8 {
		b := bytes.Repeat([]byte{byte('a' + i)}, len(chunk))
		op, err := f.StartWriteAt(b, int64(i*len(chunk)))
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	for i := range ops { // the odd ones cancelled; waited in reverse
		if i%2 == 1 {
			ops[i].Cancel()
		}
	}
	for i := len(ops) - 1; i >= 0; i-- {
		n, err := ops[i].Wait()
		note("w", n, err)
	}
	if err := f.Sync(); err != nil {
		note("sync", 0, err)
	}
	ops = ops[:0]
	for i := range 8 {
		op, err := f.StartReadAt(make([]byte, 5000), int64(i*len(chunk)))
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for i, op := range ops {
		var n int
		var err error
		if i%3 == 0 {
			n, err = op.WaitContext(cctx)
		} else {
			n, err = op.Wait()
		}
		note("r", n, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	rd, err := r.NewFile(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	wr, err := r.NewFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	for i := range 6 {
		n, err := wr.Write(bytes.Repeat([]byte{'p'}, 6000))
		note("pw", n, err)
		got := 0
		for got < 6000 {
			n, err := rd.Read(make([]byte, 8192))
			note("pr", n, err)
			if err != nil {
				break
			}
			got += n
		}
		op, err := rd.StartRead(make([]byte, 16))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			wr.Write([]byte("x"))
		}
		op.Cancel()
		n, err = op.Wait()
		note("pc", n, err)
		if err != nil && i%2 == 0 {
			n, err := rd.Read(make([]byte, 16))
			note("drain", n, err)
		}
	}
	st := r.Stats()
	out.WriteString("stats=" + itoa(int(st.Submitted)) + "," + itoa(int(st.Canceled)) + "," + itoa(int(st.CancelRacesLost)))
	return out.String()
}

// TestSimSameSeedSameOutcomes runs the same calls three times with one
// seed: the results and the simulator's traces must be identical. A
// different seed must give a different trace.
func TestSimSameSeedSameOutcomes(t *testing.T) {
	const seed = 20240611
	type run struct {
		results string
		trace   []string
		hash    uint64
	}
	do := func(seed int64) run {
		r := simRing(t, seed, aio.SimFaults{})
		res := workload(t, r)
		tr, _, hash, ok := aio.SimTraceForTest(r)
		if !ok {
			t.Fatal("no trace")
		}
		return run{res, tr, hash}
	}
	first := do(seed)
	if len(first.trace) < 40 {
		t.Fatalf("trace of %d events: %q", len(first.trace), first.trace)
	}
	for i := 2; i <= 3; i++ {
		again := do(seed)
		if again.results != first.results {
			t.Fatalf("run %d results differ:\n%s\nfirst:\n%s", i, again.results, first.results)
		}
		if again.hash != first.hash || len(again.trace) != len(first.trace) {
			for j := range min(len(again.trace), len(first.trace)) {
				if again.trace[j] != first.trace[j] {
					t.Fatalf("run %d: trace differs at event %d: %s, first run: %s", i, j, again.trace[j], first.trace[j])
				}
			}
			t.Fatalf("run %d: trace of %d events, first run %d", i, len(again.trace), len(first.trace))
		}
	}
	t.Logf("%d events, results %s", len(first.trace), first.results)
	if other := do(seed + 1); other.hash == first.hash {
		t.Errorf("seeds %d and %d gave the same trace", seed, seed+1)
	}
}

// TestSimSeed: Config.Seed, else AIO_SIM_SEED, else a random seed.
func TestSimSeed(t *testing.T) {
	r := simRing(t, 42, aio.SimFaults{})
	if r.Backend() != "sim" || r.Seed() != 42 {
		t.Fatalf("Backend, Seed = %q, %d", r.Backend(), r.Seed())
	}
	t.Setenv("AIO_SIM_SEED", "77")
	r = simRing(t, 0, aio.SimFaults{})
	if r.Seed() != 77 {
		t.Errorf("with AIO_SIM_SEED=77, Seed = %d", r.Seed())
	}
	r = simRing(t, 5, aio.SimFaults{})
	if r.Seed() != 5 {
		t.Errorf("Config.Seed 5 with AIO_SIM_SEED=77: Seed = %d", r.Seed())
	}
	t.Setenv("AIO_BACKEND", "sim")
	r2, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.Backend() != "sim" || r2.Seed() != 77 {
		t.Errorf("AIO_BACKEND=sim AIO_SIM_SEED=77: Backend, Seed = %q, %d", r2.Backend(), r2.Seed())
	}
	t.Setenv("AIO_SIM_SEED", "")
	r = simRing(t, 0, aio.SimFaults{})
	if r.Seed() == 0 {
		t.Error("random seed is 0")
	}
	t.Setenv("AIO_SIM_SEED", "x")
	if r, err := aio.New(aio.Config{Backend: "sim"}); err == nil {
		r.Close()
		t.Error("AIO_SIM_SEED=x accepted")
	}
	if r := newPortableRing(t, aio.Config{}); r.Seed() != 0 {
		t.Errorf("portable ring has seed %d", r.Seed())
	} else {
		r.Close()
	}
}

// heldWrite starts a write on f that the simulator keeps pending (the
// seeds are tried in turn until one does), and returns it with its ring.
func heldOp(t *testing.T, start func(r *aio.Ring) *aio.Op) (*aio.Ring, *aio.Op) {
	t.Helper()
	for seed := int64(1); seed < 200; seed++ {
		r := simRing(t, seed, aio.SimFaults{})
		op := start(r)
		if !op.Completed() {
			return r, op
		}
	}
	t.Fatal("no seed kept an operation pending")
	return nil, nil
}

func simFile(t *testing.T, r *aio.Ring, size int) *aio.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "f")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// wantPanic runs fn and returns its panic message, failing if there was
// none or it lacks any of want.
func wantPanic(t *testing.T, fn func(), want ...string) string {
	t.Helper()
	var msg string
	func() {
		defer func() {
			if p := recover(); p != nil {
				msg = toString(p)
			}
		}()
		fn()
	}()
	if msg == "" {
		t.Fatal("no panic")
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("panic message lacks %q:\n%s", w, msg)
		}
	}
	return msg
}

func toString(p any) string {
	switch v := p.(type) {
	case string:
		return v
	case error:
		return v.Error()
	}
	return "panic"
}

// TestSimWriteBufferChangedInFlight: a caller that changes a write's
// buffer before the completion is caught when it waits, with the
// operation and the place it was started named.
func TestSimWriteBufferChangedInFlight(t *testing.T) {
	var f *aio.File
	buf := bytes.Repeat([]byte{'w'}, 8192)
	_, op := heldOp(t, func(r *aio.Ring) *aio.Op {
		f = simFile(t, r, 0)
		op, err := f.StartWriteAt(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		return op
	})
	buf[100] = 'X' // the bug: the write still owns buf
	wantPanic(t, func() { op.Wait() },
		"a write of 8192 bytes", "changed while the operation was in flight",
		"TestSimWriteBufferChangedInFlight", "AIO_SIM_SEED=")
	if !op.Completed() {
		t.Error("the operation did not complete before the panic")
	}
}

// TestSimCancelThenReuse: Cancel does not end the operation; reusing the
// buffer before Wait is caught whatever the cancel's outcome.
func TestSimCancelThenReuse(t *testing.T) {
	caught := 0
	for seed := int64(1); seed <= 60; seed++ {
		r := simRing(t, seed, aio.SimFaults{})
		f := simFile(t, r, 0)
		buf := bytes.Repeat([]byte{'c'}, 4096)
		op, err := f.StartWriteAt(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		op.Cancel()
		pending := !op.Completed()
		copy(buf, "next record")
		var msg string
		func() {
			defer func() {
				if p := recover(); p != nil {
					msg = toString(p)
				}
			}()
			op.Wait()
		}()
		switch {
		case pending && msg == "":
			t.Fatalf("seed %d: buffer reused between Cancel and Wait of a pending write: no panic", seed)
		case !pending && msg != "":
			t.Fatalf("seed %d: the write had completed before the reuse, yet: %s", seed, msg)
		case msg != "":
			caught++
		}
	}
	if caught == 0 {
		t.Error("no seed kept the write pending past its Cancel")
	}
	t.Logf("caught in %d of 60 seeds", caught)
}

// TestSimReadBufferPoisoned: a read's buffer holds the poison pattern
// until its completion; then its data, and beyond n what was there.
func TestSimReadBufferPoisoned(t *testing.T) {
	var f *aio.File
	buf := bytes.Repeat([]byte{0xEE}, 100)
	_, op := heldOp(t, func(r *aio.Ring) *aio.Op {
		f = simFile(t, r, 60)
		op, err := f.StartReadAt(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		return op
	})
	if !bytes.Equal(buf[:4], []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Fatalf("buffer of a pending read starts %x, want the poison deadbeef", buf[:4])
	}
	n, err := op.Wait()
	if n != 60 || err != nil {
		t.Fatalf("read = (%d, %v)", n, err)
	}
	for i := range 60 {
		if buf[i] != byte(i*7) {
			t.Fatalf("byte %d = %#x after the read", i, buf[i])
		}
	}
	if !bytes.Equal(buf[60:], bytes.Repeat([]byte{0xEE}, 40)) {
		t.Fatalf("bytes past n changed: %x", buf[60:])
	}
	// Writing into the buffer of a read in flight is caught too.
	buf2 := make([]byte, 32)
	_, op = heldOp(t, func(r *aio.Ring) *aio.Op {
		f = simFile(t, r, 60)
		op, err := f.StartReadAt(buf2, 0)
		if err != nil {
			t.Fatal(err)
		}
		return op
	})
	buf2[3] = 1
	wantPanic(t, func() { op.Wait() }, "written to while a read into it was in flight")
}

// TestSimOutcomes: across seeds, every outcome the simulator promises
// shows up: cancels that win, lose, and win after a partial transfer;
// short reads on a pipe; EINTR retried inside blocking calls; injected
// ENOSPC and EIO.
func TestSimOutcomes(t *testing.T) {
	counts := map[string]int{}
	const seeds = 200
	for seed := int64(1); seed <= seeds; seed++ {
		r := simRing(t, seed, aio.SimFaults{ENOSPC: 0.1, EIO: 0.1})
		f := simFile(t, r, 0)
		buf := bytes.Repeat([]byte{'o'}, 5*4096)
		op, err := f.StartWriteAt(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		lost := r.Stats().CancelRacesLost
		op.Cancel()
		n, err := op.Wait()
		raced := r.Stats().CancelRacesLost > lost
		switch {
		case errors.Is(err, aio.ErrCanceled) && n == 0:
			counts["write cancel won"]++
		case raced && err == nil && n == len(buf):
			counts["write cancel lost"]++
		case raced && err == nil && n > 0 && n%4096 == 0:
			counts["write cut short by its cancel"]++
		case err == nil && n == len(buf): // completed before the cancel
		case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO):
			counts["write injected error"]++
		default:
			t.Fatalf("seed %d: cancelled write = (%d, %v)", seed, n, err)
		}
		if fi, err := os.Stat(f.Name()); err != nil {
			t.Fatal(err)
		} else if fi.Size() != int64(n) {
			t.Fatalf("seed %d: file of %d bytes after a write that reported %d", seed, fi.Size(), n)
		}
		switch err := f.Sync(); {
		case err == nil:
		case errors.Is(err, syscall.EIO), errors.Is(err, syscall.ENOSPC):
			counts["sync injected error"]++
		default:
			t.Fatalf("Sync: %v", err)
		}
		for range 4 {
			if _, err := f.ReadAt(make([]byte, 100), 0); err != nil && err != io.EOF {
				t.Fatalf("ReadAt: %v", err)
			}
		}

		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		rd, err := r.NewFile(pr)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(make([]byte, 20000))
		if n, err := rd.Read(make([]byte, 20000)); err != nil {
			t.Fatal(err)
		} else if n < 20000 {
			counts["short pipe read"]++
		}
		rd.Close()
		pr.Close()
		pw.Close()

		evs, _, _, _ := aio.SimTraceForTest(r)
		for _, e := range evs {
			if strings.Contains(e, "interrupted") {
				counts["EINTR retried"]++
			}
		}
		r.Close()
	}
	t.Logf("%v", counts)
	for _, k := range []string{"write cancel won", "write cancel lost", "write cut short by its cancel",
		"write injected error", "sync injected error", "short pipe read", "EINTR retried"} {
		if counts[k] == 0 {
			t.Errorf("outcome %q never seen in %d seeds", k, seeds)
		}
	}
}

// cancelOnSubmit cancels once r has submitted one more operation than
// now: the simulator has kept it pending (late), or it has completed.
func cancelOnSubmit(r *aio.Ring, cancel context.CancelFunc) {
	base := r.Stats().Submitted
	go func() {
		defer cancel()
		for i := 0; r.Stats().Submitted == base && i < 1e7; i++ {
			runtime.Gosched()
		}
	}()
}

// TestSimLostRaces: rule 7's lost races happen on the simulator, often:
// an open, a dial and an accept that complete despite their cancel
// return their descriptor to the caller still waiting.
func TestSimLostRaces(t *testing.T) {
	var opens, dials, accepts int
	const seeds = 150
	name := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for seed := int64(1); seed <= seeds; seed++ {
		r := simRing(t, seed, aio.SimFaults{})
		lost := func() func() bool {
			before := r.Stats().CancelRacesLost
			return func() bool { return r.Stats().CancelRacesLost > before }
		}
		ctx, cancel := context.WithCancel(context.Background())
		raced := lost()
		cancelOnSubmit(r, cancel)
		if f, err := r.Open(ctx, name, os.O_RDONLY, 0); err == nil {
			if raced() {
				opens++
			}
			f.Close()
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("open: %v", err)
		}
		cancel()
		ln, err := r.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		raced = lost()
		cancelOnSubmit(r, cancel)
		if c, err := r.DialContext(ctx, "tcp", ln.Addr().String()); err == nil {
			if raced() {
				dials++
			}
			c.Close()
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("dial: %v", err)
		}
		cancel()
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		raced = lost()
		cancelOnSubmit(r, cancel)
		if c, err := ln.(*aio.Listener).AcceptContext(ctx); err == nil {
			if raced() {
				accepts++
			}
			c.Close()
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("accept: %v", err)
		}
		cancel()
		nc.Close()
		ln.Close()
		r.Close()
	}
	t.Logf("%d seeds: %d opens, %d dials, %d accepts completed despite their cancel", seeds, opens, dials, accepts)
	if opens == 0 || dials == 0 || accepts == 0 {
		t.Error("want each lost race observed")
	}
}
