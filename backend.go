package aio

import (
	"github.com/waitforit/aio/internal/backend/uring"
	"github.com/waitforit/aio/internal/core"
)

func newURing(cfg Config, t *core.Table) (core.Driver, error) { return uring.New(cfg.Entries, t) }
