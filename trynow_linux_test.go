package aio_test

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// TestConformanceURingRingOnly reruns the conformance cases of blocking
// calls with every operation through the ring: by default those the
// kernel can do at once skip it (File.tryNow), so without this the
// ring's own paths for them would go half untested. (TestNetConn's
// "uring-ring" runs nettest's conformance that way too. Accepts do not
// change: they are left out, and so is their 10,000-connection race,
// whose TIME_WAIT sockets a third run would pile up.)
func TestConformanceURingRingOnly(t *testing.T) {
	for _, prefix := range []string{"Rule", "Errors/", "Files/", "Sockets/Recv", "Sockets/Send", "Sockets/Deadline", "Sockets/CloseWith"} {
		runRingOnly(t, prefix)
	}
}

func runRingOnly(t *testing.T, prefix string) {
	aiotest.RunPrefix(t, prefix, func(tb testing.TB, cfg aio.Config) *aio.Ring {
		cfg.Backend = "uring"
		r, err := aio.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		if !aio.DisableTryNowForTest(r) {
			tb.Fatal("the uring driver has no direct path to turn off")
		}
		return r
	})
}

// A receive whose data is there completes without the ring, and so does
// a send the kernel can take at once while the ring is busy (many
// requests waiting in the kernel): no io_uring_enter for them. A receive
// with nothing to read still goes through the ring and waits there.
func TestURingSocketTryNow(t *testing.T) {
	needURing(t)
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	client, err := r.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	// Keep the ring busy: reads waiting on empty pipes.
	var busy []*aio.File
	for range 8 {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		f, err := r.NewFile(pr)
		pr.Close()
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		busy = append(busy, f)
		if _, err := f.StartRead(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	for n, _ := aio.InKernelForTest(r); n < 8; n, _ = aio.InKernelForTest(r) {
		runtime.Gosched()
	}

	enters := func() uint64 { n, _ := aio.SubmitEnters(r); return n }
	e0 := enters()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := server.Read(buf); n != 4 || err != nil || string(buf[:4]) != "ping" {
		t.Fatalf("Read = (%d, %v) %q", n, err, buf[:n])
	}
	if got := enters() - e0; got != 0 {
		t.Errorf("%d io_uring_enter calls for a send and a receive the kernel could do at once on a busy ring, want 0", got)
	}
	// Nothing to read: the receive waits in the ring, and the send that
	// follows completes it.
	base, _ := aio.InKernelForTest(r) // the listener's multishot accept, say
	done := make(chan error, 1)
	go func() {
		n, err := client.Read(buf)
		if err == nil && string(buf[:n]) != "pong" {
			t.Errorf("Read = %q, want pong", buf[:n])
		}
		done <- err
	}()
	for {
		if n, _ := aio.InKernelForTest(r); n > base {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Read returned %v before anything was sent", err)
		default:
		}
		runtime.Gosched()
	}
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	client.Close()
	server.Close()
	ln.Close() // ends its multishot accept
	for _, f := range busy {
		f.Close() // cancels its read and waits for it
	}
	if st := r.Stats(); st.Submitted != st.Completed || st.InFlight != 0 {
		t.Fatalf("stats %+v: want everything submitted completed", st)
	}
}

// A blocking read of cached data is done at once, without the ring; a
// read that would wait (an empty pipe) goes through the ring, and so do
// the next few reads of that file, without trying first.
func TestURingFileTryNow(t *testing.T) {
	r, f := uringFile(t, 1<<20)
	enters := func() uint64 { n, _ := aio.SubmitEnters(r); return n }
	buf := make([]byte, 4096)
	f.ReadAt(buf, 0) // the first read may find the page not yet cached
	e0, s0 := enters(), r.Stats()
	for i := range 16 {
		if n, err := f.ReadAt(buf, int64(i)*4096); n != 4096 || err != nil {
			t.Fatalf("ReadAt = (%d, %v)", n, err)
		}
	}
	if got := enters() - e0; got != 0 {
		t.Errorf("%d io_uring_enter calls for 16 reads of cached data, want 0", got)
	}
	if s := r.Stats(); s.Submitted-s0.Submitted != 16 || s.Completed-s0.Completed != 16 {
		t.Errorf("stats went from %+v to %+v: want 16 more submitted and completed", s0, s)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	p, err := r.NewFile(pr)
	pr.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// Each read finds the pipe empty at first: the first tries, misses
	// and goes to the ring; the next ones go to the ring directly. Every
	// one needs an enter, and every one gets its byte.
	for i := range 4 {
		base := enters()
		done := make(chan error, 1)
		go func() {
			n, err := p.Read(buf[:1])
			if err == nil && (n != 1 || buf[0] != byte('a'+i)) {
				t.Errorf("read %d = %q", i, buf[:n])
			}
			done <- err
		}()
		for enters() == base { // the read is waiting in the ring
			runtime.Gosched()
		}
		if _, err := pw.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
