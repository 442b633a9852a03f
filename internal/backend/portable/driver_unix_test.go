//go:build unix

package portable

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

const ecanceled = -int32(syscall.ECANCELED)

func scale(n int) int {
	if testing.Short() {
		return max(n/10, 10)
	}
	return n
}

// newTestDriver returns a driver on a fresh table, closed (and checked for
// leftover goroutines) at the end of the test. setup, if not nil, runs
// before the driver can see any operation.
func newTestDriver(t *testing.T, opts Options, setup func(*Driver)) (*Driver, *core.Table) {
	t.Helper()
	tab := core.NewTable()
	drv, err := New(tab, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := drv.(*Driver)
	if setup != nil {
		setup(d)
	}
	tab.Driver = d
	t.Cleanup(func() {
		if st := tab.Stats(); st.InFlight != 0 {
			t.Errorf("closing the driver with %d ops in flight", st.InFlight)
			return
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkNoGoroutines(t)
	})
	return d, tab
}

// checkNoGoroutines fails if a goroutine of this package is still alive.
// Close has waited for all of them to finish their work; a few may still
// be on their way out, so look a bounded number of times.
func checkNoGoroutines(t *testing.T) {
	t.Helper()
	var dump string
	for range 1000 {
		buf := make([]byte, 1<<20)
		dump = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(dump, "portable.(*pool).worker") && !strings.Contains(dump, "portable.(*Driver).park") {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("goroutines of the driver left after Close:\n%s", dump)
}

// start submits one operation and returns its record.
func start(t *testing.T, tab *core.Table, kind core.Kind, fd int, h any, buf []byte, off int64) *core.Record {
	t.Helper()
	r := tab.Get()
	r.Kind, r.FD, r.Handle, r.Buf, r.Off = kind, fd, h, buf, off
	if err := tab.Submit(r); err != nil {
		tab.Put(r)
		t.Fatal(err)
	}
	return r
}

// wait waits for r's completion, returns its result and recycles r.
func wait(tab *core.Table, r *core.Record) int32 {
	<-r.Wake
	res := r.Res
	tab.Put(r)
	return res
}

// completed reports whether r has completed, without blocking; if so its
// token is consumed and r recycled, and res is its result.
func completed(tab *core.Table, r *core.Record) (res int32, ok bool) {
	select {
	case <-r.Wake:
		res = r.Res
		tab.Put(r)
		return res, true
	default:
		return 0, false
	}
}

func tempFile(t *testing.T, size int) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "f")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func attach(t *testing.T, d *Driver, fd int) *fileState {
	t.Helper()
	h, err := d.Attach(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Detach(fd, h) })
	return h.(*fileState)
}

// pipe returns a fresh pipe (from os.Pipe: already non-blocking) attached
// to d: the read end's fd and handle, and the write end.
func pipe(t *testing.T, d *Driver) (int, *fileState, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	rc, err := pr.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(s uintptr) { fd = int(s) })
	fs := attach(t, d, fd)
	if !fs.pollable {
		t.Fatal("a pipe is not pollable")
	}
	return fd, fs, pw
}

// blocker is a beforeExec hook that holds chosen operations on their
// worker until released, so a test knows an operation is running.
type blocker struct {
	mu      sync.Mutex
	hold    map[*core.Record]chan struct{}
	started chan *core.Record
}

func newBlocker() *blocker {
	return &blocker{hold: map[*core.Record]chan struct{}{}, started: make(chan *core.Record, 64)}
}

func (b *blocker) before(r *core.Record) {
	b.mu.Lock()
	release, ok := b.hold[r]
	delete(b.hold, r)
	b.mu.Unlock()
	if ok {
		b.started <- r
		<-release
	}
}

// holdNext makes the next operation the worker starts on a record wait
// for release; r is the record the caller is about to submit.
func (b *blocker) holdNext(r *core.Record) (release func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	b.hold[r] = ch
	b.mu.Unlock()
	return func() { close(ch) }
}

// startHeld submits a pread that, once on its worker, waits for release.
func startHeld(t *testing.T, tab *core.Table, b *blocker, fd int, h any, buf []byte) (*core.Record, func()) {
	t.Helper()
	r := tab.Get()
	release := b.holdNext(r)
	r.Kind, r.FD, r.Handle, r.Buf, r.Off = core.KindRead, fd, h, buf, 0
	if err := tab.Submit(r); err != nil {
		t.Fatal(err)
	}
	return r, release
}

// TestQueuedVersusRunningCancel: one worker, running an operation that is
// held; the operations queued behind it are cancelled at once (complete
// before Cancel returns, never run); the running one completes with its
// real result despite its cancel, which counts as lost.
func TestQueuedVersusRunningCancel(t *testing.T) {
	b := newBlocker()
	d, tab := newTestDriver(t, Options{Workers: 1}, func(d *Driver) { d.beforeExec = b.before })
	f := tempFile(t, 4096)
	fd := int(f.Fd())
	h := attach(t, d, fd)

	bufA := make([]byte, 100)
	a, releaseA := startHeld(t, tab, b, fd, h, bufA)
	if got := <-b.started; got != a {
		t.Fatal("the worker started another operation")
	}
	bufB := bytes.Repeat([]byte{0xEE}, 100)
	rb := start(t, tab, core.KindRead, fd, h, bufB, 0)
	rc := start(t, tab, core.KindRead, fd, h, make([]byte, 100), 100)
	if _, ok := completed(tab, rb); ok {
		t.Fatal("an operation queued behind a running one completed")
	}

	tab.Cancel(rb, rb.Gen())
	res, ok := completed(tab, rb)
	if !ok || res != ecanceled {
		t.Fatalf("queued op after Cancel: completed %v, res %d; want completed at once with ECANCELED", ok, res)
	}
	if !bytes.Equal(bufB, bytes.Repeat([]byte{0xEE}, 100)) {
		t.Fatal("a cancelled queued op touched its buffer")
	}

	tab.Cancel(a, a.Gen())
	if _, ok := completed(tab, a); ok {
		t.Fatal("Cancel completed a running operation")
	}
	releaseA()
	if res := wait(tab, a); res != 100 {
		t.Fatalf("running op after its cancel = %d, want its real result 100", res)
	}
	if res := wait(tab, rc); res != 100 {
		t.Fatalf("op queued behind = %d, want 100", res)
	}
	st := tab.Stats()
	if st.Canceled != 1 || st.CancelRacesLost != 1 {
		t.Errorf("stats %+v, want 1 cancelled and 1 lost race", st)
	}
	want := make([]byte, 100)
	f.ReadAt(want, 0)
	if !bytes.Equal(bufA, want) {
		t.Error("the running op's data is wrong")
	}
}

// TestCancelFDQueued: CancelFD completes at once exactly the queued
// operations on that descriptor.
func TestCancelFDQueued(t *testing.T) {
	b := newBlocker()
	d, tab := newTestDriver(t, Options{Workers: 1}, func(d *Driver) { d.beforeExec = b.before })
	f1, f2 := tempFile(t, 4096), tempFile(t, 4096)
	fd1, fd2 := int(f1.Fd()), int(f2.Fd())
	h1, h2 := attach(t, d, fd1), attach(t, d, fd2)

	held, release := startHeld(t, tab, b, fd2, h2, make([]byte, 10))
	<-b.started
	var on1, on2 []*core.Record
	for range 5 {
		on1 = append(on1, start(t, tab, core.KindWrite, fd1, h1, []byte("x"), 0))
		on2 = append(on2, start(t, tab, core.KindRead, fd2, h2, make([]byte, 10), 0))
	}
	d.CancelFD(fd1)
	for i, r := range on1 {
		if res, ok := completed(tab, r); !ok || res != ecanceled {
			t.Fatalf("op %d on the cancelled fd: completed %v res %d", i, ok, res)
		}
	}
	for i, r := range on2 {
		if _, ok := completed(tab, r); ok {
			t.Fatalf("op %d on the other fd completed", i)
		}
	}
	release()
	if res := wait(tab, held); res != 10 {
		t.Fatalf("held op = %d", res)
	}
	for _, r := range on2 {
		if res := wait(tab, r); res != 10 {
			t.Fatalf("op on the other fd = %d, want 10", res)
		}
	}
}

// TestPoolBound: never more operations running than workers, and the
// bound is reached.
func TestPoolBound(t *testing.T) {
	const workers = 3
	var mu sync.Mutex
	running, peak := 0, 0
	closedReached := false
	reached := make(chan struct{})
	gate := make(chan struct{})
	hook := func(*core.Record) {
		mu.Lock()
		running++
		peak = max(peak, running)
		if running == workers && peak == workers && !closedReached {
			closedReached = true
			close(reached)
		}
		mu.Unlock()
		<-gate
		mu.Lock()
		running--
		mu.Unlock()
	}
	d, tab := newTestDriver(t, Options{Workers: workers}, func(d *Driver) { d.beforeExec = hook })
	f := tempFile(t, 4096)
	h := attach(t, d, int(f.Fd()))
	var recs []*core.Record
	for i := range 20 {
		recs = append(recs, start(t, tab, core.KindRead, int(f.Fd()), h, make([]byte, 8), int64(i)))
	}
	<-reached
	close(gate)
	for _, r := range recs {
		if res := wait(tab, r); res != 8 {
			t.Fatalf("read = %d", res)
		}
	}
	if peak != workers {
		t.Errorf("peak concurrency %d, want %d", peak, workers)
	}
}

// TestStaleCancelPool: a cancel naming a finished use of a record does
// nothing to the record's next use.
func TestStaleCancelPool(t *testing.T) {
	b := newBlocker()
	d, tab := newTestDriver(t, Options{Workers: 1}, func(d *Driver) { d.beforeExec = b.before })
	f := tempFile(t, 4096)
	fd := int(f.Fd())
	h := attach(t, d, fd)
	held, release := startHeld(t, tab, b, fd, h, make([]byte, 4))
	<-b.started
	r1 := start(t, tab, core.KindRead, fd, h, make([]byte, 4), 0)
	oldID := r1.ID()
	tab.Cancel(r1, r1.Gen())
	if res := wait(tab, r1); res != ecanceled {
		t.Fatalf("queued op after Cancel = %d", res)
	}
	r2 := start(t, tab, core.KindRead, fd, h, make([]byte, 4), 0) // reuses r1's record
	if r2 != r1 {
		t.Fatal("the table did not reuse the record")
	}
	d.Cancel(r2, oldID)
	if _, ok := completed(tab, r2); ok {
		t.Fatal("a stale cancel completed the record's next use")
	}
	release()
	wait(tab, held)
	if res := wait(tab, r2); res != 4 {
		t.Fatalf("next use = %d, want 4", res)
	}
}

// TestNeighbourSurvivesCancel: cancelling one of two reads parked on one
// pipe wakes both (one deadline per descriptor) but cancels only one; the
// other still gets the data.
func TestNeighbourSurvivesCancel(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	fd, h, w := pipe(t, d)
	a := start(t, tab, core.KindRead, fd, h, make([]byte, 8), -1)
	bufB := make([]byte, 8)
	rb := start(t, tab, core.KindRead, fd, h, bufB, -1)
	tab.Cancel(a, a.Gen())
	if res := wait(tab, a); res != ecanceled {
		t.Fatalf("cancelled read = %d, want ECANCELED", res)
	}
	if _, ok := completed(tab, rb); ok {
		t.Fatal("the neighbour completed")
	}
	w.Write([]byte("hi"))
	if res := wait(tab, rb); res != 2 || string(bufB[:2]) != "hi" {
		t.Fatalf("neighbour = %d %q", res, bufB[:2])
	}
}

// TestKickStorm: many reads parked on one pipe, cancels of random ones
// racing writes of one byte each. Every read completes once, cancelled
// reads transfer nothing, and every byte is read exactly once.
func TestKickStorm(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	fd, h, w := pipe(t, d)
	const parked = 16
	rounds := scale(2000)
	recs := make([]*core.Record, parked)
	bufs := make([][]byte, parked)
	for i := range recs {
		bufs[i] = make([]byte, 1)
		recs[i] = start(t, tab, core.KindRead, fd, h, bufs[i], -1)
	}
	got, canceled := 0, 0
	for round := range rounds {
		i := rand.IntN(parked)
		r := recs[i]
		gen := r.Gen()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); tab.Cancel(r, gen) }()
		go func() { defer wg.Done(); w.Write([]byte{'k'}) }()
		wg.Wait()
		// The cancelled read has completed or will; one byte is now either
		// read by some parked op or in the pipe. Collect whatever completed.
		res := wait(tab, r)
		switch {
		case res == ecanceled:
			canceled++
		case res == 1:
			got++
		default:
			t.Fatalf("round %d: cancelled read = %d", round, res)
		}
		recs[i] = start(t, tab, core.KindRead, fd, h, bufs[i], -1)
		for j, o := range recs {
			if res, ok := completed(tab, o); ok {
				if res != 1 {
					t.Fatalf("round %d: uncancelled read = %d", round, res)
				}
				got++
				recs[j] = start(t, tab, core.KindRead, fd, h, bufs[j], -1)
			}
		}
	}
	// Let the parked reads take what is left, then cancel them all.
	w.Close()
	for _, r := range recs {
		tab.Cancel(r, r.Gen())
	}
	for _, r := range recs {
		switch res := wait(tab, r); res {
		case 1:
			got++
		case 0, ecanceled: // end of stream, or cancelled
		default:
			t.Fatalf("final read = %d", res)
		}
	}
	rest := make([]byte, rounds)
	n, _ := unix.Read(fd, rest)
	if n < 0 {
		n = 0
	}
	t.Logf("%d rounds: %d bytes read by parked ops, %d cancels won, %d bytes left in the pipe", rounds, got, canceled, n)
	if got+n != rounds {
		t.Fatalf("wrote %d bytes, read %d + %d left", rounds, got, n)
	}
	if canceled == 0 {
		t.Error("no cancel ever won")
	}
}

