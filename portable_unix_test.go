//go:build unix

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

func newPortableRing(tb testing.TB, cfg aio.Config) *aio.Ring {
	tb.Helper()
	cfg.Backend = "portable"
	r, err := aio.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if got := r.Backend(); got != "portable" {
		tb.Fatalf("Backend() = %q, want portable", got)
	}
	return r
}

// TestConformancePortable runs the suite on the portable backend as it
// comes, then with every file operation forced onto the workers (no
// page-cache fast path), then with a single worker (every queue full).
func TestConformancePortable(t *testing.T) {
	aiotest.Run(t, newPortableRing, aiotest.WithDisableRead(aio.DisableReadForTest))
}

func TestConformancePortableWorkers(t *testing.T) {
	t.Setenv("AIO_PORTABLE_NOWAIT", "0")
	t.Run("Default", func(t *testing.T) { aiotest.Run(t, newPortableRing) })
	t.Run("OneWorker", func(t *testing.T) {
		if testing.Short() {
			t.Skip("the worker path is covered by Default under -short")
		}
		aiotest.Run(t, func(tb testing.TB, cfg aio.Config) *aio.Ring {
			cfg.Workers = 1
			return newPortableRing(tb, cfg)
		})
	})
}

// portableRing is a portable ring closed at the end of the test.
func portableRing(t *testing.T, cfg aio.Config) *aio.Ring {
	r := newPortableRing(t, cfg)
	t.Cleanup(func() { r.Close() })
	return r
}

func osPipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	return pr, pw
}

