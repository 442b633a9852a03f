package main

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"testing"
	"time"
)

// servedDir is t.TempDir for a tree a DirFS serves. A DirFS holds its
// directory open until it is no longer reachable, and Windows removes no
// directory a handle holds open unless it has POSIX delete semantics
// (Windows 10 and later; not Wine 8, where the parent then cannot be
// removed). So before TempDir's own cleanup, this one collects garbage
// until the tree is gone, for a bounded time; elsewhere the first try
// removes it.
func servedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC() // the handler's DirFS is unreachable now: its cleanup closes the directory
			err := os.RemoveAll(dir)
			if err == nil {
				if _, err = os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Errorf("the served tree is still held open after 10s: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	return dir
}
