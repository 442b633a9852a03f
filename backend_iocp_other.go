//go:build !windows

package aio

import (
	"errors"
	"fmt"

	"github.com/waitforit/aio/internal/core"
)

// newIOCP reports that completion ports exist only on Windows.
func newIOCP(cfg Config, t *core.Table) (core.Driver, error) {
	return nil, fmt.Errorf("aio: iocp backend: completion ports exist only on windows: %w", errors.ErrUnsupported)
}

// defaultBackend is "" outside Windows: New probes for the best backend.
func defaultBackend() string { return "" }