// TestWriteCancel: a write parked on a full pipe is cancelled with nothing
// written; the pipe holds exactly what was written before.
func TestWriteCancel(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	h, err := d.Attach(p[1])
	if err != nil {
		t.Fatal(err)
	}
	filled := 0
	chunk := make([]byte, 4096)
	for {
		r := start(t, tab, core.KindWrite, p[1], h, chunk, -1)
		if res, ok := completed(tab, r); ok {
			if res <= 0 {
				t.Fatalf("write = %d", res)
			}
			filled += int(res)
			continue
		}
		tab.Cancel(r, r.Gen())
		if res := wait(tab, r); res != ecanceled {
			t.Fatalf("cancelled write = %d", res)
		}
		break
	}
	d.Detach(p[1], h)
	unix.Close(p[1]) // the last write end: the reader sees end of stream
	total := 0
	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(p[0], buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != filled {
		t.Fatalf("pipe held %d bytes, %d were written before the cancelled write", total, filled)
	}
}

// TestAttachKinds: what goes to the netpoller and what to the workers.
// A stream is the netpoller's if it is non-blocking already; a blocking
// one (an adopted terminal or inherited pipe) keeps its flags and goes
// to the workers, which wait for it in poll(2).
func TestAttachKinds(t *testing.T) {
	d, _ := newTestDriver(t, Options{}, nil)
	f := tempFile(t, 1)
	if h := attach(t, d, int(f.Fd())); h.pollable || h.blocking {
		t.Error("a regular file is a stream")
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if h := attach(t, d, p[0]); h.pollable || !h.blocking {
		t.Error("a blocking pipe is not a blocking stream")
	}
	if fl, _ := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("Attach made the pipe's shared description non-blocking")
	}
	unix.SetNonblock(p[1], true)
	if !attach(t, d, p[1]).pollable {
		t.Error("a non-blocking pipe is not pollable")
	}
	s, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s[0])
	defer unix.Close(s[1])
	if h := attach(t, d, s[0]); h.pollable || !h.blocking || !h.socket {
		t.Error("a blocking socket is not a blocking socket stream")
	}
	if fl, _ := unix.FcntlInt(uintptr(s[0]), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("Attach made the socket's shared description non-blocking")
	}
	unix.SetNonblock(s[1], true)
	if !attach(t, d, s[1]).pollable {
		t.Error("a non-blocking socket is not pollable")
	}
	if runtime.GOOS == "linux" {
		null, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer null.Close()
		fl0, _ := unix.FcntlInt(null.Fd(), unix.F_GETFL, 0)
		if attach(t, d, int(null.Fd())).pollable {
			t.Error("/dev/null is pollable")
		}
		if fl, _ := unix.FcntlInt(null.Fd(), unix.F_GETFL, 0); fl != fl0 {
			t.Errorf("Attach changed /dev/null's flags from %#x to %#x", fl0, fl)
		}
	}
}

