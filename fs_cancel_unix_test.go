//go:build unix

package aio_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
)

// waitInFlight polls (bounded) until r has n operations in flight.
func waitInFlight(t *testing.T, r *aio.Ring, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().InFlight < n {
		if time.Now().After(deadline) {
			t.Fatalf("never %d operations in flight: %+v", n, r.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// fifo makes a named pipe in a new directory and returns its name.
func fifo(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(name, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestPortableFSCancelQueued: on the portable backend, a path operation
// waiting for a worker is cancelled by its context, completes cancelled,
// and never happens. The one worker is held by an open of a FIFO, which
// waits for a writer.
func TestPortableFSCancelQueued(t *testing.T) {
	r := portableRing(t, aio.Config{Workers: 1})
	name := fifo(t)
	opened := make(chan error, 1)
	go func() {
		f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err == nil {
			f.Close()
		}
		opened <- err
	}()
	waitInFlight(t, r, 1)

	dir := filepath.Join(filepath.Dir(name), "never")
	ctx, cancel := context.WithCancel(context.Background())
	made := make(chan error, 1)
	go func() { made <- r.Mkdir(ctx, dir, 0o755) }()
	waitInFlight(t, r, 2)
	canceledBefore := r.Stats().Canceled
	cancel()
	err := <-made
	if !errors.Is(err, context.Canceled) || !errors.Is(err, aio.ErrCanceled) {
		t.Fatalf("Mkdir cancelled in the queue = %v, want context.Canceled and aio.ErrCanceled", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a cancelled Mkdir made the directory: %v", err)
	}
	if st := r.Stats(); st.Canceled != canceledBefore+1 {
		t.Errorf("stats %+v: want one more cancelled operation", st)
	}

	w, err := os.OpenFile(name, os.O_WRONLY, 0) // lets the open finish
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
}
