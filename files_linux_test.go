package aio_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
)

// ringRead makes one read of f through the ring, which registers f's
// descriptor: a read past the end of the file (a read of cached data is
// done at once, and an end of file is always the ring's to confirm).
func ringRead(t *testing.T, f *aio.File) {
	t.Helper()
	op, err := f.StartReadAt(make([]byte, 1), 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(); err != io.EOF {
		t.Fatalf("read past the end: %v, want io.EOF", err)
	}
}

// On io_uring a File's descriptor is registered with the ring (fixed
// files) by its first request through the ring, its operations work
// through the slot, Close frees the slot for the next File, and Close
// really closes: the table keeps no reference. A File that never uses the
// ring is never registered (a file server's: sendfile, a stat at once).
func TestURingFixedFiles(t *testing.T) {
	r, f := uringFile(t, 1<<16)
	if aio.FixedFileForTest(f) {
		t.Fatal("a File is registered before its first request through the ring")
	}
	op, err := f.StartWriteAt([]byte("fixed"), 100) // through the ring, on the slot
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Wait(); n != 5 || err != nil {
		t.Fatalf("write = (%d, %v)", n, err)
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 100); n != 5 || err != nil || string(buf) != "fixed" {
		t.Fatalf("read = (%d, %v) %q", n, err, buf)
	}
	if !aio.FixedFileForTest(f) {
		t.Fatal("a File of a uring ring is not registered after a request through the ring")
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}

	// More Files one after another than the table has slots: Close must
	// give each slot back.
	name := filepath.Join(t.TempDir(), "many")
	if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		g, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		ringRead(t, g)
		if !aio.FixedFileForTest(g) {
			t.Fatalf("file %d is not registered: slots are not given back", i)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Close really closes: a flock held through the registered File's
	// open file description lasts until the last reference to it goes,
	// so it is free after Close only if the table let go of it too.
	w, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ringRead(t, w)
	if !aio.FixedFileForTest(w) {
		t.Fatal("the File is not registered")
	}
	if err := unix.Flock(int(w.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	other, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Flock(int(other.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("the lock outlived Close (%v): the ring's table still holds the file", err)
	}

	// Pipes and sockets are not registered: their blocking calls do not
	// use the ring, and registering is a call on the ring's owner.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	p, err := r.NewFile(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if aio.FixedFileForTest(p) {
		t.Error("a pipe's File is registered")
	}
}
