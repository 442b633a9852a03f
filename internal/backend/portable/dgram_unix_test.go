//go:build unix

package portable

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio/internal/core"
)

// inet4Raw is the raw sockaddr of 127.0.0.1:port on this system.
func inet4Raw(port int) []byte {
	var in4 unix.RawSockaddrInet4
	*(*[2]byte)(unsafe.Pointer(&in4.Port)) = [2]byte{byte(port >> 8), byte(port)}
	in4.Addr = [4]byte{127, 0, 0, 1}
	return rawOf(&in4, unix.AF_INET, unsafe.Sizeof(in4))
}

// udpSocket returns a UDP socket bound to 127.0.0.1 on a free port, and
// its raw address; attached to d (non-blocking) unless d is nil.
func udpSocket(t *testing.T, d *Driver) (fd int, h *fileState, raw []byte) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err == nil {
		err = unix.SetNonblock(fd, true) // as the library's own sockets are
	}
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw = inet4Raw(sa.(*unix.SockaddrInet4).Port)
	if d != nil {
		h = attach(t, d, fd)
		if !h.pollable {
			t.Fatal("a UDP socket is not pollable")
		}
	}
	return fd, h, raw
}

// startMsg submits a KindSendmsg or KindRecvmsg.
func startMsg(t *testing.T, tab *core.Table, kind core.Kind, fd int, h any, buf, addr []byte) *core.Record {
	t.Helper()
	r := tab.Get()
	r.Kind, r.FD, r.Handle, r.Buf, r.Addr = kind, fd, h, buf, addr
	if err := tab.Submit(r); err != nil {
		tab.Put(r)
		t.Fatal(err)
	}
	return r
}

// waitMsg is wait, keeping AddrLen (Put clears it).
func waitMsg(tab *core.Table, r *core.Record) (res int32, addrLen int) {
	<-r.Wake
	res, addrLen = r.Res, r.AddrLen
	tab.Put(r)
	return res, addrLen
}

// sendTo sends p from the blocking socket fd to the raw address to,
// without the driver.
func sendTo(t *testing.T, fd int, p, to []byte) {
	t.Helper()
	if n, err := sendto(fd, p, to, 0); err != nil || n != len(p) {
		t.Fatalf("sendto = %d, %v", n, err)
	}
}

// recvFrom receives one datagram on the blocking socket fd, without the
// driver, giving up after a few seconds.
func recvFrom(t *testing.T, fd int) (data, from []byte) {
	t.Helper()
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5}); err != nil {
		t.Fatal(err)
	}
	buf, addr := make([]byte, 2048), make([]byte, unix.SizeofSockaddrAny)
	n, alen, err := recvfrom(fd, buf, addr, 0)
	if err != nil {
		t.Fatalf("recvfrom: %v", err)
	}
	return buf[:n], addr[:alen]
}

func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func TestDatagramSupported(t *testing.T) {
	d, _ := newTestDriver(t, Options{}, nil)
	for _, k := range []core.Kind{core.KindSendmsg, core.KindRecvmsg} {
		if ok, op := d.Supported(k); !ok || op != k.String() {
			t.Errorf("Supported(%v) = %v, %q", k, ok, op)
		}
	}
}