// TestPortableBlockingDescriptor: a pipe whose description is in
// blocking mode (what a pipe from pipe(2) or a shell looks like) is made
// non-blocking by NewFile, so its reads park in the netpoller and their
// cancels take effect at once.
func TestPortableBlockingDescriptor(t *testing.T) {
	r := portableRing(t, aio.Config{})
	pr, pw := osPipe(t)
	pr.Fd() // os puts the (shared) description back in blocking mode
	rd, err := r.NewFile(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	buf := bytes.Repeat([]byte{0xEE}, 16)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	op.Cancel()
	n, err := op.Wait()
	if n != 0 || !errors.Is(err, aio.ErrCanceled) {
		t.Fatalf("cancelled read of a blocking pipe = (%d, %v)", n, err)
	}
	pw.Write([]byte("abc"))
	if n, err := rd.Read(buf); n != 3 || err != nil || string(buf[:3]) != "abc" {
		t.Fatalf("next Read = (%d, %v) %q", n, err, buf[:n])
	}
}

// TestPortableNeighbourSurvivesCancel: cancelling one read parked on a
// pipe leaves another read on the same pipe parked; it gets the data.
func TestPortableNeighbourSurvivesCancel(t *testing.T) {
	r := portableRing(t, aio.Config{})
	pr, pw := osPipe(t)
	rd, err := r.NewFile(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	a, _ := rd.StartRead(make([]byte, 8))
	bufB := make([]byte, 8)
	b, _ := rd.StartRead(bufB)
	a.Cancel()
	if n, err := a.Wait(); n != 0 || !errors.Is(err, aio.ErrCanceled) {
		t.Fatalf("cancelled read = (%d, %v)", n, err)
	}
	select {
	case <-b.Done():
		n, err := b.Wait()
		t.Fatalf("the other read completed: (%d, %v)", n, err)
	default:
	}
	pw.Write([]byte("data"))
	if n, err := b.Wait(); n != 4 || err != nil || string(bufB[:4]) != "data" {
		t.Fatalf("other read = (%d, %v) %q", n, err, bufB[:n])
	}
}

// TestPortableSocketCancelRaces: a read on a TCP connection (adopted as a
// File) races its cancel against a 1-byte write from the peer, many
// times: every round ends in exactly one outcome and no byte is lost.
func TestPortableSocketCancelRaces(t *testing.T) {
	r := portableRing(t, aio.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sf, err := srv.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	conn, err := r.NewFile(sf)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Rounds go on past the planned ones (up to 20 times as many, or a
	// minute) until both outcomes have been seen.
	rounds := aiotest.Scale(1000)
	var got, completed, drained, canceled int
	// bias delays the cancel side (it sleeps that long first); it moves
	// towards whichever outcome is rarer, so the rounds settle around the
	// moment the two tie.
	var bias time.Duration
	start := time.Now()
	buf := make([]byte, 64)
	i := 0
	for ; i < rounds || (completed == 0 || canceled == 0) && i < 20*rounds && time.Since(start) < time.Minute; i++ {
		op, err := conn.StartRead(buf)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); peer.Write([]byte{'s'}) }()
		go func() {
			defer wg.Done()
			time.Sleep(bias + rand.N(20*time.Microsecond)) // a head start, not synchronization
			op.Cancel()
		}()
		n, err := op.Wait()
		wg.Wait()
		switch {
		case err == nil && n > 0:
			got += n
			completed++
			bias = max(bias-bias/8-time.Microsecond, 0)
		case n == 0 && errors.Is(err, aio.ErrCanceled):
			canceled++
			bias = min(bias+bias/8+time.Microsecond, 10*time.Millisecond)
			// The byte is still in the socket: take it, so the next round
			// starts on an empty one.
			if n, err := conn.Read(buf); n != 1 || err != nil {
				t.Fatalf("round %d: drain after cancel = (%d, %v)", i, n, err)
			}
			drained++
		default:
			t.Fatalf("round %d: (%d, %v)", i, n, err)
		}
	}
	peer.Close()
	rest, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds: %d reads completed (%d bytes), %d reads cancelled (their byte drained after), %d cancels lost the race, %d bytes drained at the end",
		i, completed, got, canceled, r.Stats().CancelRacesLost, len(rest))
	if got+drained+len(rest) != i {
		t.Fatalf("peer wrote %d bytes, read %d + %d after cancels + %d at the end", i, got, drained, len(rest))
	}
	if st := r.Stats(); st.Canceled != uint64(canceled) {
		t.Errorf("Stats.Canceled = %d, counted %d", st.Canceled, canceled)
	}
	if completed == 0 || canceled == 0 {
		t.Errorf("want both outcomes: %d reads completed, %d cancelled", completed, canceled)
	}
}

// TestPortableWriteCancel: a write parked on a full pipe is cancelled
// having written nothing; what the pipe holds is exactly what the
// completed writes reported.
func TestPortableWriteCancel(t *testing.T) {
	r := portableRing(t, aio.Config{})
	pr, pw := osPipe(t)
	wr, err := r.NewFile(pw)
	if err != nil {
		t.Fatal(err)
	}
	pw.Close()
	written := 0
	chunk := bytes.Repeat([]byte{'w'}, 4096)
	for {
		op, err := wr.StartWrite(chunk)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-op.Done():
			n, err := op.Wait()
			if err != nil {
				t.Fatal(err)
			}
			written += n
			continue
		default:
		}
		op.Cancel()
		if n, err := op.Wait(); n != 0 || !errors.Is(err, aio.ErrCanceled) {
			t.Fatalf("cancelled write = (%d, %v)", n, err)
		}
		break
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != written {
		t.Fatalf("pipe held %d bytes, writes reported %d", len(all), written)
	}
}

// TestPortableCharDevices: character devices the netpoller refuses
// (/dev/zero, /dev/null) go to the workers and work.
func TestPortableCharDevices(t *testing.T) {
	r := portableRing(t, aio.Config{})
	zero, err := r.Open(context.Background(), "/dev/zero", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	buf := bytes.Repeat([]byte{1}, 1000)
	if n, err := zero.Read(buf); n != len(buf) || err != nil || !bytes.Equal(buf, make([]byte, len(buf))) {
		t.Fatalf("read /dev/zero = (%d, %v)", n, err)
	}
	null, err := r.Open(context.Background(), os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if n, err := null.Write(buf); n != len(buf) || err != nil {
		t.Fatalf("write /dev/null = (%d, %v)", n, err)
	}
}

// TestPortableCloseLeavesNoGoroutines: Ring.Close with reads parked on
// pipes and file I/O in flight ends every goroutine of the backend.
func TestPortableCloseLeavesNoGoroutines(t *testing.T) {
	r := newPortableRing(t, aio.Config{Workers: 2})
	name := t.TempDir() + "/f"
	if err := os.WriteFile(name, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ops []*aio.Op
	for range 8 {
		pr, _ := osPipe(t)
		rd, err := r.NewFile(pr)
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		for range 4 {
			op, err := rd.StartRead(make([]byte, 8))
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, op)
		}
	}
	for i := range 64 {
		op, err := f.StartWriteAt(make([]byte, 16<<10), int64(i)<<14)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		select {
		case <-op.Done():
		default:
			t.Fatalf("op %d in flight after Ring.Close", i)
		}
		if n, err := op.Wait(); err != nil && (n != 0 || !errors.Is(err, aio.ErrCanceled) || !errors.Is(err, os.ErrClosed)) {
			t.Fatalf("op %d = (%d, %v)", i, n, err)
		}
	}
	if st := r.Stats(); st.InFlight != 0 || st.Submitted != st.Completed {
		t.Errorf("stats after Close: %+v", st)
	}
	var dump string
	for range 1000 { // Close waited for them; a few may still be returning
		buf := make([]byte, 1<<20)
		dump = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(dump, "aio/internal/backend/portable.") {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("goroutines of the portable backend left after Ring.Close:\n%s", dump)
}

func TestPortableStats(t *testing.T) {
	r := portableRing(t, aio.Config{})
	pr, pw := osPipe(t)
	rd, err := r.NewFile(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	op, _ := rd.StartRead(make([]byte, 1))
	op.Cancel()
	op.Wait()
	pw.Write([]byte("z"))
	if _, err := rd.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.Submitted != 2 || st.Completed != 2 || st.Canceled != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v, want 2 submitted and completed, 1 cancelled", st)
	}
}
