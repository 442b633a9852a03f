//go:build !windows

package iocp

import (
	"errors"
	"fmt"

	"github.com/waitforit/aio/internal/core"
)

// New reports that completion ports do not exist on this system.
func New(entries int, t *core.Table) (core.Driver, error) {
	return nil, fmt.Errorf("iocp: completion ports exist only on windows: %w", errors.ErrUnsupported)
}
