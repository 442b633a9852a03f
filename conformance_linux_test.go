package aio_test

import (
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

func TestConformanceURing(t *testing.T) {
	aiotest.Run(t, func(tb testing.TB, cfg aio.Config) *aio.Ring {
		cfg.Backend = "uring"
		r, err := aio.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		return r
	}, aiotest.WithDisableRead(aio.DisableReadForTest))
}
