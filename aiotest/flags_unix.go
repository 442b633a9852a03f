//go:build unix

package aiotest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Descriptors aio did not create keep their flags. A File adopted with
// NewFile shares its open file description with whoever handed it over:
// the shell (a terminal), the parent (an inherited pipe). aio must not
// set O_NONBLOCK on it, neither while it uses it nor after, and must
// still wait without blocking a thread and cancel at once.

func init() {
	register("Adopted/PtyKeepsItsFlags", testAdoptedPty)
	register("Adopted/InheritedPipeKeepsItsFlags", testAdoptedPipe)
	register("Adopted/BlockingSocketKeepsItsFlags", testAdoptedSocket)
}

// A socket cannot be reopened: its blocking calls go to the driver, which
// must still wait for it without changing its flags and cancel at once.
func testAdoptedSocket(t *testing.T, s *suite) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0) // blocking
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	mine, peer := os.NewFile(uintptr(fds[0]), "inherited-socket"), os.NewFile(uintptr(fds[1]), "peer")
	t.Cleanup(func() { mine.Close(); peer.Close() })
	testAdoptedKeepsFlags(t, s, mine, func(b []byte) {
		if _, err := peer.Write(b); err != nil {
			t.Fatal(err)
		}
	})
}

func testAdoptedPty(t *testing.T, s *suite) {
	master, slave := openPty(t)
	testAdoptedKeepsFlags(t, s, slave, func(p []byte) {
		if _, err := master.Write(p); err != nil {
			t.Fatal(err)
		}
	})
}

func testAdoptedPipe(t *testing.T, s *suite) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil { // blocking, as a parent hands it down
		t.Fatal(err)
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	rd, wr := os.NewFile(uintptr(p[0]), "inherited-read"), os.NewFile(uintptr(p[1]), "inherited-write")
	t.Cleanup(func() { rd.Close(); wr.Close() })
	testAdoptedKeepsFlags(t, s, rd, func(b []byte) {
		if _, err := wr.Write(b); err != nil {
			t.Fatal(err)
		}
	})
}

// testAdoptedKeepsFlags adopts orig (a blocking descriptor someone else
// holds) and checks, with a cancellable read in flight, after its
// cancel, after a read that gets data and after Close, that the shared
// description has exactly the flags it had; then that orig's own
// blocking read still works. feed writes data for orig's reader.
func testAdoptedKeepsFlags(t *testing.T, s *suite, orig *os.File, feed func([]byte)) {
	r := s.ring(t, 0)
	fd := int(orig.Fd()) // also makes orig blocking, as a shell's terminal is
	flags := func() int {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fl
	}
	before := flags()
	if before&unix.O_NONBLOCK != 0 {
		t.Fatalf("test setup: the descriptor is non-blocking already (%#x)", before)
	}
	f, err := r.NewFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	if got := flags(); got != before {
		t.Fatalf("NewFile changed the shared description's flags from %#x to %#x", before, got)
	}

	// A read in flight, cancelled: it waits without changing the flags,
	// and the cancel ends it at once.
	ctx, cancel := context.WithCancel(context.Background())
	base := r.Stats().Submitted
	done := make(chan error, 1)
	buf := bytes.Repeat([]byte{0xEE}, 64)
	go func() {
		_, err := f.ReadContext(ctx, buf)
		done <- err
	}()
	waitSubmitted(t, r, base+1)
	if got := flags(); got != before {
		t.Errorf("with a read in flight, the shared description's flags are %#x, were %#x", got, before)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read = %v, want context.Canceled (nothing was written)", err)
	}
	if !bytes.Equal(buf, bytes.Repeat([]byte{0xEE}, 64)) {
		t.Fatal("a cancelled read wrote into its buffer")
	}

	// A read that gets data.
	feed([]byte("aio\n"))
	n, err := f.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("aio")) {
		t.Fatalf("read through aio = (%d, %v) %q", n, err, buf[:n])
	}
	if got := flags(); got != before {
		t.Errorf("after reads, the shared description's flags are %#x, were %#x", got, before)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := flags(); got != before {
		t.Fatalf("after Close, the shared description's flags are %#x, were %#x", got, before)
	}

	// The original holder's blocking read still works (it would fail
	// with EAGAIN if O_NONBLOCK had been left on the description).
	feed([]byte("owner\n"))
	n, err = unix.Read(fd, buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("owner")) {
		t.Fatalf("the owner's blocking read = (%d, %v) %q", n, err, buf[:n])
	}
	t.Logf("flags %#x kept through NewFile, a cancelled read, a read and Close", before)
}

// openPty opens a pseudo-terminal pair: its master, and its slave opened
// blocking without becoming the controlling terminal (lines the master
// writes are read from the slave). Both are closed at the end of the
// test.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals here: %v", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	t.Cleanup(func() { master.Close() })
	name := ptyUnlock(t, mfd)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	slave = os.NewFile(uintptr(sfd), name)
	t.Cleanup(func() { slave.Close() })
	return master, slave
}
