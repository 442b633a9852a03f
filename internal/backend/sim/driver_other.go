//go:build !unix

package sim

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/waitforit/aio/internal/core"
)

// Available reports whether the simulator exists here. It runs on the
// portable backend's executor, which is Unix only.
func Available() error {
	return fmt.Errorf("sim backend: not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// New reports that the simulator does not exist on this system.
func New(t *core.Table, opts Options) (core.Driver, error) { return nil, Available() }

// Driver is the simulator; on this system there is none.
type Driver struct{}

// Seed is the simulator's seed.
func (d *Driver) Seed() int64 { return 0 }

// Trace returns the simulator's outcomes.
func (d *Driver) Trace() (events []Event, total, hash uint64) { return nil, 0, 0 }
