package aio_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/waitforit/aio"
)

// On io_uring a File's descriptor is registered with the ring (fixed
// files), its operations work through the slot, Close frees the slot for
// the next File, and Close really closes: the table keeps no reference.
func TestURingFixedFiles(t *testing.T) {
	r, f := uringFile(t, 1<<16)
	if !aio.FixedFileForTest(f) {
		t.Fatal("a File of a uring ring is not registered with it")
	}
	if _, err := f.WriteAt([]byte("fixed"), 100); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	op, err := f.StartReadAt(buf, 100) // through the ring, on the slot
	if err != nil {
		t.Fatal(err)
	}
	if n, err := op.Wait(); n != 5 || err != nil || string(buf) != "fixed" {
		t.Fatalf("read = (%d, %v) %q", n, err, buf)
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