// TestRecvmsgSource: a recvmsg gets the datagram and the sender's raw
// address, whether the datagram was already there (completed in Submit)
// or arrived while it was parked; an Addr too small is filled no further
// than its length; no Addr means no address.
func TestRecvmsgSource(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	fd, h, raw := udpSocket(t, d)
	peer, _, peerRaw := udpSocket(t, nil)

	check := func(name string, res int32, buf []byte, addr []byte, addrLen int, want string) {
		t.Helper()
		if res != int32(len(want)) || string(buf[:max(res, 0)]) != want {
			t.Errorf("%s: recvmsg = %d %q, want %q", name, res, buf[:max(res, 0)], want)
		}
		if addrLen != len(peerRaw) || !bytes.Equal(addr[:min(addrLen, len(addr))], peerRaw) {
			t.Errorf("%s: source = %x (AddrLen %d), want %x", name, addr[:min(addrLen, len(addr))], addrLen, peerRaw)
		}
	}

	// Already there: completes in Submit.
	sendTo(t, peer, []byte("early"), raw)
	time.Sleep(10 * time.Millisecond) // loopback delivery is synchronous; be generous anyway
	buf, addr := filled(64, 0xaa), filled(unix.SizeofSockaddrAny, 0xbb)
	res, alen := waitMsg(tab, startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr))
	check("inline", res, buf, addr, alen, "early")
	if !bytes.Equal(addr[alen:], filled(len(addr)-alen, 0xbb)) {
		t.Errorf("inline: bytes past AddrLen written: %x", addr[alen:])
	}

	// Parked, then the datagram arrives.
	buf, addr = filled(64, 0xaa), filled(unix.SizeofSockaddrAny, 0xbb)
	r := startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr)
	time.Sleep(10 * time.Millisecond)
	if _, ok := completed(tab, r); ok {
		t.Fatal("recvmsg completed with nothing to receive")
	}
	sendTo(t, peer, []byte("late"), raw)
	res, alen = waitMsg(tab, r)
	check("parked", res, buf, addr, alen, "late")

	// Room for 4 bytes of address: nothing past them is written. Linux
	// reports the full length, the BSDs what they stored.
	big := filled(64, 0xbb)
	sendTo(t, peer, []byte("small"), raw)
	buf = filled(64, 0xaa)
	res, alen = waitMsg(tab, startMsg(t, tab, core.KindRecvmsg, fd, h, buf, big[:4:4]))
	if res != 5 || string(buf[:5]) != "small" || alen < 4 || !bytes.Equal(big[:4], peerRaw[:4]) {
		t.Errorf("small Addr: recvmsg = %d %q, AddrLen %d, source %x", res, buf[:max(res, 0)], alen, big[:4])
	}
	if !bytes.Equal(big[4:], filled(60, 0xbb)) {
		t.Errorf("small Addr: bytes past it written: %x", big[4:])
	}

	// No room: AddrLen 0.
	sendTo(t, peer, []byte("anon"), raw)
	buf = filled(64, 0xaa)
	res, alen = waitMsg(tab, startMsg(t, tab, core.KindRecvmsg, fd, h, buf, nil))
	if res != 4 || string(buf[:4]) != "anon" || alen != 0 {
		t.Errorf("no Addr: recvmsg = %d %q, AddrLen %d", res, buf[:max(res, 0)], alen)
	}

	// Flags reach the kernel: MSG_PEEK leaves the datagram for the next.
	sendTo(t, peer, []byte("peek"), raw)
	for _, flags := range []int{unix.MSG_PEEK, 0} {
		buf, addr = filled(64, 0xaa), filled(unix.SizeofSockaddrAny, 0xbb)
		r := tab.Get()
		r.Kind, r.FD, r.Handle, r.Buf, r.Addr, r.Flags = core.KindRecvmsg, fd, h, buf, addr, flags
		if err := tab.Submit(r); err != nil {
			t.Fatal(err)
		}
		res, alen = waitMsg(tab, r)
		check("peek", res, buf, addr, alen, "peek")
	}
}

// TestRecvmsgCancel: a recvmsg parked on an idle socket is cancelled at
// once, its buffer and address untouched; the next datagram goes to the
// next recvmsg. A parked recvmsg is also cancelled by CancelFD.
func TestRecvmsgCancel(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	fd, h, raw := udpSocket(t, d)
	peer, _, peerRaw := udpSocket(t, nil)

	for _, how := range []string{"Cancel", "CancelFD"} {
		buf, addr := filled(64, 0xaa), filled(unix.SizeofSockaddrAny, 0xbb)
		r := startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr)
		time.Sleep(5 * time.Millisecond) // let it park
		if how == "Cancel" {
			tab.Cancel(r, r.Gen())
		} else {
			d.CancelFD(fd)
		}
		res, alen := waitMsg(tab, r)
		if res != ecanceled || alen != 0 {
			t.Fatalf("%s: cancelled recvmsg = %d, AddrLen %d", how, res, alen)
		}
		if !bytes.Equal(buf, filled(64, 0xaa)) || !bytes.Equal(addr, filled(unix.SizeofSockaddrAny, 0xbb)) {
			t.Fatalf("%s: a cancelled recvmsg wrote into its buffers", how)
		}
	}

	sendTo(t, peer, []byte("next"), raw)
	buf, addr := make([]byte, 64), make([]byte, unix.SizeofSockaddrAny)
	res, alen := waitMsg(tab, startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr))
	if res != 4 || string(buf[:4]) != "next" || !bytes.Equal(addr[:alen], peerRaw) {
		t.Fatalf("recvmsg after the cancels = %d %q from %x", res, buf[:max(res, 0)], addr[:alen])
	}
}

