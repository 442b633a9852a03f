package aio_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

// BenchmarkCheck measures checked ownership (Config.Check, AIO_CHECK=1):
// StartWriteAt and Wait of 4 KiB and 64 KiB to a file, with the check
// off and on, in the same run.
func BenchmarkCheck(b *testing.B) {
	for _, backend := range []string{"uring", "portable"} {
		for _, size := range []int{4 << 10, 64 << 10} {
			for _, check := range []bool{false, true} {
				name := fmt.Sprintf("%s/%dKiB/check=%v", backend, size>>10, check)
				b.Run(name, func(b *testing.B) {
					r, err := aio.New(aio.Config{Backend: backend, Check: check})
					if err != nil {
						b.Skipf("backend %s: %v", backend, err)
					}
					defer r.Close()
					f, err := r.Open(context.Background(), filepath.Join(b.TempDir(), "w"), os.O_RDWR|os.O_CREATE, 0o600)
					if err != nil {
						b.Fatal(err)
					}
					defer f.Close()
					buf := make([]byte, size)
					const span = 16 << 20
					off := int64(0)
					b.SetBytes(int64(size))
					for b.Loop() {
						op, err := f.StartWriteAt(buf, off)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := op.Wait(); err != nil {
							b.Fatal(err)
						}
						off = (off + int64(size)) % span
					}
				})
			}
		}
	}
}
