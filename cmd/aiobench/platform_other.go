//go:build !linux

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
)

// directIOFlag is 0: only Linux has O_DIRECT (macOS has F_NOCACHE, which
// a later version may use).
const directIOFlag = 0

// errDirectIO says why the O_DIRECT workload cannot run here.
var errDirectIO = fmt.Errorf("O_DIRECT is Linux-only (%s): %w", runtime.GOOS, errors.ErrUnsupported)

// errEvict says why the cold workload cannot run here.
var errEvict = fmt.Errorf("evicting a file from the page cache is done with posix_fadvise on Linux only (%s): %w", runtime.GOOS, errors.ErrUnsupported)

// evictFile cannot evict here.
func evictFile(name string) error { return errEvict }

// kernelVersion describes the running kernel as far as it is known.
func kernelVersion() string { return runtime.GOOS + " (version unknown)" }

// dirInfo cannot tell what backs dir here; it reports a disk with room.
func dirInfo(dir string) (tmpfs bool, free int64, err error) {
	_, err = os.Stat(dir)
	return false, -1, err
}

// isTerminal reports whether f looks like a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// threadSnapshot is nil: this platform does not list a process's threads.
func threadSnapshot() map[int]uint64 { return nil }

// cpuModel is unknown here.
func cpuModel() string { return "" }

// systemCPU is unknown here.
func systemCPU() (busy, steal time.Duration, ok bool) { return 0, 0, false }
