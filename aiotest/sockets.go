package aiotest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

func init() {
	register("Sockets/RecvBlockedThenCanceled", testRecvBlockedThenCanceled)
	register("Sockets/SendFullBufferThenCanceled", testSendFullBufferThenCanceled)
	register("Sockets/DeadlineInThePast", testDeadlineInThePast)
	register("Sockets/CloseWithOpsInFlight", testSocketCloseWithOpsInFlight)
	register("Sockets/AcceptCancelRacesLeakNothing", testAcceptCancelRaces)
	register("Sockets/UnacceptedConnectionsClosed", testUnacceptedConnectionsClosed)
}

// tcpPair returns both ends of a loopback TCP connection made through r.
func tcpPair(t *testing.T, r *aio.Ring) (client, server *aio.Conn) {
	t.Helper()
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := r.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() {
		c.Close()
		s.Close()
	})
	return c.(*aio.Conn), s.(*aio.Conn)
}

func testRecvBlockedThenCanceled(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	c, srv := tcpPair(t, r)
	buf := bytes.Repeat([]byte{0xEE}, 64)
	ctx, cancel := context.WithCancel(context.Background())
	base := r.Stats().Submitted
	go func() {
		waitSubmitted(t, r, base+1)
		cancel()
	}()
	n, err := c.ReadContext(ctx, buf)
	if n != 0 || !errors.Is(err, context.Canceled) || !errors.Is(err, aio.ErrCanceled) {
		t.Fatalf("cancelled ReadContext = (%d, %v)", n, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Errorf("error %v is not a *net.OpError for read", err)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Fatalf("ReadContext returned with the recv in flight: %+v", st)
	}
	srv.Write([]byte("after"))
	got := make([]byte, 64)
	if n, err := c.Read(got); err != nil || string(got[:n]) != "after" {
		t.Fatalf("next Read = (%d, %v) %q", n, err, got[:n])
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
		t.Fatal("the cancelled recv's buffer was written")
	}
}

// testSendFullBufferThenCanceled writes far more than the socket buffers
// hold to a peer that is not reading, cancels, and checks that the peer
// receives exactly the bytes the cancelled write reported.
func testSendFullBufferThenCanceled(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	c, srv := tcpPair(t, r)
	data := make([]byte, 16<<20)
	fillPattern(data, 0)
	ctx, cancel := context.WithCancel(context.Background())
	base := r.Stats().Submitted
	go func() {
		waitSubmitted(t, r, base+1)
		cancel()
	}()
	n, err := c.WriteContext(ctx, data)
	if err == nil || n == len(data) {
		t.Fatalf("write of 16 MiB to a peer that does not read = (%d, %v)", n, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write error %v does not match context.Canceled", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(srv)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("peer received %d bytes, the cancelled write reported %d", len(got), n)
	}
	checkPattern(t, got, 0)
}

func testDeadlineInThePast(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	c, srv := tcpPair(t, r)
	// A read blocked in the kernel, woken by a deadline moved into the past.
	done := make(chan error, 1)
	base := r.Stats().Submitted
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	waitSubmitted(t, r, base+1)
	c.SetReadDeadline(time.Now().Add(-time.Second))
	err := <-done
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read after a past deadline = %v; want os.ErrDeadlineExceeded, Timeout()", err)
	}
	// New reads fail at once, submitting nothing.
	before := r.Stats().Submitted
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a past deadline = %v", err)
	}
	if r.Stats().Submitted != before {
		t.Error("a read past its deadline was submitted")
	}
	// Clearing the deadline makes the connection usable again.
	c.SetReadDeadline(time.Time{})
	srv.Write([]byte("ok"))
	buf := make([]byte, 8)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("read after clearing the deadline = (%d, %v)", n, err)
	}
	// The same for a listener's accept.
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	al := ln.(*aio.Listener)
	base = r.Stats().Submitted
	go func() {
		_, err := al.Accept()
		done <- err
	}()
	waitSubmitted(t, r, base+1)
	al.SetDeadline(time.Now().Add(-time.Second))
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("accept after a past deadline = %v", err)
	}
}

func testSocketCloseWithOpsInFlight(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	c, _ := tcpPair(t, r)
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	base := r.Stats().Submitted
	go func() {
		_, err := c.Read(make([]byte, 8))
		errs <- err
	}()
	go func() {
		_, err := ln.Accept()
		errs <- err
	}()
	waitSubmitted(t, r, base+2)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked call after Close = %v, want net.ErrClosed", err)
		}
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after Close: %+v", st)
	}
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v", err)
	}
}

