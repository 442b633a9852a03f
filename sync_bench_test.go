package aio_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

// BenchmarkSyncAfterWrites32: what rule 10's barrier costs at depth 32.
// Each iteration starts 32 writes of 4 KiB and syncs. "barrier" calls
// Sync at once and lets it wait for the writes (rule 10); "waited" waits
// for every write first and then calls Sync, what a caller had to do
// before the barrier, so the sync finds nothing in flight. The
// difference is the barrier's price.
func BenchmarkSyncAfterWrites32(b *testing.B) {
	const depth, size = 32, 4 << 10
	for _, backend := range []string{"uring", "portable"} {
		for _, mode := range []string{"barrier", "waited"} {
			b.Run("aio-"+backend+"/"+mode, func(b *testing.B) {
				r := benchRing(b, backend)
				f, err := r.Open(b.Context(), filepath.Join(b.TempDir(), "data"), os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				bufs := make([][]byte, depth)
				for i := range bufs {
					bufs[i] = make([]byte, size)
				}
				ops := make([]*aio.Op, depth)
				b.ReportAllocs()
				for b.Loop() {
					for i := range ops {
						if ops[i], err = f.StartWriteAt(bufs[i], int64(i*size)); err != nil {
							b.Fatal(err)
						}
					}
					if mode == "waited" {
						for _, op := range ops {
							if _, err := op.Wait(); err != nil {
								b.Fatal(err)
							}
						}
					}
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
					for _, op := range ops {
						if !op.Completed() {
							b.Fatal("Sync returned before a write started before it completed")
						}
						if _, err := op.Wait(); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
