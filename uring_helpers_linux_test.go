package aio_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

// needURing fails a test written for io_uring where the library would not
// use it (io_uring is part of what CI's machines must have).
func needURing(t testing.TB) {
	t.Helper()
	if p := aio.Probe(); p.Backend != "uring" {
		t.Fatalf("io_uring unavailable here (%s): this test is for it", p.Reason)
	}
}

// uringFile returns a uring ring and a file of size zero bytes opened
// read-write through it; both are closed at the end of the test.
func uringFile(t testing.TB, size int) (*aio.Ring, *aio.File) {
	t.Helper()
	needURing(t)
	r, err := aio.New(aio.Config{Backend: "uring"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	name := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(name, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return r, f
}

// eachLinuxRing runs fn in a subtest per Linux backend, "uring" and
// "portable", each with a ring of its own, closed after.
func eachLinuxRing(t *testing.T, fn func(t *testing.T, r *aio.Ring)) {
	for _, backend := range []string{"uring", "portable"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "uring" {
				needURing(t)
			}
			r, err := aio.New(aio.Config{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			fn(t, r)
		})
	}
}
