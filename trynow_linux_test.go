package aio_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

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

// Blocking calls on sockets and pipes take the readiness path (see
// mechanism.go): the caller's own non-blocking system call, parking in
// Go's netpoller when it would wait. None of them reaches the ring, on
// io_uring or portable: a dial, an accept, sends and receives that could
// be done at once and ones that had to wait, and a pipe's reads. A call
// waiting in the netpoller counts as in flight.
func TestReadinessPath(t *testing.T) {
	eachLinuxRing(t, func(t *testing.T, r *aio.Ring) {
		enters := func() uint64 { n, _ := aio.SubmitEnters(r); return n }
		ringed := func() uint64 { return r.Stats().Submitted - r.Stats().Completed }
		e0 := enters()
		ln, err := r.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ctx := context.Background()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept() // waits in the netpoller
			if err != nil {
				t.Error(err)
			}
			accepted <- c
		}()
		client, err := r.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server := <-accepted
		if server == nil {
			t.FailNow()
		}
		defer server.Close()
		buf := make([]byte, 16)
		for i := range 100 {
			// The receive comes first and waits: in flight meanwhile.
			done := make(chan error, 1)
			go func() {
				n, err := server.Read(buf)
				if err == nil && string(buf[:n]) != "ping" {
					err = fmt.Errorf("read %q, want ping", buf[:n])
				}
				done <- err
			}()
			if i%2 == 0 {
				for ringed() == 0 {
					runtime.Gosched()
				}
			}
			if _, err := client.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
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
		for i := range 10 {
			done := make(chan error, 1)
			go func() {
				_, err := p.Read(buf[:1])
				done <- err
			}()
			for ringed() == 0 {
				runtime.Gosched()
			}
			if _, err := pw.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if got := enters() - e0; got != 0 {
			t.Errorf("%d io_uring_enter calls for blocking socket and pipe calls, want 0", got)
		}
		if st := r.Stats(); st.Submitted != st.Completed || st.Submitted < 2*100+10 {
			t.Errorf("stats %+v: want every call counted, and all complete", st)
		}
	})
}

// A blocking read of cached data is done at once, without the ring; a
// read that would wait for the disk goes through the ring.
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

	// A read of uncached data goes to the ring (and no thread waits for
	// the disk); the few reads after a miss do not try at once first.
	evict(t, f)
	base := r.Stats().Driver
	if n, err := f.ReadAt(buf, 512<<10); n != 4096 || err != nil {
		t.Fatalf("ReadAt = (%d, %v)", n, err)
	}
	if r.Stats().Driver == base {
		t.Error("a read of uncached data did not go through the ring")
	}
}

// evict drops f's pages from the page cache, and checks (mincore) that
// they are gone: FADV_DONTNEED is not sure to take at once.
func evict(t *testing.T, f *aio.File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	// Let the readahead of earlier reads finish first: a page still being
	// read in is not dropped, and would be cached after the check below.
	// A read of the whole file waits for every such page.
	all := make([]byte, st.Size())
	for off := 0; off < len(all); {
		n, err := unix.Pread(int(f.Fd()), all[off:], int64(off))
		if err != nil || n == 0 {
			t.Fatalf("reading the file whole before evicting it: %d bytes, %v", n, err)
		}
		off += n
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	vec := make([]byte, (len(mem)+os.Getpagesize()-1)/os.Getpagesize())
	for try := 0; ; try++ {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
		if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
			t.Fatal(os.NewSyscallError("mincore", e))
		}
		if !slices.ContainsFunc(vec, func(v byte) bool { return v&1 != 0 }) {
			return
		}
		if try == 100 {
			t.Fatal("the file's pages stay in the page cache after 100 FADV_DONTNEED")
		}
		runtime.Gosched()
	}
}

// TestSyncInCaller: a blocking Sync or SyncData of a regular file is
// made in the caller's thread (Stats.Direct), as os.File's, on both
// Linux backends; one whose context can end goes to the driver, where a
// cancel can still stop it before it begins (mechanism.go's
// syncInCaller). Each still waits for the writes before it (rule 10's
// cases in the suite).
func TestSyncInCaller(t *testing.T) {
	eachLinuxRing(t, func(t *testing.T, r *aio.Ring) {
		name := filepath.Join(t.TempDir(), "f")
		f, err := r.Open(context.Background(), name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte("data"), 0); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			sync func() error
			via  string
		}{
			{"Sync", f.Sync, "direct"},
			{"SyncData", f.SyncData, "direct"},
			{"SyncContext(Background)", func() error { return f.SyncContext(context.Background()) }, "direct"},
			{"SyncContext(cancellable)", func() error {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				return f.SyncContext(ctx)
			}, "driver"},
		} {
			s0 := r.Stats()
			if err := c.sync(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			s := r.Stats()
			direct, driver := s.Direct-s0.Direct, s.Driver-s0.Driver
			if want := (c.via == "direct"); direct != b2u(want) || driver != b2u(!want) {
				t.Errorf("%s: %d direct and %d through the driver, want it %s", c.name, direct, driver, c.via)
			}
			if s.InFlight != 0 || s.Submitted != s.Completed {
				t.Errorf("%s: stats %+v", c.name, s)
			}
		}
		f.Close()
		if err := f.Sync(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Sync after Close = %v, want os.ErrClosed", err)
		}
	})
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