// TestNoWaitInline: with NoWait, a cached read completes before Submit
// returns and never reaches a worker; without it, it goes to a worker.
func TestNoWaitInline(t *testing.T) {
	if !noWaitSupported {
		t.Skip("no RWF_NOWAIT here")
	}
	for _, nowait := range []bool{true, false} {
		t.Run(fmt.Sprintf("NoWait=%v", nowait), func(t *testing.T) {
			var execs int
			var mu sync.Mutex
			d, tab := newTestDriver(t, Options{NoWait: nowait}, func(d *Driver) {
				d.beforeExec = func(*core.Record) { mu.Lock(); execs++; mu.Unlock() }
			})
			f := tempFile(t, 8192)
			fd := int(f.Fd())
			h := attach(t, d, fd)
			buf := make([]byte, 4096)
			r := start(t, tab, core.KindRead, fd, h, buf, 4096)
			res, inline := completed(tab, r)
			if !inline {
				res = wait(tab, r)
			}
			if res != 4096 {
				t.Fatalf("NoWait %v: read = %d", nowait, res)
			}
			// At end of file the NOWAIT read returns 0, which a worker confirms.
			if res := wait(tab, start(t, tab, core.KindRead, fd, h, buf, 8192)); res != 0 {
				t.Fatalf("NoWait %v: read at EOF = %d", nowait, res)
			}
			mu.Lock()
			n := execs
			mu.Unlock()
			if nowait && (!inline || n != 1) && !h.noWaitRefused.Load() {
				t.Errorf("NoWait: cached read inline %v, %d worker execs; want inline and 1 (the EOF)", inline, n)
			}
			if !nowait && n != 2 {
				t.Errorf("without NoWait: %d worker execs, want 2", n)
			}
		})
	}
}

