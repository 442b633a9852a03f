package aio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

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

	// Closing a registered pipe's write end ends the reader's stream.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	w, err := r.NewFile(pw)
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !aio.FixedFileForTest(w) {
		t.Fatal("the pipe's File is not registered")
	}
	op, err = w.StartWrite([]byte("bye")) // through the ring, on the slot
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pr.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(pr)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("no EOF after the registered write end was closed: the ring's table still holds it")
		}
		t.Fatal(err)
	}
	if string(got) != "bye" {
		t.Fatalf("read %q, want bye", got)
	}
}
