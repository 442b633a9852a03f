//go:build unix

package aio_test

import (
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

// BenchmarkPipeWriteRead: one goroutine writes 64 bytes to a pipe and
// reads them back, so that nothing ever waits: the cost of a blocking
// call's bookkeeping on the readiness path (see mechanism.go) next to
// os.File's on the same pipe.
//
// "os+netpoll-waiter" is os.File with one other goroutine parked in Go's
// netpoller, as the uring backend's eventfd watcher always is (and as any
// program with an idle connection has one): an idle P's thread then
// waits in epoll_pwait instead of a futex, and every pipe write wakes it
// (strace: 2 epoll_pwait per iteration against 0.1). That costs os.File
// what it costs aio-uring here, about 0.4 us per iteration.
func BenchmarkPipeWriteRead(b *testing.B) {
	msg, buf := make([]byte, 64), make([]byte, 64)
	b.Run("os+netpoll-waiter", func(b *testing.B) {
		wr, ww, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		defer wr.Close()
		defer ww.Close()
		parked := make(chan struct{})
		go func() {
			defer close(parked)
			var x [1]byte
			wr.Read(x[:]) // parks until ww is closed
		}()
		defer func() { ww.Close(); <-parked }()
		pr, pw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		b.ReportAllocs()
		for b.Loop() {
			pw.Write(msg)
			pr.Read(buf)
		}
	})
	b.Run("os", func(b *testing.B) {
		pr, pw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		b.ReportAllocs()
		for b.Loop() {
			pw.Write(msg)
			pr.Read(buf)
		}
	})
	b.Run("os-rawconn", func(b *testing.B) {
		pr, pw, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		rd, wr := newRawRW(b, pr), newRawRW(b, pw)
		b.ReportAllocs()
		for b.Loop() {
			wr.Write(msg)
			rd.Read(buf)
		}
	})
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio-"+backend, func(b *testing.B) {
			r := benchRing(b, backend)
			rd, wr := ringPipe(b, r)
			var _ *aio.File = rd
			b.ReportAllocs()
			for b.Loop() {
				wr.Write(msg)
				rd.Read(buf)
			}
		})
	}
}

// ringPipe is a pipe whose two ends are Files of r, closed when tb ends.
func ringPipe(tb testing.TB, r *aio.Ring) (rd, wr *aio.File) {
	tb.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	rd, err = r.NewFile(pr)
	pr.Close()
	if err != nil {
		pw.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rd.Close() })
	wr, err = r.NewFile(pw)
	pw.Close()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { wr.Close() })
	return rd, wr
}

// BenchmarkPipeDriver is BenchmarkPipeWriteRead with each call through
// the driver (the ring's owner thread, the portable backend's workers),
// as the Start calls and a read that must wait go: the hand-off is what
// is timed. Run it with -cpu 1 too: with one P, a goroutine a
// completion wakes waited in the run queue of the owner's P while the
// owner slept in its blocking read of the eventfd, until sysmon took the
// P back (20 us to 10 ms later): 156-167 us per iteration with -cpu 1
// against 26-33 us with -cpu 2. With one P the owner now parks instead
// (see the uring driver's waitWake): 32-40 us.
func BenchmarkPipeDriver(b *testing.B) {
	msg, buf := make([]byte, 64), make([]byte, 64)
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio-"+backend, func(b *testing.B) {
			r := benchRing(b, backend)
			aio.DisableTryNowForTest(r)
			rd, wr := ringPipe(b, r)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := wr.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := rd.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPipePingPong: aiobench's pingpong as a Go benchmark. Two
// goroutines bounce 64 bytes over two pipes; one iteration is one round
// trip, in which each goroutine's read waits in the netpoller.
//
// "os-rawconn" is the floor for any library that waits through Go's
// public API: the same round trip on os.File, but each call made through
// SyscallConn's RawConn.Read/Write with the system call in the callback,
// the only public way to park a goroutine in the netpoller (and what
// aio's readiness path does, with its gate and counters around it).
func BenchmarkPipePingPong(b *testing.B) {
	type rw interface {
		Read([]byte) (int, error)
		Write([]byte) (int, error)
	}
	run := func(b *testing.B, aR, aW, bR, bW rw) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 64)
			for {
				if _, err := bR.Read(buf); err != nil {
					return
				}
				if _, err := bW.Write(buf); err != nil {
					return
				}
			}
		}()
		msg, buf := make([]byte, 64), make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := aW.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(aR, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if c, ok := aW.(io.Closer); ok {
			c.Close() // the echo's read ends
		}
		<-done
	}
	pipes := func(b *testing.B) (r1, w1, r2, w2 *os.File) {
		var err error
		if r1, w1, err = os.Pipe(); err != nil {
			b.Fatal(err)
		}
		if r2, w2, err = os.Pipe(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r1.Close(); w1.Close(); r2.Close(); w2.Close() })
		return
	}
	b.Run("os", func(b *testing.B) {
		r1, w1, r2, w2 := pipes(b)
		run(b, r2, w1, r1, w2)
	})
	b.Run("os-rawconn", func(b *testing.B) {
		r1, w1, r2, w2 := pipes(b)
		run(b, newRawRW(b, r2), newRawRW(b, w1), newRawRW(b, r1), newRawRW(b, w2))
	})
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio-"+backend, func(b *testing.B) {
			r := benchRing(b, backend)
			r1, w1, r2, w2 := pipes(b)
			adopt := func(f *os.File) *aio.File {
				af, err := r.NewFile(f)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { af.Close() })
				return af
			}
			ar1, aw1, ar2, aw2 := adopt(r1), adopt(w1), adopt(r2), adopt(w2)
			// The aio ends alone hold the pipes (and alone are in the
			// netpoller, as in os's runs).
			for _, f := range []*os.File{r1, w1, r2, w2} {
				f.Close()
			}
			run(b, ar2, aw1, ar1, aw2)
		})
	}
}

// rawRW reads and writes a descriptor (an os.File, a net.Conn) through
// its RawConn, as a library that parks in the netpoller through the
// public API must.
type rawRW struct {
	c    io.Closer
	rc   syscall.RawConn
	p    []byte
	n    int
	err  error
	rdFn func(fd uintptr) bool
	wrFn func(fd uintptr) bool
}

func newRawRW(b *testing.B, f *os.File) *rawRW {
	x, err := rawRWOf(f)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

// rawRWOf makes a rawRW of c, which it closes.
func rawRWOf(c interface {
	syscall.Conn
	io.Closer
}) (*rawRW, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	x := &rawRW{c: c, rc: rc}
	x.rdFn = func(fd uintptr) bool {
		x.n, x.err = syscall.Read(int(fd), x.p)
		return x.err != syscall.EAGAIN
	}
	x.wrFn = func(fd uintptr) bool {
		x.n, x.err = syscall.Write(int(fd), x.p)
		return x.err != syscall.EAGAIN
	}
	return x, nil
}

func (x *rawRW) Read(p []byte) (int, error) {
	x.p = p
	if err := x.rc.Read(x.rdFn); err != nil {
		return 0, err
	}
	if x.err == nil && x.n == 0 {
		return 0, io.EOF
	}
	return x.n, x.err
}

func (x *rawRW) Write(p []byte) (int, error) {
	x.p = p
	if err := x.rc.Write(x.wrFn); err != nil {
		return 0, err
	}
	return x.n, x.err
}

func (x *rawRW) Close() error { return x.c.Close() }
