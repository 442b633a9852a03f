//go:build !linux

package aio_test

import "os"

// nowaitReader: BenchmarkReadAt's floor is Linux's (preadv2).
var nowaitReader func(f *os.File) interface {
	ReadAt([]byte, int64) (int, error)
}
