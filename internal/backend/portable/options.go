package portable

import (
	"runtime"

	"github.com/waitforit/aio/internal/core"
)

// Options configure a Driver.
type Options struct {
	// Workers bounds the goroutines (and so the threads) that run blocking
	// syscalls; 0 means DefaultWorkers.
	Workers int
	// NoWait lets reads of regular files try preadv2(RWF_NOWAIT) in the
	// submitting goroutine before they go to a worker (Linux only; ignored
	// elsewhere).
	NoWait bool
	// Complete, when set, is told each completion instead of
	// Table.Complete: the simulator runs a portable driver underneath and
	// decides itself when its completions are delivered.
	Complete func(r *core.Record, res int32)
}

// DefaultWorkers is the worker bound when Options.Workers is 0: four per
// GOMAXPROCS, so that a few slow disk requests do not stall the rest,
// between 8 and 128.
func DefaultWorkers() int { return min(max(4*runtime.GOMAXPROCS(0), 8), 128) }
