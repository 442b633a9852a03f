package aio_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// TestPoolReleaseAfterWait: a buffer whose operation the caller has seen
// complete goes back to its pool at Release, at once: TryGet right after
// finds it. (The pool once learned of the completion only after waking
// the caller, so a TryGet racing the completing goroutine came back
// empty; under Wine about one round in thirty.)
func TestPoolReleaseAfterWait(t *testing.T) {
	for _, backend := range ringBackends {
		t.Run(backend, func(t *testing.T) {
			r, err := aio.New(aio.Config{Backend: backend})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			name := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(name, make([]byte, 8192), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p, err := r.NewBufferPool(4096, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			b, ok := p.TryGet()
			if !ok {
				t.Fatal("TryGet of a new pool's one buffer failed")
			}
			for i := range aiotest.Scale(2000) {
				op, err := f.StartReadAt(b.Bytes(), 4096)
				if err != nil {
					t.Fatal(err)
				}
				if n, err := op.Wait(); n != 4096 || err != nil {
					t.Fatalf("round %d: read = (%d, %v)", i, n, err)
				}
				b.Release()
				if b, ok = p.TryGet(); !ok {
					t.Fatalf("round %d: TryGet failed right after the buffer's read completed and it was released", i)
				}
			}
			b.Release()
		})
	}
}
