package aiotest

// Windows cases: the IOCP backend drives a handle in one of three ways,
// decided when the File adopts it (see internal/backend/iocp): "port"
// (overlapped, associated with the ring's completion port: Ring.Open's
// handles, and the suite's pipes), "event" (overlapped but already bound to
// another port, as every overlapped handle wrapped by os.NewFile is bound
// to the Go runtime's) and "blocking" (synchronous handles: os.Pipe,
// os.Open). The main cases run on the first; these run the contract's
// essentials on each.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/waitforit/aio"
)

func init() {
	for _, p := range pipeFlavours {
		register("Windows/Pipe/"+p.name+"/BlockedReadThenData", func(t *testing.T, s *suite) { testFlavourRead(t, s, p.make) })
		register("Windows/Pipe/"+p.name+"/CancelBlockedRead", func(t *testing.T, s *suite) { testFlavourCancel(t, s, p.make) })
		register("Windows/Pipe/"+p.name+"/CloseWaits", func(t *testing.T, s *suite) { testFlavourClose(t, s, p.make) })
		register("Windows/Pipe/"+p.name+"/EOF", func(t *testing.T, s *suite) { testFlavourEOF(t, s, p.make) })
		register("Windows/Pipe/"+p.name+"/Deadline", func(t *testing.T, s *suite) { testFlavourDeadline(t, s, p.make) })
		register("Windows/Pipe/"+p.name+"/CancelRacesWrite", func(t *testing.T, s *suite) { testFlavourRace(t, s, p.make) })
		register("Windows/Pipe/"+p.name+"/SubmitterThreadExits", func(t *testing.T, s *suite) { testFlavourThreadExits(t, s, p.make) })
	}
	for _, f := range fileFlavours {
		register("Windows/File/"+f.name, func(t *testing.T, s *suite) { testFlavourFile(t, s, f.open) })
	}
	register("Windows/File/OpenFlags", testOpenFlags)
}

// testOpenFlags: Ring.Open's translation of O_APPEND, O_TRUNC, O_CREATE
// and O_EXCL to CreateFile.
func testOpenFlags(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ctx := context.Background()
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(ctx, name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"ab", "cd"} {
		if n, err := f.Write([]byte(p)); n != 2 || err != nil {
			t.Fatalf("Write(%q) = (%d, %v)", p, n, err)
		}
	}
	f.Close()
	if got, _ := os.ReadFile(name); string(got) != "0123456789abcd" {
		t.Errorf("after O_APPEND writes: %q", got)
	}
	if f, err = r.Open(ctx, name, os.O_RDWR|os.O_TRUNC, 0); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("xy"))
	f.Close()
	if got, _ := os.ReadFile(name); string(got) != "xy" {
		t.Errorf("after O_TRUNC: %q", got)
	}
	_, err = r.Open(ctx, name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	wantPathErr(t, "O_EXCL of an existing file", err, os.ErrExist)
	ro := filepath.Join(filepath.Dir(name), "ro")
	if f, err = r.Open(ctx, ro, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o444); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(ro); err != nil || fi.Mode().Perm()&0o200 != 0 {
		t.Errorf("created with 0444: mode %v, %v; want read-only", fi.Mode(), err)
	}
	os.Chmod(ro, 0o644) // so that the temporary directory can go
}

type pipeMaker func(t *testing.T, r *aio.Ring) (*aio.File, *os.File)

var pipeFlavours = []struct {
	name string
	make pipeMaker
}{
	{"Port", pipe},
	{"Event", eventPipe},
	{"Blocking", blockingPipe},
}

// eventPipe: the aio end is Ring.NewFile of os.NewFile of an overlapped
// named pipe's server end; the writer is a synchronous client end.
func eventPipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	h, name := namedPipe(t)
	namep, _ := windows.UTF16PtrFromString(name)
	c, err := windows.CreateFile(namep, windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		windows.CloseHandle(h)
		t.Fatal(err)
	}
	connected(t, h)
	srv := os.NewFile(uintptr(h), name)
	af, err := r.NewFile(srv)
	srv.Close() // af has its own handle
	pw := os.NewFile(uintptr(c), name)
	if err != nil {
		pw.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		af.Close()
		pw.Close()
	})
	return af, pw
}

// blockingPipe: the aio end is Ring.NewFile of os.Pipe's (synchronous)
// read end.
func blockingPipe(t *testing.T, r *aio.Ring) (*aio.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	af, err := r.NewFile(pr)
	pr.Close()
	if err != nil {
		pw.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		af.Close()
		pw.Close()
	})
	return af, pw
}

