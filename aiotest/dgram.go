package aiotest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

func init() {
	register("Datagrams/RoundTrip", testDatagramRoundTrip)
	register("Datagrams/ReadFromCanceled", testReadFromCanceled)
	register("Datagrams/CancelRacesSend", testDatagramCancelRaces)
	register("Datagrams/CloseWaits", testDatagramCloseWaits)
}

func udpPair(t *testing.T, r *aio.Ring) (a, b *aio.PacketConn) {
	t.Helper()
	pa, err := r.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := r.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		pa.Close()
		t.Fatal(err)
	}
	closeAtEnd(t, pa, pb)
	return pa.(*aio.PacketConn), pb.(*aio.PacketConn)
}

func testDatagramRoundTrip(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	a, b := udpPair(t, r)
	for _, msg := range [][]byte{[]byte("hello, datagram"), {}, bytes.Repeat([]byte{7}, 9000)} {
		if n, err := a.WriteTo(msg, b.LocalAddr()); n != len(msg) || err != nil {
			t.Fatalf("WriteTo = (%d, %v)", n, err)
		}
		buf := make([]byte, 10000)
		n, from, err := b.ReadFrom(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("ReadFrom = (%d, %v, %v), want %d bytes", n, from, err, len(msg))
		}
		if from.String() != a.LocalAddr().String() {
			t.Errorf("source %v, want %v", from, a.LocalAddr())
		}
		if _, ok := from.(*net.UDPAddr); !ok {
			t.Errorf("source is a %T, want *net.UDPAddr", from)
		}
	}
	// A connected UDP socket from DialContext: Read and Write.
	c, err := r.DialContext(context.Background(), "udp", b.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("via dial")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := b.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "via dial" || from.String() != c.LocalAddr().String() {
		t.Fatalf("ReadFrom = (%q, %v, %v), local %v", buf[:n], from, err, c.LocalAddr())
	}
	b.WriteTo([]byte("reply"), from)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("Read on the dialed conn = (%q, %v)", buf[:n], err)
	}
	// An empty datagram is a datagram, not the end of a stream, both ways.
	if _, err := b.WriteTo(nil, from); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read of an empty datagram on the dialed conn = (%d, %v), want (0, nil)", n, err)
	}
	if n, err := c.Write(nil); n != 0 || err != nil {
		t.Fatalf("Write of an empty datagram on the dialed conn = (%d, %v), want (0, nil)", n, err)
	}
	if n, _, err := b.ReadFrom(buf); n != 0 || err != nil {
		t.Fatalf("ReadFrom of the dialed conn's empty datagram = (%d, %v), want (0, nil)", n, err)
	}
	if runtime.GOOS == "windows" {
		return // no unixgram sockets on Windows
	}
	dir := t.TempDir()
	ua, err := r.ListenPacket("unixgram", filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	ub, err := r.ListenPacket("unixgram", filepath.Join(dir, "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer ub.Close()
	if _, err := ua.WriteTo([]byte("unix"), ub.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	n, from, err = ub.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "unix" || from.String() != filepath.Join(dir, "a") {
		t.Fatalf("unixgram ReadFrom = (%q, %v, %v)", buf[:n], from, err)
	}
}

func testReadFromCanceled(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	a, b := udpPair(t, r)
	buf := bytes.Repeat([]byte{0xEE}, 64)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitInFlight(t, r, 1)
		cancel()
	}()
	n, from, err := b.ReadFromContext(ctx, buf)
	if n != 0 || from != nil || !errors.Is(err, context.Canceled) || !errors.Is(err, aio.ErrCanceled) {
		t.Fatalf("cancelled ReadFromContext = (%d, %v, %v)", n, from, err)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Fatalf("returned with the recvmsg in flight: %+v", st)
	}
	a.WriteTo([]byte("next"), b.LocalAddr())
	got := make([]byte, 64)
	if n, _, err := b.ReadFrom(got); err != nil || string(got[:n]) != "next" {
		t.Fatalf("next ReadFrom = (%q, %v)", got[:n], err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
		t.Fatal("the cancelled recvmsg's buffer was written")
	}
	b.SetReadDeadline(time.Now().Add(-time.Second))
	if _, _, err := b.ReadFrom(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadFrom past its deadline = %v", err)
	}
}

// testDatagramCancelRaces: a ReadFromContext waits in flight, then a
// numbered datagram is sent while its context is cancelled, with the GC
// running. Every outcome is observed (a cancel that lost the race too);
// each datagram is received exactly once, by the racing read or by the
// read that follows a cancel.
func testDatagramCancelRaces(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	gcs := gcPressure(t)
	a, b := udpPair(t, r)
	var bias raceBias
	seen := map[uint64]int{}
	buf := make([]byte, 64)
	record := func(p []byte) {
		if len(p) != 8 {
			t.Fatalf("datagram of %d bytes", len(p))
		}
		seen[binary.LittleEndian.Uint64(p)]++
	}
	x := drive(t, Scale(1000), []string{outCompleted, outRaceLost, outCanceled}, func(i int) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		lost := r.Stats().CancelRacesLost
		var n int
		var err error
		done := make(chan struct{})
		go func() {
			n, _, err = b.ReadFromContext(ctx, buf)
			close(done)
		}()
		waitInFlight(t, r, 1) // race the read in flight, not its start
		msg := binary.LittleEndian.AppendUint64(nil, uint64(i))
		bias.race(func() {
			if _, err := a.WriteTo(msg, b.LocalAddr()); err != nil {
				t.Error(err)
			}
		}, cancel).Wait()
		<-done
		switch {
		case err == nil:
			bias.observe(false)
			record(buf[:n])
			return raceOutcome(r, lost)
		case errors.Is(err, context.Canceled) && errors.Is(err, aio.ErrCanceled) && n == 0:
			bias.observe(true)
			// The datagram is queued on the socket: it goes to the next
			// read (unless the cancelled read took it: then this fails).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n, _, err := b.ReadFromContext(ctx, buf)
			if err != nil {
				t.Fatalf("round %d: the datagram a cancelled read left: %v", i, err)
			}
			record(buf[:n])
			return outCanceled
		}
		t.Fatalf("round %d: ReadFromContext = (%d, %v)", i, n, err)
		return ""
	})
	for i := range uint64(x.rounds) {
		if seen[i] != 1 {
			t.Fatalf("datagram %d received %d times", i, seen[i])
		}
	}
	t.Logf("%d garbage collections", gcs())
}

// testDatagramCloseWaits: PacketConn.Close with reads in flight cancels
// them and returns only once they have completed (rule 6); the blocked
// calls and every later call fail with net.ErrClosed, submitting
// nothing.
func testDatagramCloseWaits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	a, b := udpPair(t, r)
	errs := make(chan error, 2)
	buf := sentinel(64)
	go func() {
		_, _, err := b.ReadFrom(buf)
		errs <- err
	}()
	waitInFlight(t, r, 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("PacketConn.Close returned with operations in flight: %+v", st)
	}
	if err := <-errs; !errors.Is(err, net.ErrClosed) {
		t.Errorf("blocked ReadFrom after Close = %v, want net.ErrClosed", err)
	}
	if !untouched(buf) {
		t.Error("the cancelled read wrote its buffer")
	}
	before := r.Stats()
	if _, _, err := b.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close = %v", err)
	}
	if _, err := b.WriteTo(buf, a.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteTo after Close = %v", err)
	}
	if _, err := b.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	if after := r.Stats(); after.Submitted != before.Submitted || !untouched(buf) {
		t.Errorf("calls on a closed PacketConn submitted %d operations", after.Submitted-before.Submitted)
	}
	// The other end is unaffected.
	if _, err := a.WriteTo([]byte("x"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if n, _, err := a.ReadFrom(buf); n != 1 || err != nil {
		t.Fatalf("ReadFrom on the other socket = (%d, %v)", n, err)
	}
}
