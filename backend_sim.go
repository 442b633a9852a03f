package aio

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/waitforit/aio/internal/backend/sim"
	"github.com/waitforit/aio/internal/core"
)

// SimAvailable reports whether the simulator (Backend "sim") exists on
// this system: it does on every Unix, where it runs on the portable
// backend's executor. Elsewhere the error matches errors.ErrUnsupported.
func SimAvailable() error {
	if err := sim.Available(); err != nil {
		return fmt.Errorf("aio: %w", err)
	}
	return nil
}

// newSim makes the simulator: the portable backend underneath, every
// free decision taken from the seed (cfg.Seed, else AIO_SIM_SEED, else
// random and reported on standard error).
func newSim(cfg Config, t *core.Table) (core.Driver, error) {
	if err := SimAvailable(); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		if v := os.Getenv("AIO_SIM_SEED"); v != "" {
			s, err := strconv.ParseInt(v, 10, 64)
			if err != nil || s == 0 {
				return nil, fmt.Errorf("aio: AIO_SIM_SEED=%q: want a non-zero integer", v)
			}
			seed = s
		}
	}
	if seed == 0 {
		for seed == 0 {
			seed = rand.Int64()
		}
		fmt.Fprintf(os.Stderr, "aio: simulator seed %d (AIO_SIM_SEED=%d replays it)\n", seed, seed)
	}
	return sim.New(t, sim.Options{
		Seed:    seed,
		Faults:  sim.Faults{ENOSPC: cfg.Faults.ENOSPC, EIO: cfg.Faults.EIO},
		Workers: cfg.Workers,
	})
}