func testFlavourRead(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	rd, w := mk(t, r)
	buf := make([]byte, 16)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if isDone(op) {
		t.Fatal("read of an empty pipe completed before any write")
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if n, err := op.Wait(); n != 4 || err != nil || string(buf[:4]) != "data" {
		t.Fatalf("Wait = (%d, %v) %q", n, err, buf[:n])
	}
	// The stream API and a second round.
	w.Write([]byte("more"))
	if n, err := rd.Read(buf); n != 4 || err != nil || string(buf[:4]) != "more" {
		t.Fatalf("Read = (%d, %v) %q", n, err, buf[:n])
	}
}

func testFlavourCancel(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	rd, w := mk(t, r)
	buf := bytes.Repeat([]byte{0xEE}, 16)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	op.Cancel()
	n, err := op.Wait()
	if n != 0 {
		t.Fatalf("cancelled read = %d bytes", n)
	}
	wantPathErr(t, "cancelled read", err, aio.ErrCanceled, syscall.ECANCELED)
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 16)) {
		t.Fatal("the cancelled read wrote its buffer")
	}
	w.Write([]byte("next"))
	if n, err := rd.Read(buf); n != 4 || err != nil || string(buf[:4]) != "next" {
		t.Fatalf("Read after cancel = (%d, %v) %q", n, err, buf[:n])
	}
	if st := r.Stats(); st.Canceled != 1 {
		t.Errorf("Stats.Canceled = %d, want 1", st.Canceled)
	}
}

func testFlavourClose(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	rd, _ := mk(t, r)
	var ops []*aio.Op
	for range 20 {
		op, err := rd.StartRead(make([]byte, 8))
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		if !isDone(op) {
			t.Fatalf("op %d still in flight after Close returned", i)
		}
		n, err := op.Wait()
		if n != 0 {
			t.Errorf("op %d read %d bytes", i, n)
		}
		wantPathErr(t, "op cancelled by Close", err, aio.ErrCanceled, os.ErrClosed)
	}
}

func testFlavourEOF(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	rd, w := mk(t, r)
	buf := make([]byte, 16)
	op, err := rd.StartRead(buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("tail"))
	if n, err := op.Wait(); n != 4 || err != nil {
		t.Fatalf("read = (%d, %v)", n, err)
	}
	op, err = rd.StartRead(buf) // in flight when the writer goes
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if n, err := op.Wait(); n != 0 || err != io.EOF {
		t.Errorf("read in flight at end of stream = (%d, %v), want (0, io.EOF)", n, err)
	}
	if n, err := rd.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("Read after end of stream = (%d, %v), want (0, io.EOF)", n, err)
	}
}

