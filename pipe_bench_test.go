//go:build unix

package aio_test

import (
	"os"
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
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio-"+backend, func(b *testing.B) {
			r := benchRing(b, backend)
			pr, pw, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			rd, err := r.NewFile(pr)
			pr.Close()
			if err != nil {
				b.Fatal(err)
			}
			defer rd.Close()
			wr, err := r.NewFile(pw)
			pw.Close()
			if err != nil {
				b.Fatal(err)
			}
			defer wr.Close()
			var _ *aio.File = rd
			b.ReportAllocs()
			for b.Loop() {
				wr.Write(msg)
				rd.Read(buf)
			}
		})
	}
}
