package aio_test

import (
	"os"
	"runtime"
	"testing"

	"github.com/waitforit/aio"
)

// TestURingStreamStartsOffRing: on io_uring, Start calls and Batches on
// aio's own (non-blocking) pipes wait in the worker pool's netpoller
// path, not in the ring (mechanism.go), and complete with their data.
func TestURingStreamStartsOffRing(t *testing.T) {
	needURing(t)
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	rd, err := r.NewFile(pr)
	pr.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	enters0, ok := aio.SubmitEnters(r)
	if !ok {
		t.Fatal("the uring driver does not count its enters")
	}
	bufs := make([][]byte, 5)
	ops := make([]*aio.Op, 0, len(bufs))
	for i := range bufs {
		bufs[i] = make([]byte, 1)
	}
	op, err := rd.StartRead(bufs[0])
	if err != nil {
		t.Fatal(err)
	}
	ops = append(ops, op)
	b := r.NewBatch()
	for _, buf := range bufs[1:] {
		op, err := b.StartRead(rd, buf)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if err := b.Submit(); err != nil {
		t.Fatal(err)
	}
	for r.Stats().InFlight < uint64(len(ops)) {
		runtime.Gosched()
	}
	if _, err := pw.Write([]byte("abcde")); err != nil {
		t.Fatal(err)
	}
	got := 0
	for i, op := range ops {
		n, err := op.Wait()
		if err != nil || n != 1 {
			t.Fatalf("read %d = (%d, %v)", i, n, err)
		}
		got += n
	}
	if got != 5 {
		t.Fatalf("%d bytes read, want 5", got)
	}
	if enters, _ := aio.SubmitEnters(r); enters != enters0 {
		t.Errorf("%d io_uring_enter calls submitted reads of a pipe, want none: they belong to the worker pool", enters-enters0)
	}
}