// TestKinds runs every kind of operation once through the driver.
func TestKinds(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	name := filepath.Join(t.TempDir(), "k")
	r := tab.Get()
	r.Kind, r.Path, r.Flags, r.Mode = core.KindOpen, append([]byte(name), 0), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600
	if err := tab.Submit(r); err != nil {
		t.Fatal(err)
	}
	fd := int(wait(tab, r))
	if fd < 0 {
		t.Fatalf("open = %d", fd)
	}
	h, err := d.Attach(fd)
	if err != nil {
		t.Fatal(err)
	}
	if res := wait(tab, start(t, tab, core.KindWrite, fd, h, []byte("hello"), 0)); res != 5 {
		t.Fatalf("write = %d", res)
	}
	if res := wait(tab, start(t, tab, core.KindFsync, fd, h, nil, 0)); res != 0 {
		t.Fatalf("fsync = %d", res)
	}
	r = tab.Get()
	r.Kind, r.FD, r.Handle, r.Flags = core.KindFsync, fd, h, core.FsyncDatasync
	tab.Submit(r)
	if res := wait(tab, r); res != 0 {
		t.Fatalf("fdatasync = %d", res)
	}
	buf := make([]byte, 8)
	if res := wait(tab, start(t, tab, core.KindRead, fd, h, buf, 1)); res != 4 || string(buf[:4]) != "ello" {
		t.Fatalf("read = %d %q", res, buf[:4])
	}
	if res := wait(tab, start(t, tab, core.KindNop, -1, nil, nil, 0)); res != 0 {
		t.Fatalf("nop = %d", res)
	}
	d.Detach(fd, h)
	if res := wait(tab, start(t, tab, core.KindClose, fd, nil, nil, 0)); res != 0 {
		t.Fatalf("close = %d", res)
	}
	r = tab.Get()
	r.Kind, r.Path = core.KindOpen, append([]byte(filepath.Join(t.TempDir(), "missing")), 0)
	tab.Submit(r)
	if res := wait(tab, r); res != -int32(syscall.ENOENT) {
		t.Fatalf("open of a missing file = %d, want -ENOENT", res)
	}
}

