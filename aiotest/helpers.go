package aiotest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

func patternByte(off int64) byte { return byte(off*131 + off>>9) }

func fillPattern(p []byte, off int64) {
	for i := range p {
		p[i] = patternByte(off + int64(i))
	}
}

func checkPattern(t testing.TB, p []byte, off int64) {
	t.Helper()
	for i := range p {
		if p[i] != patternByte(off+int64(i)) {
			t.Fatalf("byte at offset %d = %#x, want %#x", off+int64(i), p[i], patternByte(off+int64(i)))
		}
	}
}

// patternFile creates a file of size bytes holding the pattern and opens
// it through r for reading and writing.
func patternFile(t *testing.T, r *aio.Ring, size int) *aio.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "data")
	buf := make([]byte, size)
	fillPattern(buf, 0)
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func isClosedErr(err error) bool { return errors.Is(err, os.ErrClosed) }

// wantPathErr checks err is a *fs.PathError matching every target.
func wantPathErr(t testing.TB, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want one matching %v", what, targets)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v (%T) is not a *fs.PathError", what, err, err)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("%s: error %q does not match %v", what, err, target)
		}
	}
}

// isDone reports whether op has completed, without blocking.
func isDone(op *aio.Op) bool {
	select {
	case <-op.Done():
		return true
	default:
		return false
	}
}
