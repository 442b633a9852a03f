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

const benchFileSize = 64 << 20

// benchFile makes a 64 MiB file, read once so it is in the page cache.
func benchFile(b *testing.B) string {
	b.Helper()
	name := filepath.Join(b.TempDir(), "bench")
	buf := make([]byte, benchFileSize)
	for i := range buf {
		buf[i] = byte(i)
	}
	if err := os.WriteFile(name, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	return name
}

func benchRing(b *testing.B, backend string) *aio.Ring {
	r, err := aio.New(aio.Config{Backend: backend})
	if err != nil {
		b.Skipf("backend %s: %v", backend, err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// benchOSFile opens name with os, and benchAIOFile on a ring of
// backend, read-only, each closed when b ends.
func benchOSFile(b *testing.B, name string) *os.File {
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

func benchAIOFile(b *testing.B, backend, name string) *aio.File {
	r := benchRing(b, backend)
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkReadAt: cached 4 KiB random reads, one caller, aio beside
// os.File.ReadAt in the same run. On Linux, "os-preadv2-nowait" is the
// floor of aio's mechanism in Go: os.File's descriptor read with the
// call aio makes (preadv2 with RWF_NOWAIT, which fails rather than wait
// for the disk, where os.File's pread blocks its thread), made directly
// from the benchmark's goroutine, with nothing of aio's around it.
func BenchmarkReadAt(b *testing.B) {
	name := benchFile(b)
	b.Run("os.File", func(b *testing.B) {
		f := benchOSFile(b, name)
		benchReadAt(b, f)
	})
	if nowaitReader != nil {
		b.Run("os-preadv2-nowait", func(b *testing.B) {
			f := benchOSFile(b, name)
			benchReadAt(b, nowaitReader(f))
		})
	}
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio."+backend, func(b *testing.B) {
			f := benchAIOFile(b, backend, name)
			benchReadAt(b, f)
		})
	}
}

func benchReadAt(b *testing.B, f interface {
	ReadAt([]byte, int64) (int, error)
}) {
	buf := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		off := rng.Int64N(benchFileSize/4096) * 4096
		if _, err := f.ReadAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead: cached 4 KiB sequential reads at the file position (what
// io.Copy and a bufio.Reader make), one caller, aio beside os.File.
func BenchmarkRead(b *testing.B) {
	name := benchFile(b)
	b.Run("os.File", func(b *testing.B) {
		f := benchOSFile(b, name)
		benchRead(b, f)
	})
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio."+backend, func(b *testing.B) {
			f := benchAIOFile(b, backend, name)
			benchRead(b, f)
		})
	}
}

func benchRead(b *testing.B, f io.ReadSeeker) {
	buf := make([]byte, 4096)
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Read(buf); err != nil {
			if err != io.EOF {
				b.Fatal(err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadAtParallel: the same with GOMAXPROCS*8 concurrent callers.
func BenchmarkReadAtParallel(b *testing.B) {
	name := benchFile(b)
	run := func(b *testing.B, f interface {
		ReadAt([]byte, int64) (int, error)
	}) {
		b.SetBytes(4096)
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 4096)
			rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				if _, err := f.ReadAt(buf, rng.Int64N(benchFileSize/4096)*4096); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("os.File", func(b *testing.B) {
		f := benchOSFile(b, name)
		run(b, f)
	})
	b.Run("aio.uring", func(b *testing.B) {
		r := benchRing(b, "uring")
		f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		e0, _ := aio.SubmitEnters(r)
		run(b, f)
		reportEnters(b, r, e0)
	})
}

// BenchmarkStartReadAtBatch: one goroutine, 32 reads in flight (the Op API).
func BenchmarkStartReadAtBatch(b *testing.B) {
	name := benchFile(b)
	r := benchRing(b, "uring")
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const depth = 32
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	ops := make([]*aio.Op, depth)
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		slot := i % depth
		if op := ops[slot]; op != nil {
			if _, err := op.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		ops[slot], err = f.StartReadAt(bufs[slot], rng.Int64N(benchFileSize/4096)*4096)
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	for _, op := range ops {
		if op != nil {
			op.Wait()
		}
	}
}

// reportEnters adds the submitting io_uring_enter calls per operation.
func reportEnters(b *testing.B, r *aio.Ring, before uint64) {
	if after, ok := aio.SubmitEnters(r); ok && b.N > 0 {
		b.ReportMetric(float64(after-before)/float64(b.N), "enters/op")
	}
}

// BenchmarkOpen: a cached file opened and closed, one caller, aio beside
// os.File (the mechanism an open takes is route's choice, on io_uring).
func BenchmarkOpen(b *testing.B) {
	name := benchFile(b)
	b.Run("os.File", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	for _, backend := range []string{"uring", "portable"} {
		b.Run("aio."+backend, func(b *testing.B) {
			r := benchRing(b, backend)
			b.ReportAllocs()
			for b.Loop() {
				f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
