package aio

import (
	"errors"
	"fmt"

	"github.com/waitforit/aio/internal/core"
)

// newPortable is replaced when the portable backend lands.
func newPortable(cfg Config, t *core.Table) (core.Driver, error) {
	return nil, fmt.Errorf("aio: portable backend: %w", errors.ErrUnsupported)
}
