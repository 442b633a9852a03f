package aio_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/waitforit/aio"
)

// The backends side by side on cached 4 KiB random reads of a 64 MiB
// file, with os.File.ReadAt as the baseline:
//
//	os.File           pread(2) in the calling goroutine
//	uring             io_uring (completes inline for cached data)
//	portable          preadv2(RWF_NOWAIT) in the caller, workers on a miss
//	portable-workers  every read handed to a worker (AIO_PORTABLE_NOWAIT=0),
//	                  what other Unix systems and page-cache misses pay
//
// go test -run XXX -bench BenchmarkBackend -benchmem

const backendBenchSize = 64 << 20

func backendBenchFile(b *testing.B) string {
	b.Helper()
	name := filepath.Join(b.TempDir(), "bench")
	buf := make([]byte, backendBenchSize)
	for i := range buf {
		buf[i] = byte(i * 31)
	}
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	return name // just written: in the page cache
}

// backendBenchReaders runs bench for each reader of the file.
func backendBenchReaders(b *testing.B, bench func(*testing.B, io.ReaderAt)) {
	name := backendBenchFile(b)
	b.Run("os.File", func(b *testing.B) {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		bench(b, f)
	})
	for _, c := range []struct{ name, backend, nowait string }{
		{"uring", "uring", ""},
		{"portable", "portable", ""},
		{"portable-workers", "portable", "0"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.Setenv("AIO_PORTABLE_NOWAIT", c.nowait)
			r, err := aio.New(aio.Config{Backend: c.backend})
			if err != nil {
				b.Skipf("backend %s: %v", c.backend, err)
			}
			defer r.Close()
			f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			bench(b, f)
		})
	}
}

func BenchmarkBackendReadAt4K(b *testing.B) {
	backendBenchReaders(b, func(b *testing.B, f io.ReaderAt) {
		buf := make([]byte, 4096)
		rng := rand.New(rand.NewPCG(1, 2))
		b.SetBytes(4096)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.ReadAt(buf, rng.Int64N(backendBenchSize/4096)*4096); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBackendReadAt4KParallel(b *testing.B) {
	backendBenchReaders(b, func(b *testing.B, f io.ReaderAt) {
		b.SetBytes(4096)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 4096)
			rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				if _, err := f.ReadAt(buf, rng.Int64N(backendBenchSize/4096)*4096); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
