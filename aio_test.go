package aio_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

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
	for _, backend := range ringBackends {
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
