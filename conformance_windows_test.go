package aio_test

import (
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

func TestConformanceIOCP(t *testing.T) {
	aiotest.Run(t, func(tb testing.TB, cfg aio.Config) *aio.Ring {
		cfg.Backend = "iocp"
		r, err := aio.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		if got := r.Backend(); got != "iocp" {
			tb.Fatalf("Backend() = %q, want iocp", got)
		}
		return r
	}, aiotest.WithDisableRead(aio.DisableReadForTest))
}
