//go:build unix

package aio_test

import (
	"math/rand/v2"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

// newSimRing makes a simulator ring with a fresh seed, logged so that a
// failing case can be replayed with AIO_SIM_SEED.
func newSimRing(tb testing.TB, cfg aio.Config) *aio.Ring {
	tb.Helper()
	cfg.Backend = "sim"
	if cfg.Seed == 0 {
		cfg.Seed = rand.Int64N(1<<62) + 1
	}
	r, err := aio.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if got := r.Backend(); got != "sim" {
		tb.Fatalf("Backend() = %q, want sim", got)
	}
	tb.Logf("simulator seed %d (AIO_SIM_SEED=%d replays it)", r.Seed(), r.Seed())
	return r
}

func TestConformanceSim(t *testing.T) {
	aiotest.Run(t, newSimRing, aiotest.WithDisableRead(aio.DisableReadForTest))
}
