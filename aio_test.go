package aio_test

import (
	"context"
	"errors"
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
	if !errors.Is(aio.ErrCanceled, aio.ErrCanceled) || !errors.Is(aio.ErrCanceled, syscall.ECANCELED) {
		t.Fatal("ErrCanceled does not match syscall.ECANCELED")
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
