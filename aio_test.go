package aio_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

func TestUnsupportedOpcode(t *testing.T) {
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	name := t.TempDir() + "/f"
	os.WriteFile(name, []byte("data"), 0o644)
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !aio.DisableReadForTest(r) {
		t.Fatal("the uring driver has no opcode switch")
	}
	buf := []byte("untouched")
	before := r.Stats()
	_, err = f.ReadAt(buf, 0)
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "IORING_OP_READ") {
		t.Errorf("ReadAt with READ unsupported = %v; want errors.ErrUnsupported naming IORING_OP_READ", err)
	}
	op, err := f.StartRead(buf)
	if op != nil || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("StartRead = %v, %v", op, err)
	}
	var ue *aio.UnsupportedError
	if !errors.As(err, &ue) || ue.Op != "IORING_OP_READ" || ue.Backend != "uring" {
		t.Errorf("error %v is not an *UnsupportedError naming the opcode", err)
	}
	if r.Stats().Submitted != before.Submitted || string(buf) != "untouched" {
		t.Error("an unsupported operation was submitted")
	}
}

func TestUnknownBackend(t *testing.T) {
	_, err := aio.New(aio.Config{Backend: "carrier-pigeon"})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("New with an unknown backend = %v", err)
	}
}

func TestErrCanceledMatchesECANCELED(t *testing.T) {
	// As the library reports it: bare, in a *fs.PathError, in a *net.OpError.
	for _, err := range []error{
		aio.ErrCanceled,
		&fs.PathError{Op: "read", Path: "f", Err: aio.ErrCanceled},
		&net.OpError{Op: "read", Net: "tcp", Err: aio.ErrCanceled},
	} {
		if !errors.Is(err, syscall.ECANCELED) {
			t.Errorf("%v does not match syscall.ECANCELED", err)
		}
		// Nothing but a cancel: not another errno, not a context's error.
		for _, other := range []error{syscall.EINTR, syscall.EAGAIN, context.Canceled, context.DeadlineExceeded, os.ErrDeadlineExceeded} {
			if errors.Is(err, other) {
				t.Errorf("%v matches %v", err, other)
			}
		}
	}
	if errors.Is(syscall.EINTR, aio.ErrCanceled) {
		t.Error("syscall.EINTR matches ErrCanceled")
	}
}

// TestRingNewCloseLoop: an idle ring's Close must always return (a stop
// request consumed by someone other than the reaper once left it asleep
// in the kernel, about one Close in a few hundred).
func TestRingNewCloseLoop(t *testing.T) {
	for _, backend := range []string{"uring", "portable"} {
		n := 3000
		if testing.Short() {
			n = 300
		}
		for i := range n {
			r, err := aio.New(aio.Config{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 { // an op first, so the reaper is awake or parking
				f, err := r.Open(context.Background(), os.DevNull, os.O_RDONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
