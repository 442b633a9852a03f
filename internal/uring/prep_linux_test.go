package uring

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// run submits everything prepared and waits for the completions of want.
func run(t *testing.T, r *Ring, want ...uint64) map[uint64]int32 {
	t.Helper()
	r.Publish()
	for r.SQPending() > 0 {
		if _, err := r.Enter(r.SQPending(), 0, 0, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	got := map[uint64]int32{}
	for {
		drain(r, got)
		done := true
		for _, w := range want {
			if _, ok := got[w]; !ok {
				done = false
			}
		}
		if done {
			return got
		}
		if _, err := r.Enter(0, 1, EnterGetevents, nil, 0); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
	}
}

func TestPrepFileOps(t *testing.T) {
	r := setup(t, 8)
	name := filepath.Join(t.TempDir(), "f")
	path := append([]byte(name), 0)

	sqe := r.GetSQE()
	sqe.PrepOpenat(unix.AT_FDCWD, &path[0], unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	sqe.UserData = 1
	fd := run(t, r, 1)[1]
	if fd < 0 {
		t.Fatalf("OPENAT: %v", Errno(fd))
	}

	a, b := []byte("hello "), []byte("vectors")
	iov := []unix.Iovec{{Base: &a[0]}, {Base: &b[0]}}
	iov[0].SetLen(len(a))
	iov[1].SetLen(len(b))
	sqe = r.GetSQE()
	sqe.PrepWritev(fd, unsafe.Pointer(&iov[0]), len(iov), 0)
	sqe.UserData = 2
	if res := run(t, r, 2)[2]; res != int32(len(a)+len(b)) {
		t.Fatalf("WRITEV = %d", res)
	}
	runtime.KeepAlive(iov) // the kernel had only its address

	sqe = r.GetSQE()
	sqe.PrepFsync(fd, FsyncDatasync)
	sqe.UserData = 3
	if res := run(t, r, 3)[3]; res != 0 {
		t.Fatalf("FSYNC = %v", Errno(res))
	}

	c, d := make([]byte, 6), make([]byte, 7)
	riov := []unix.Iovec{{Base: &c[0]}, {Base: &d[0]}}
	riov[0].SetLen(len(c))
	riov[1].SetLen(len(d))
	sqe = r.GetSQE()
	sqe.PrepReadv(fd, unsafe.Pointer(&riov[0]), len(riov), 0)
	sqe.UserData = 4
	if res := run(t, r, 4)[4]; res != 13 || string(c)+string(d) != "hello vectors" {
		t.Fatalf("READV = %d %q %q", res, c, d)
	}
	runtime.KeepAlive(riov)

	var stx unix.Statx_t
	sqe = r.GetSQE()
	sqe.PrepStatx(unix.AT_FDCWD, &path[0], 0, unix.STATX_SIZE, unsafe.Pointer(&stx))
	sqe.UserData = 5
	if res := run(t, r, 5)[5]; res != 0 || stx.Size != 13 {
		t.Fatalf("STATX = %v, size %d", Errno(res), stx.Size)
	}

	sqe = r.GetSQE()
	sqe.PrepClose(fd)
	sqe.UserData = 6
	if res := run(t, r, 6)[6]; res != 0 {
		t.Fatalf("CLOSE = %v", Errno(res))
	}
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, []byte("hello vectors")) {
		t.Fatalf("file holds %q, %v", got, err)
	}
}

func TestPrepTimeouts(t *testing.T) {
	r := setup(t, 8)
	ts := Timespec{Nsec: 1e6}
	sqe := r.GetSQE()
	sqe.PrepTimeout(&ts, 0, 0)
	sqe.UserData = 1
	if res := run(t, r, 1)[1]; res != -int32(unix.ETIME) {
		t.Fatalf("TIMEOUT = %d, want -ETIME", res)
	}
	runtime.KeepAlive(&ts)

	// A read blocked on an empty pipe, linked to a 1 ms timeout: the
	// timeout fires and cancels the read.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	buf := make([]byte, 8)
	sqe = r.GetSQE()
	sqe.PrepRead(int32(p[0]), buf, ^uint64(0))
	sqe.Flags |= SQEIOLink
	sqe.UserData = 2
	lts := Timespec{Nsec: 1e6}
	sqe = r.GetSQE()
	sqe.PrepLinkTimeout(&lts, 0)
	sqe.UserData = 3
	got := run(t, r, 2, 3)
	if got[2] != -int32(unix.ECANCELED) || got[3] != -int32(unix.ETIME) {
		t.Fatalf("linked read %d (want -ECANCELED), timeout %d (want -ETIME)", got[2], got[3])
	}
	runtime.KeepAlive(buf)
	runtime.KeepAlive(&lts)
}

func TestOpName(t *testing.T) {
	if OpName(OpRead) != "IORING_OP_READ" || OpName(200) != "IORING_OP_200" {
		t.Fatal(OpName(OpRead), OpName(200))
	}
	if n := testing.AllocsPerRun(100, func() { _ = OpName(OpStatx) }); n != 0 {
		t.Errorf("OpName allocates %v times", n)
	}
}
