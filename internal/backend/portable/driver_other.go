//go:build !unix

package portable

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/waitforit/aio/internal/core"
)

// Available reports whether the backend exists on this system.
func Available() error {
	return fmt.Errorf("portable backend: not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// New reports that the backend does not exist on this system.
func New(t *core.Table, opts Options) (core.Driver, error) { return nil, Available() }
