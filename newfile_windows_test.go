package aio_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

// TestNewFileReopensDiskFiles: Ring.NewFile of a file from os.Open (a
// synchronous handle) runs through the ring's completion port, at the
// os.File's position; the os.File is unaffected: its position stays
// where it was, it reads and writes while the File is open, and after
// the File is closed. A pipe from os.Pipe cannot be reopened and runs
// blocking.
func TestNewFileReopensDiskFiles(t *testing.T) {
	r, err := aio.New(aio.Config{Backend: "iocp"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		open func() (*os.File, error)
		what string
	}{
		{func() (*os.File, error) { return os.Open(name) }, "os.Open"},
		{func() (*os.File, error) { return os.OpenFile(name, os.O_RDWR, 0) }, "os.OpenFile(O_RDWR)"},
	} {
		of, err := c.open()
		if err != nil {
			t.Fatal(err)
		}
		defer of.Close()
		if _, err := of.Seek(1, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		f, err := r.NewFile(of)
		if err != nil {
			t.Fatal(err)
		}
		if mode := aio.IOCPModeForTest(f); mode != "port" {
			t.Errorf("%s: NewFile's handle runs in %s mode, want port", c.what, mode)
		}
		buf := make([]byte, 3)
		if n, err := f.Read(buf); n != 3 || err != nil || string(buf) != "123" {
			t.Errorf("%s: File.Read = %d, %v, %q; want \"123\" from the os.File's position", c.what, n, err, buf[:n])
		}
		if n, err := f.ReadAt(buf, 7); n != 3 || err != nil || string(buf) != "789" {
			t.Errorf("%s: File.ReadAt(7) = %d, %v, %q", c.what, n, err, buf[:n])
		}
		// The os.File: its own position, untouched, and working.
		if pos, err := of.Seek(0, io.SeekCurrent); pos != 1 || err != nil {
			t.Errorf("%s: os.File position %d, %v after the File's reads; want 1", c.what, pos, err)
		}
		if n, err := of.Read(buf[:2]); n != 2 || err != nil || string(buf[:2]) != "12" {
			t.Errorf("%s: os.File.Read = %d, %v, %q", c.what, n, err, buf[:n])
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := of.Read(buf[:2]); n != 2 || err != nil || string(buf[:2]) != "34" {
			t.Errorf("%s: os.File.Read after File.Close = %d, %v, %q", c.what, n, err, buf[:n])
		}
	}

	// Writes through the File and through the os.File reach the same file.
	of, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer of.Close()
	f, err := r.NewFile(of)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("ab"), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := of.WriteAt([]byte("cd"), 6); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 10)
	if n, err := f.ReadAt(got, 0); n != 10 || err != nil || !bytes.Equal(got, []byte("01ab45cd89")) {
		t.Errorf("File.ReadAt after both wrote = %d, %v, %q", n, err, got[:n])
	}
	f.Close()
	if b, _ := os.ReadFile(name); string(b) != "01ab45cd89" {
		t.Errorf("the file holds %q", b)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	pf, err := r.NewFile(pr)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if mode := aio.IOCPModeForTest(pf); mode != "blocking" {
		t.Errorf("os.Pipe: NewFile's handle runs in %s mode, want blocking", mode)
	}
}
