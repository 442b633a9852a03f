//go:build unix

package aiotest

import (
	"bytes"
	"os"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

// stuckWrite starts a write that stays in flight until drain is called:
// a write to a pipe that is already full. drain reads the pipe empty,
// checks what the write delivered and returns once the write's op has
// completed. The pipe is closed at the end of the test.
func stuckWrite(t *testing.T, r *aio.Ring) (wr *aio.File, op *aio.Op, drain func()) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	// Fill it: os.Pipe's descriptors are non-blocking, so write until
	// EAGAIN says the pipe is full.
	rc, err := pw.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	filled := 0
	chunk := make([]byte, 4096)
	if err := rc.Write(func(fd uintptr) bool {
		for {
			n, err := syscall.Write(int(fd), chunk)
			if n > 0 {
				filled += n
			}
			if err == syscall.EAGAIN {
				return true
			}
			if err != nil && err != syscall.EINTR {
				t.Errorf("filling the pipe: %v", err)
				return true
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if wr, err = r.NewFile(pw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wr.Close() })
	data := bytes.Repeat([]byte("barrier!"), 512) // PIPE_BUF: written whole once there is room
	before := r.Stats().Submitted
	if op, err = wr.StartWrite(data); err != nil {
		t.Fatal(err)
	}
	waitSubmitted(t, r, before+1)
	drain = func() {
		t.Helper()
		got := make([]byte, filled+len(data))
		for n := 0; n < len(got); {
			m, err := pr.Read(got[n:])
			if err != nil {
				t.Fatalf("draining the pipe: %v", err)
			}
			n += m
		}
		if n, err := op.Wait(); n != len(data) || err != nil {
			t.Fatalf("write = (%d, %v), want all %d bytes: nobody cancelled it", n, err, len(data))
		}
		if !bytes.Equal(got[filled:], data) {
			t.Fatal("the pipe delivered other bytes than were written")
		}
	}
	return wr, op, drain
}
