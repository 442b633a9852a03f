//go:build !race && linux

package aio_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

// TestZeroAllocsReadiness: on io_uring and on portable, blocking calls on
// pipes and sockets (the readiness path: see mechanism.go) allocate
// nothing per operation: a pipe's write and read, a TCP round trip, the
// same with deadlines set before each call, and a read that has to wait
// in the netpoller. A read that a past deadline ends allocates only its
// *net.OpError, as net's does (net/http ends a background read so on
// every request), a file sent on a connection (sendfile: io.Copy,
// net/http's file server) only its transfer's record, and a cancelled
// Op only the Op, its error and its waiter. (Built without -race, whose
// instrumentation allocates.)
func TestZeroAllocsReadiness(t *testing.T) {
	for _, backend := range ringBackends { // uring where it exists, portable
		t.Run(backend, func(t *testing.T) {
			if p := aio.Probe(); backend == "uring" && p.Backend != "uring" {
				t.Fatalf("io_uring unavailable here (%s): this test is for it", p.Reason)
			}
			r, err := aio.New(aio.Config{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			rd, err := r.NewFile(pr)
			pr.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			wr, err := r.NewFile(pw)
			pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			defer wr.Close()
			ln, err := r.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			acc := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					t.Error(err)
				}
				acc <- c
			}()
			client, err := r.DialContext(context.Background(), "tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server := <-acc
			if server == nil {
				t.FailNow()
			}
			defer server.Close()

			msg, buf := []byte("sixty-four bytes, more or less, of a message that goes round."), make([]byte, 128)
			check := func(what string, n int, err error) {
				if err != nil || n != len(msg) {
					t.Fatalf("%s = (%d, %v), want %d bytes", what, n, err, len(msg))
				}
			}
			// A reader that waits: it parks in the netpoller until the
			// writer's message arrives (a goroutine per run would allocate,
			// so one lives for the whole test).
			waitReq, waitDone := make(chan struct{}), make(chan error)
			go func() {
				for range waitReq {
					n, err := server.Read(buf)
					if err == nil && n != len(msg) {
						err = os.ErrInvalid
					}
					waitDone <- err
				}
			}()
			defer close(waitReq)
			far := time.Now().Add(time.Hour)
			file, err := r.Open(context.Background(), filepath.Join(t.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			if _, err := file.Write(msg); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name string
				fn   func()
				want float64 // allocations per run
			}{
				{"pipe Write+Read", func() {
					n, err := wr.Write(msg)
					check("pipe write", n, err)
					n, err = rd.Read(buf)
					check("pipe read", n, err)
				}, 0},
				{"TCP Write+Read", func() {
					n, err := client.Write(msg)
					check("tcp write", n, err)
					n, err = server.Read(buf)
					check("tcp read", n, err)
				}, 0},
				{"TCP with deadlines", func() {
					client.SetWriteDeadline(far)
					n, err := client.Write(msg)
					check("tcp write", n, err)
					server.SetReadDeadline(far)
					n, err = server.Read(buf)
					check("tcp read", n, err)
				}, 0},
				{"TCP read that waits", func() {
					waitReq <- struct{}{}
					for r.Stats().InFlight == 0 { // the read is in the netpoller
						runtime.Gosched()
					}
					n, err := client.Write(msg)
					check("tcp write", n, err)
					if err := <-waitDone; err != nil {
						t.Fatal(err)
					}
				}, 0},
				{"TCP read ended by a past deadline", func() {
					server.SetReadDeadline(time.Unix(1, 0))
					if _, err := server.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("read past its deadline = %v", err)
					}
					server.SetReadDeadline(time.Time{})
				}, 1},
				{"Op started on an empty pipe and cancelled", func() {
					// The Op, its *fs.PathError, and the goroutine that
					// waits for the pipe (the Op API's worker).
					op, err := rd.StartRead(buf)
					if err != nil {
						t.Fatal(err)
					}
					op.Cancel()
					if n, err := op.Wait(); n != 0 || !errors.Is(err, aio.ErrCanceled) {
						t.Fatalf("cancelled read on an empty pipe = (%d, %v)", n, err)
					}
				}, 3},
				{"file to TCP (ReadFrom: sendfile)", func() {
					if _, err := file.Seek(0, io.SeekStart); err != nil {
						t.Fatal(err)
					}
					n, err := client.(io.ReaderFrom).ReadFrom(file)
					check("ReadFrom", int(n), err)
					n2, err := io.ReadFull(server, buf[:len(msg)])
					check("tcp read", n2, err)
				}, 1},
			}
			for _, c := range cases {
				c.fn() // warm up
				if n := testing.AllocsPerRun(200, c.fn); n != c.want {
					t.Errorf("%s: %.1f allocations per run, want %v", c.name, n, c.want)
				}
			}
		})
	}
}
