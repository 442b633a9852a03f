//go:build !linux

package uring

import (
	"errors"
	"fmt"

	"github.com/waitforit/aio/internal/core"
)

// New reports that io_uring does not exist on this system.
func New(entries int, t *core.Table) (core.Driver, error) {
	return nil, fmt.Errorf("io_uring: not available on this system: %w", errors.ErrUnsupported)
}
