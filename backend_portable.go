package aio

import (
	"os"

	"github.com/waitforit/aio/internal/backend/portable"
	"github.com/waitforit/aio/internal/core"
)

// newPortable makes the portable backend: the netpoller for pipes, sockets
// and ttys, a pool of cfg.Workers threads for blocking file I/O.
//
// AIO_PORTABLE_NOWAIT=0 in the environment turns off its page-cache fast
// path (Linux reads of regular files try preadv2(RWF_NOWAIT) before going
// to a worker), so that every file operation takes the worker path.
func newPortable(cfg Config, t *core.Table) (core.Driver, error) {
	return portable.New(t, portable.Options{
		Workers: cfg.Workers,
		NoWait:  os.Getenv("AIO_PORTABLE_NOWAIT") != "0",
	})
}
