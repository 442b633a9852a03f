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
	t.Cleanup(func() {
		pa.Close()
		pb.Close()
	})
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
	base := r.Stats().Submitted
	go func() {
		waitSubmitted(t, r, base+1)
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

// testDatagramCancelRaces: a numbered datagram is sent while the pending
// ReadFrom is cancelled; each datagram is received exactly once, by the
// racing read or by the drain that follows a cancel.
func testDatagramCancelRaces(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	a, b := udpPair(t, r)
	rounds := Scale(2000)
	var bias raceBias
	seen := make([]int, rounds)
	var won, canceled int
	buf := make([]byte, 64)
	record := func(p []byte) {
		if len(p) != 8 {
			t.Fatalf("datagram of %d bytes", len(p))
		}
		i := binary.LittleEndian.Uint64(p)
		if i >= uint64(rounds) {
			t.Fatalf("datagram %d out of range", i)
		}
		seen[i]++
	}
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		var n int
		var err error
		done := make(chan struct{})
		base := r.Stats().Submitted
		go func() {
			n, _, err = b.ReadFromContext(ctx, buf)
			close(done)
		}()
		waitSubmitted(t, r, base+1) // race the read in flight, not its start
		msg := binary.LittleEndian.AppendUint64(nil, uint64(i))
		wg := bias.race(func() {
			if _, err := a.WriteTo(msg, b.LocalAddr()); err != nil {
				t.Error(err)
			}
		}, cancel)
		<-done
		wg.Wait()
		cancel()
		switch {
		case err == nil:
			won++
			bias.observe(false)
			record(buf[:n])
		case errors.Is(err, context.Canceled) && n == 0:
			canceled++
			bias.observe(true)
			// The datagram is queued on the socket: it goes to the next read.
			n, _, err := b.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			record(buf[:n])
		default:
			t.Fatalf("round %d: ReadFromContext = (%d, %v)", i, n, err)
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("datagram %d received %d times", i, c)
		}
	}
	t.Logf("%d rounds: %d reads won, %d cancelled", rounds, won, canceled)
	if won == 0 || canceled == 0 {
		t.Errorf("want both outcomes: %d won, %d cancelled", won, canceled)
	}
}
