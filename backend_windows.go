package aio

import (
	"github.com/waitforit/aio/internal/backend/iocp"
	"github.com/waitforit/aio/internal/core"
)

// newIOCP makes the Windows backend: one I/O completion port per ring.
func newIOCP(cfg Config, t *core.Table) (core.Driver, error) { return iocp.New(cfg.Entries, t) }

// defaultBackend is the backend New picks when neither Config.Backend nor
// AIO_BACKEND names one: completion ports, on Windows.
func defaultBackend() string { return "iocp" }
