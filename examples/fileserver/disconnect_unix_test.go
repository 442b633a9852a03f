//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
)

// poll waits (bounded) until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// steady waits (bounded) until cond holds of the ring's counters five
// times in a row, 10 ms apart, with no operation completing meanwhile:
// the ring is still, not passing through that state.
func steady(t *testing.T, ring *aio.Ring, what string, cond func(aio.Stats) bool) {
	t.Helper()
	var last aio.Stats
	n := 0
	poll(t, what, func() bool {
		st := ring.Stats()
		if cond(st) && (n == 0 || st.Completed == last.Completed) {
			n++
		} else {
			n = 0
		}
		last = st
		if n < 5 {
			time.Sleep(10 * time.Millisecond)
			return false
		}
		return true
	})
}

// TestDisconnectCancelsReads: a client that goes away cancels the read
// its request is waiting for, and the ring's counters show it.
//
// To make a disk read wait, deterministically, the ring is the portable
// backend with one worker thread, every file read going to it
// (AIO_PORTABLE_NOWAIT=0), and the test occupies that worker with an
// open of a FIFO, which waits for a writer. Every read the server
// submits after that open waits in the worker's queue, as a read waits
// for a slow disk. The client reads the response until the server has
// submitted such a read, then disconnects: net/http cancels the
// request's context, and the read is cancelled before it ever runs.
func TestDisconnectCancelsReads(t *testing.T) {
	t.Setenv("AIO_PORTABLE_NOWAIT", "0")
	ring, err := aio.New(aio.Config{Backend: "portable", Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	dir := t.TempDir()
	big := make([]byte, 32<<20) // more than the sockets buffer: the server waits for the client
	if err := os.WriteFile(filepath.Join(dir, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(ring, dir))
	defer srv.Close()

	// A small receive buffer (set before connecting: no autotuning up
	// to tcp_rmem's 32 MiB), so the server waits for the client.
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 64<<10) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response: %v, %v", resp, err)
	}
	// The request has opened and stat'ed the file and reads it; the
	// client reads nothing more for now, so the server soon waits in a
	// socket write, with no read in flight.
	steady(t, ring, "the server waits for the client", func(st aio.Stats) bool { return st.InFlight == 0 })

	// Occupy the one worker: every read the server submits from now on
	// waits behind the FIFO's open (the worker takes operations in
	// order), for at least a second: then the pool, its queue stopped,
	// gives what waits threads of its own. What follows takes a small
	// part of that second.
	fifoOpened := make(chan error, 1)
	released := false
	release := func() { // a writer lets the FIFO's open finish
		if released {
			return
		}
		released = true
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		w.Close()
		if err := <-fifoOpened; err != nil {
			t.Error(err)
		}
	}
	defer release() // before ring.Close, which waits for the open
	go func() {
		f, err := ring.Open(context.Background(), fifo, os.O_RDONLY, 0)
		if err == nil {
			f.Close()
		}
		fifoOpened <- err
	}()
	poll(t, "the FIFO's open is in flight", func() bool { return ring.Stats().InFlight == 1 })

	// Read the body: the server's writes complete, and its next read
	// waits behind the open (a read ahead of it would complete at once).
	go io.Copy(io.Discard, resp.Body)
	steady(t, ring, "a read of the server waits", func(st aio.Stats) bool { return st.InFlight == 2 })
	waiting := ring.Stats()

	conn.Close() // the client goes away
	poll(t, "the waiting read is cancelled", func() bool { return ring.Stats().Canceled > waiting.Canceled })
	poll(t, "the request's operations are all done", func() bool { return ring.Stats().InFlight == 1 }) // the FIFO's open
	st := ring.Stats()
	t.Logf("when the client went away: %+v; after: %+v", waiting, st)
	if st.Submitted != waiting.Submitted {
		t.Errorf("%d operations were submitted after the disconnect", st.Submitted-waiting.Submitted)
	}
	if st.Canceled != waiting.Canceled+1 || st.CancelRacesLost != waiting.CancelRacesLost {
		t.Errorf("stats %+v after %+v: want exactly the waiting read cancelled", st, waiting)
	}

	release()
}
