package aio_test

import (
	"strings"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// TestConformanceURingFSWorkers runs the file system cases on io_uring
// with every file system operation sent to the worker pool, as on a
// kernel that lacks their opcodes (before 5.6, 5.11, 5.15, 6.9). (fsync
// has been the ring's since 5.1, and stays there.)
func TestConformanceURingFSWorkers(t *testing.T) {
	aiotest.RunPrefix(t, "FS/", func(tb testing.TB, cfg aio.Config) *aio.Ring {
		cfg.Backend = "uring"
		r, err := aio.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		if !aio.ForceWorkersForTest(r) {
			tb.Fatal("the uring driver cannot route to workers")
		}
		for _, rt := range r.Routes() {
			if !strings.HasPrefix(rt.Via, "worker threads") && !strings.HasPrefix(rt.Op, "fsync") {
				tb.Fatalf("after ForceWorkers, %s goes %s", rt.Op, rt.Via)
			}
		}
		return r
	})
}

// TestConformanceDirFSWalk runs the DirFS cases with DirFS resolving
// names itself, one element at a time relative to directories it holds
// open, as it does where openat2 is missing (other Unix systems, Linux
// before 5.6): the same tree, the same escapes refused.
func TestConformanceDirFSWalk(t *testing.T) {
	for _, backend := range []string{"uring", "portable"} {
		t.Run(backend, func(t *testing.T) {
			aiotest.RunPrefix(t, "FS/DirFS/", func(tb testing.TB, cfg aio.Config) *aio.Ring {
				cfg.Backend = backend
				r, err := aio.New(cfg)
				if err != nil {
					tb.Fatal(err)
				}
				aio.DirFSWalkForTest(r)
				return r
			})
		})
	}
}