func testFlavourDeadline(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	rd, _ := mk(t, r)
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

// testFlavourRace: a read, a 1-byte write and a cancel race; every
// outcome is observed (a cancel that lost the race too), every byte is
// read exactly once (by its round, by the drain after a cancel, or at the
// end) and the buffer of a cancelled read is untouched.
func testFlavourRace(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	rd, w := mk(t, r)
	var got, canceled int
	var bias delayBias
	buf := make([]byte, 8)
	x := drive(t, Scale(500), []string{outCompleted, outRaceLost, outCanceled}, func(i int) string {
		resetSentinel(buf)
		lost := r.Stats().CancelRacesLost
		op, err := rd.StartRead(buf)
		if err != nil {
			t.Fatal(err)
		}
		wg := bias.race(func() {
			if _, err := w.Write([]byte{'x'}); err != nil {
				t.Error(err)
			}
		}, op.Cancel)
		n, err := op.Wait()
		wg.Wait()
		switch {
		case err == nil && n == 1 && buf[0] == 'x' && untouched(buf[1:]):
			bias.observe(false)
			got++
			return raceOutcome(r, lost)
		case errors.Is(err, aio.ErrCanceled) && n == 0:
			bias.observe(true)
			canceled++
			if !untouched(buf) {
				t.Fatalf("round %d: cancelled read wrote its buffer", i)
			}
			if b := leftBehind(t, rd, 1); b[0] != 'x' {
				t.Fatalf("round %d: after a cancel the pipe held %q", i, b)
			}
			got++
			return outCanceled
		}
		t.Fatalf("round %d: (%d, %v), buffer %q", i, n, err, buf)
		return ""
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if got+len(rest) != x.rounds {
		t.Errorf("written %d bytes, read %d + %d at the end", x.rounds, got, len(rest))
	}
	if st := r.Stats(); st.Canceled != uint64(canceled) || st.InFlight != 0 {
		t.Errorf("stats %+v, observed %d cancelled", st, canceled)
	}
}

// testFlavourThreadExits: the thread that started a read exits before
// the data comes (the case waits until it is gone). Nobody cancelled the
// read: it must complete with the data (rule 3), whatever the handle's
// mode.
func testFlavourThreadExits(t *testing.T, s *suite, mk pipeMaker) {
	r := s.ring(t, 0)
	x := &tally{}
	exited, notGone := 0, map[string]int{}
	for i := range Scale(100) {
		rd, w := mk(t, r)
		buf := sentinel(8)
		var op *aio.Op
		var err error
		gone, why := onExitingThread(t, func() { op, err = rd.StartRead(buf) })
		if err != nil {
			t.Fatalf("round %d: StartRead: %v", i, err)
		}
		if gone {
			exited++
		} else {
			notGone[why]++
		}
		if _, err := w.Write([]byte("late")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-op.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the read of an exited thread never completed", i)
		}
		n, err := op.Wait()
		if err == nil && (string(buf[:n]) != "late"[:n] || !untouched(buf[n:])) {
			t.Fatalf("round %d: read %d bytes, buffer %q", i, n, buf)
		}
		if err != nil && !untouched(buf) {
			t.Fatalf("round %d: a read that failed (%v) wrote its buffer: %q", i, err, buf)
		}
		x.rounds++
		x.add(threadExitOutcome(n, 4, err))
		rd.Close()
		w.Close()
	}
	finishThreadExit(t, x, exited, notGone)
}

type fileOpener func(t *testing.T, r *aio.Ring, name string) *aio.File

var fileFlavours = []struct {
	name string
	open fileOpener
}{
	{"Port", func(t *testing.T, r *aio.Ring, name string) *aio.File {
		f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}},
	{"Event", func(t *testing.T, r *aio.Ring, name string) *aio.File {
		return adopt(t, r, name, windows.FILE_FLAG_OVERLAPPED)
	}},
	{"Blocking", func(t *testing.T, r *aio.Ring, name string) *aio.File {
		return adopt(t, r, name, 0)
	}},
}

// adopt opens name with os.OpenFile (fileFlags in the high bits of the
// flag, as os.OpenFile takes them on Windows) and hands it to r.NewFile.
func adopt(t *testing.T, r *aio.Ring, name string, fileFlags int) *aio.File {
	t.Helper()
	of, err := os.OpenFile(name, os.O_RDWR|fileFlags, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	f, err := r.NewFile(of)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func testFlavourFile(t *testing.T, s *suite, open fileOpener) {
	r := s.ring(t, 0)
	const size = 256 << 10
	name := filepath.Join(t.TempDir(), "data")
	data := make([]byte, size)
	fillPattern(data, 0)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f := open(t, r, name)
	defer f.Close()
	// Positional reads, concurrently.
	var ops []*aio.Op
	var bufs [][]byte
	var offs []int64
	for range 64 {
		b := make([]byte, 1000)
		off := rand.Int64N(size - 1000)
		op, err := f.StartReadAt(b, off)
		if err != nil {
			t.Fatal(err)
		}
		ops, bufs, offs = append(ops, op), append(bufs, b), append(offs, off)
	}
	for i, op := range ops {
		if n, err := op.Wait(); n != 1000 || err != nil {
			t.Fatalf("read %d = (%d, %v)", i, n, err)
		}
		checkPattern(t, bufs[i], offs[i])
	}
	// The position: sequential reads move it.
	buf := make([]byte, 3000)
	for off := int64(0); off < 9000; off += 3000 {
		if n, err := f.Read(buf); n != 3000 || err != nil {
			t.Fatalf("Read at position %d = (%d, %v)", off, n, err)
		}
		checkPattern(t, buf, off)
	}
	// End of file.
	if n, err := f.ReadAt(buf, size-100); n != 100 || err != io.EOF {
		t.Errorf("short ReadAt = (%d, %v), want (100, io.EOF)", n, err)
	}
	// Writes, sync, and what another reader sees.
	fillPattern(buf, 7)
	if n, err := f.WriteAt(buf, 5000); n != len(buf) || err != nil {
		t.Fatalf("WriteAt = (%d, %v)", n, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil || !bytes.Equal(got[5000:5000+len(buf)], buf) {
		t.Fatalf("file content after WriteAt differs (err %v)", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(buf, 0)
	wantPathErr(t, "ReadAt after Close", err, os.ErrClosed)
}

// delayBias is raceBias with a clock instead of a spin count, and a
// multiplicative step: under Wine every call is a round trip to
// wineserver, and on a small machine spinning goroutines starve it, so the
// race window can be milliseconds away from where the spins start.
type delayBias struct{ delay time.Duration }

func (b *delayBias) observe(canceled bool) {
	if canceled {
		b.delay = min(b.delay+b.delay/4+time.Microsecond, 10*time.Millisecond)
	} else {
		b.delay -= b.delay / 4
	}
}

func (b *delayBias) race(act, cancel func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	run := func(fn func(), d time.Duration) {
		defer wg.Done()
		for start := time.Now(); time.Since(start) < d; {
			runtime.Gosched()
		}
		fn()
	}
	wg.Add(2)
	go run(act, rand.N(20*time.Microsecond))
	go run(cancel, b.delay+rand.N(20*time.Microsecond))
	return &wg
}
