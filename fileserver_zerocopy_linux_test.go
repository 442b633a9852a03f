package aio_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

// TestFileServerFSZeroCopy: http.FileServerFS on a Ring.DirFS, served on
// a Ring.Listen listener, sends its files without a userspace copy. It
// guards the one fragile link: net/http wraps each fs.File in its
// unexported ioFile, and transfer_linux.go looks through it by
// reflection; a Go release that changed the wrapper would make every
// response a copy, and this test fail.
func TestFileServerFSZeroCopy(t *testing.T) {
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
			dir := t.TempDir()
			const size = 256 << 10
			data := bytes.Repeat([]byte("zero-copy "), size/10)
			if err := os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			ln, err := r.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.FileServerFS(r.DirFS(dir))}
			go srv.Serve(ln)
			defer srv.Close()
			before := r.Stats()
			resp, err := http.Get("http://" + ln.Addr().String() + "/f.bin")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(body, data) {
				t.Fatalf("GET = %d bytes, %v; want the file's %d", len(body), err, len(data))
			}
			after := r.Stats()
			zc, copied := after.ZeroCopyBytes-before.ZeroCopyBytes, after.CopiedBytes-before.CopiedBytes
			t.Logf("ZeroCopyBytes +%d, CopiedBytes +%d", zc, copied)
			// net/http's response.ReadFrom writes the first 512 bytes
			// (its sniffing window) through its own buffer, for std's
			// net.TCPConn too, before it hands the rest to the
			// connection's ReadFrom.
			const sniffLen = 512
			if want := uint64(len(data) - sniffLen); zc != want || copied != 0 {
				t.Errorf("the response moved %d bytes without a copy and %d with one; want %d (all but net/http's first %d) without", zc, copied, want, sniffLen)
			}
		})
	}
}
