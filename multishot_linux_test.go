package aio_test

import (
	"io"
	"net"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// TestAcceptMultishot: on io_uring a listener whose accepts go through
// the ring (readiness turned off: see mechanism.go) is served by one
// multishot request (one submission for many connections), and with
// multishot hidden, as on a kernel before 5.19, by one request each. Both
// accept every connection exactly once.
func TestAcceptMultishot(t *testing.T) {
	needURing(t)
	for _, multishot := range []bool{true, false} {
		name := "multishot"
		if !multishot {
			name = "single"
		}
		t.Run(name, func(t *testing.T) {
			r, err := aio.New(aio.Config{Backend: "uring"})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			aio.DisableTryNowForTest(r)
			if !multishot && !aio.DisableMultishotForTest(r) {
				t.Fatal("the uring driver cannot hide multishot")
			}
			ln, err := r.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			const conns = 100
			errs := make(chan error, 1)
			go func() {
				for i := range conns {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						errs <- err
						return
					}
					c.Write([]byte{byte(i)})
					c.Close()
				}
				errs <- nil
			}()
			base := r.Stats().Submitted
			seen := make(map[byte]bool)
			for range conns {
				c, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				var b [1]byte
				if _, err := io.ReadFull(c, b[:]); err != nil {
					t.Fatal(err)
				}
				if seen[b[0]] {
					t.Fatalf("client %d accepted twice", b[0])
				}
				seen[b[0]] = true
				c.Close()
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			// Reads count too: one per connection.
			accepts := r.Stats().Submitted - base - conns
			t.Logf("%d accept submissions for %d connections", accepts, conns)
			if multishot && accepts > 3 {
				t.Errorf("multishot: %d accept submissions for %d connections, want about 1", accepts, conns)
			}
			if !multishot && accepts < conns {
				t.Errorf("single-shot: %d accept submissions for %d connections", accepts, conns)
			}
		})
	}
}

// TestConformanceURingSingleShotAccept runs the socket cases on io_uring
// through the ring, as a kernel before 5.19 would see them (with
// readiness off): every Accept its own request,
// so an accept's cancel races the kernel's accept (rule 7).
func TestConformanceURingSingleShotAccept(t *testing.T) {
	aiotest.RunPrefix(t, "Sockets/", func(tb testing.TB, cfg aio.Config) *aio.Ring {
		cfg.Backend = "uring"
		r, err := aio.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		aio.DisableTryNowForTest(r) // accepts through the ring
		if !aio.DisableMultishotForTest(r) {
			tb.Fatal("the uring driver cannot hide multishot")
		}
		return r
	})
}

// TestConformanceURingMultishotAccept runs the socket cases on io_uring
// with listeners accepting through the ring's multishot accept (the
// readiness path off), so that rule 7 is checked there too: the sockets
// a multishot accept queued ahead of Accept are closed with the listener.
func TestConformanceURingMultishotAccept(t *testing.T) {
	aiotest.RunPrefix(t, "Sockets/", func(tb testing.TB, cfg aio.Config) *aio.Ring {
		cfg.Backend = "uring"
		r, err := aio.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		aio.DisableTryNowForTest(r) // accepts through the ring, multishot
		return r
	})
}