// testAcceptCancelRaces: accepts cancelled at random moments while a
// dialer hammers the listener. Connections an accept wins despite its
// cancel go to the waiting caller (who closes them); at the end the
// process has exactly the descriptors it started with.
func testAcceptCancelRaces(t *testing.T, s *suite) {
	// Go's netpoller opens its own descriptors on first use: make sure
	// that has happened before counting.
	if pr, pw, err := os.Pipe(); err == nil {
		pr.Close()
		pw.Close()
	}
	fds0, ok := openFDs()
	if !ok {
		t.Log("no /proc/self/fd here: descriptor count not checked")
	}
	r := s.ring(t, 0)
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al := ln.(*aio.Listener)
	addr := ln.Addr().String()
	// Stopping the dialer cancels its dial in flight: once the backlog is
	// full and nobody accepts, a connect waits through SYN retries for
	// two minutes.
	dialCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var dialed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the dialer: plain net, so only the accept side is aio's
		defer wg.Done()
		var d net.Dialer
		for dialCtx.Err() == nil {
			c, err := d.DialContext(dialCtx, "tcp", addr)
			if err != nil {
				continue
			}
			dialed.Add(1)
			c.Close()
		}
	}()
	var bias raceBias
	var won, canceled int
	rounds := Scale(10000)
	for range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		var c net.Conn
		var err error
		wg2 := bias.race(func() { c, err = al.AcceptContext(ctx) }, cancel)
		wg2.Wait()
		cancel()
		switch {
		case err == nil:
			won++
			bias.observe(false)
			c.Close()
		case errors.Is(err, context.Canceled):
			canceled++
			bias.observe(true)
		default:
			t.Fatalf("AcceptContext = %v", err)
		}
	}
	stop()
	wg.Wait()
	ln.Close()
	t.Logf("%d rounds: %d accepts won, %d cancelled; %d dials", rounds, won, canceled, dialed.Load())
	if won == 0 || canceled == 0 {
		t.Errorf("want both outcomes: %d won, %d cancelled", won, canceled)
	}
	if ok {
		if err := r.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Fatal(err)
		}
		if fds, _ := openFDs(); fds != fds0 {
			t.Errorf("%d descriptors open after the races, %d before", fds, fds0)
		}
	}
}

// testUnacceptedConnectionsClosed: a burst of connections larger than any
// accept queue the library keeps ahead of Accept is accepted completely
// and exactly once each; then connections nobody accepts are closed by the
// listener's Close, whether the library or the kernel's backlog held them.
func testUnacceptedConnectionsClosed(t *testing.T, s *suite) {
	if pr, pw, err := os.Pipe(); err == nil {
		pr.Close()
		pw.Close()
	}
	fds0, countFDs := openFDs()
	r := s.ring(t, 0)
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	dial := func(i int) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if _, err := c.Write([]byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
	}
	accept := func() int {
		t.Helper()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			t.Fatal(err)
		}
		return int(b[0]) | int(b[1])<<8
	}
	// The first Accept starts whatever the listener keeps in the kernel.
	dial(0)
	if i := accept(); i != 0 {
		t.Fatalf("accepted client %d, want 0", i)
	}
	const burst = 300
	for i := 1; i <= burst; i++ {
		dial(i)
	}
	seen := make(map[int]bool)
	for range burst {
		i := accept()
		if i < 1 || i > burst || seen[i] {
			t.Fatalf("accepted client %d twice or out of range", i)
		}
		seen[i] = true
	}
	// These are never accepted.
	for i := burst + 1; i <= burst+50; i++ {
		dial(i)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after the listener's Close: %+v", st)
	}
	if countFDs {
		if err := r.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Fatal(err)
		}
		if fds, _ := openFDs(); fds != fds0 {
			t.Errorf("%d descriptors open after Close, %d before", fds, fds0)
		}
	}
}

// openFDs counts the process's open descriptors, on Linux. (Under Wine
// /proc/self/fd lists the emulator's own descriptors, not the handles.)
func openFDs() (int, bool) {
	if runtime.GOOS != "linux" {
		return 0, false
	}
	d, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(d), true
}

var _ = syscall.ECANCELED