// TestCloseAfterParkedOps: Close releases everything once the parked ops
// have been cancelled and completed (the cleanup checks no goroutine is
// left).
func TestCloseAfterParkedOps(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	var recs []*core.Record
	for range 10 {
		fd, h, _ := pipe(t, d)
		for range 10 {
			recs = append(recs, start(t, tab, core.KindRead, fd, h, make([]byte, 1), -1))
		}
	}
	d.CancelAll()
	for _, r := range recs {
		if res := wait(tab, r); res != ecanceled {
			t.Fatalf("read after CancelAll = %d", res)
		}
	}
}

// TestTryNow: the direct path does what the kernel can do at once (a
// pipe with data, a cached file on Linux) and declines what would wait
// (an empty pipe) or is off (NoWait false).
func TestTryNow(t *testing.T) {
	d, _ := newTestDriver(t, Options{NoWait: true}, nil)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	rc, err := pr.SyscallConn() // not Fd, which would make the pipe blocking
	if err != nil {
		t.Fatal(err)
	}
	var rfd int
	rc.Control(func(s uintptr) { rfd = int(s) })
	h := attach(t, d, rfd)
	buf := make([]byte, 16)
	if res, ok := d.TryNow(core.KindRead, rfd, h, buf, -1, 0); ok {
		t.Fatalf("read of an empty pipe done at once: %d", res)
	}
	if _, err := pw.Write([]byte("now")); err != nil {
		t.Fatal(err)
	}
	if res, ok := d.TryNow(core.KindRead, rfd, h, buf, -1, 0); !ok || res != 3 || string(buf[:3]) != "now" {
		t.Fatalf("read of a pipe with data = (%d, %v) %q", res, ok, buf[:max(res, 0)])
	}
	if noWaitSupported {
		f := tempFile(t, 8192)
		fd := int(f.Fd())
		fh := attach(t, d, fd)
		if res, ok := d.TryNow(core.KindRead, fd, fh, buf, 100, 0); (!ok || res != 16) && !fh.noWaitRefused.Load() {
			t.Fatalf("read of a cached file = (%d, %v), want 16 at once", res, ok)
		}
		if res, ok := d.TryNow(core.KindRead, fd, fh, buf, 8192, 0); ok {
			t.Fatalf("read at end of file done at once (%d): a worker must confirm an EOF", res)
		}
	}
	off, _ := newTestDriver(t, Options{NoWait: false}, nil)
	if _, err := pw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, ok := off.TryNow(core.KindRead, rfd, attach(t, off, rfd), buf, -1, 0); ok {
		t.Fatal("TryNow with NoWait off did the read")
	}
}