// TestSendmsg: sendmsg to an explicit address from an unconnected socket,
// then with no address on a connected one; with no address and no peer
// it fails.
func TestSendmsg(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	fd, h, raw := udpSocket(t, d)
	peer, _, peerRaw := udpSocket(t, nil)

	if res, _ := waitMsg(tab, startMsg(t, tab, core.KindSendmsg, fd, h, []byte("to you"), peerRaw)); res != 6 {
		t.Fatalf("sendmsg to an address = %d", res)
	}
	if data, from := recvFrom(t, peer); string(data) != "to you" || !bytes.Equal(from, raw) {
		t.Fatalf("peer got %q from %x, want %q from %x", data, from, "to you", raw)
	}

	if res, _ := waitMsg(tab, startMsg(t, tab, core.KindSendmsg, fd, h, []byte("nobody"), nil)); res >= 0 {
		t.Errorf("sendmsg with no address on an unconnected socket = %d, want an error", res)
	}

	// Zero-length datagrams exist.
	if res, _ := waitMsg(tab, startMsg(t, tab, core.KindSendmsg, fd, h, nil, peerRaw)); res != 0 {
		t.Fatalf("empty sendmsg = %d", res)
	}
	if data, from := recvFrom(t, peer); len(data) != 0 || !bytes.Equal(from, raw) {
		t.Fatalf("peer got %q from %x, want an empty datagram", data, from)
	}

	sa, err := parseSockaddr(peerRaw)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal(err)
	}
	if res, _ := waitMsg(tab, startMsg(t, tab, core.KindSendmsg, fd, h, []byte("connected"), nil)); res != 9 {
		t.Fatalf("sendmsg on a connected socket = %d", res)
	}
	if data, from := recvFrom(t, peer); string(data) != "connected" || !bytes.Equal(from, raw) {
		t.Fatalf("peer got %q from %x", data, from)
	}

	if res, _ := waitMsg(tab, startMsg(t, tab, core.KindSendmsg, fd, h, []byte("x"), []byte{1})); res >= 0 {
		t.Errorf("sendmsg to a truncated address = %d, want an error", res)
	}
}

// TestRecvmsgCancelRace: cancels racing datagrams. Each round parks a
// recvmsg, then sends datagram i and cancels, in either order or at
// once. The recvmsg either got datagram i (the cancel lost) or was
// cancelled having touched nothing, and then the next recvmsg gets
// datagram i. Every datagram is received exactly once, in order.
func TestRecvmsgCancelRace(t *testing.T) {
	d, tab := newTestDriver(t, Options{}, nil)
	fd, h, raw := udpSocket(t, d)
	peer, _, peerRaw := udpSocket(t, nil)
	rounds := scale(3000)
	canceled, got := 0, 0
	buf, addr := make([]byte, 16), make([]byte, unix.SizeofSockaddrAny)
	expect := func(round int, res int32, alen int) {
		t.Helper()
		if res != 8 || binary.LittleEndian.Uint64(buf) != uint64(round) || !bytes.Equal(addr[:alen], peerRaw) {
			t.Fatalf("round %d: recvmsg = %d %x from %x, want datagram %d", round, res, buf[:max(res, 0)], addr[:alen], round)
		}
	}
	for round := range rounds {
		for i := range buf {
			buf[i] = 0xaa
		}
		for i := range addr {
			addr[i] = 0xbb
		}
		r := startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr)
		gen := r.Gen()
		var msg [8]byte
		binary.LittleEndian.PutUint64(msg[:], uint64(round))
		send := func() { sendTo(t, peer, msg[:], raw) }
		cancel := func() { tab.Cancel(r, gen) }
		switch round % 3 {
		case 0: // at once
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); cancel() }()
			send()
			wg.Wait()
		case 1:
			if rand.IntN(2) == 0 {
				runtime.Gosched()
			}
			send()
			cancel()
		case 2:
			cancel()
			send()
		}
		res, alen := waitMsg(tab, r)
		if res == ecanceled {
			canceled++
			if alen != 0 || !bytes.Equal(buf, filled(len(buf), 0xaa)) || !bytes.Equal(addr, filled(len(addr), 0xbb)) {
				t.Fatalf("round %d: a cancelled recvmsg wrote into its buffers (AddrLen %d)", round, alen)
			}
			// The datagram is still queued: the next recvmsg gets it.
			res, alen = waitMsg(tab, startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr))
		} else {
			got++
		}
		expect(round, res, alen)
	}
	// Nothing left over: a last recvmsg finds nothing, and is cancelled.
	r := startMsg(t, tab, core.KindRecvmsg, fd, h, buf, addr)
	time.Sleep(5 * time.Millisecond)
	tab.Cancel(r, r.Gen())
	if res, _ := waitMsg(tab, r); res != ecanceled {
		t.Fatalf("a datagram too many: %d", res)
	}
	st := tab.Stats()
	t.Logf("%d rounds: %d cancelled, %d got their datagram (%d of them after the cancel was requested)",
		rounds, canceled, got, st.CancelRacesLost)
	if st.Canceled != uint64(canceled+1) || st.CancelRacesLost > uint64(got) {
		t.Errorf("stats %+v, the test saw %d cancelled and %d received", st, canceled+1, got)
	}
}
