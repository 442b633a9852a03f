package aio_test

import (
	"errors"
	"testing"

	"github.com/waitforit/aio"
)

// TestSimUnsupported: the simulator runs on the portable backend's
// executor, which is Unix only; here it says so.
func TestSimUnsupported(t *testing.T) {
	r, err := aio.New(aio.Config{Backend: "sim", Seed: 1})
	if err == nil {
		r.Close()
		t.Fatal("a sim ring on Windows")
	}
	if !errors.Is(err, errors.ErrUnsupported) || !errors.Is(aio.SimAvailable(), errors.ErrUnsupported) {
		t.Errorf("error %v does not match errors.ErrUnsupported", err)
	}
}
