package aiotest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/waitforit/aio"
)

// Explore runs body once per seed, each time on a fresh simulator ring
// (Backend "sim"), and stops at the first seed that fails, printing it
// and the command that replays it. The simulator takes every decision
// the contract leaves free from its seed: cancels that win, lose or win
// after a partial transfer, completions out of order and late, short
// transfers on streams, EINTR inside the blocking calls. Code that is
// right for one outcome and wrong for another fails for some seeds:
//
//	func TestAppendSurvivesCancel(t *testing.T) {
//		aiotest.Explore(t, 1000, func(t *testing.T, r *aio.Ring) {
//			f, err := r.Open(context.Background(), filepath.Join(t.TempDir(), "log"),
//				os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
//			if err != nil {
//				t.Fatal(err)
//			}
//			defer f.Close()
//			... append with cancelled contexts, read back, check ...
//		})
//	}
//
// A failure prints
//
//	simulator seed 81069… failed (seed 37 of 1000 tried): replay it with
//		AIO_SIM_SEED=81069… go test -run '^TestAppendSurvivesCancel$' example.com/log
//
// and with AIO_SIM_SEED set, Explore runs that seed alone. A seed replays
// exactly when body makes its calls in a fixed order: from one goroutine,
// with its cancels made by calls too (Op.Cancel, a context it cancels
// itself, Close). Another goroutine's timing, or a peer's, is real time
// and can differ between runs (see the simulator's documentation in the
// README).
//
// The seeds tried start at a random point on every run, so that repeated
// runs (CI) explore further; seeds is scaled down under -short (a tenth,
// at least 10) and up with AIOTEST_SCALE, as Scale does, but not under
// the race detector: the seeds asked for are what a test promises to
// search. The ring is closed after body and
// its cleanups; an operation still in flight then fails the seed. A panic
// in body (the simulator's checked ownership panics in the goroutine that
// observes the violation) fails the seed too, with its message.
func Explore(t *testing.T, seeds int, body func(t *testing.T, r *aio.Ring)) {
	t.Helper()
	ExploreConfig(t, seeds, aio.Config{}, body)
}

// ExploreConfig is Explore with a ring configuration: cfg.Faults sets the
// rates of injected ENOSPC and EIO, cfg.Entries and cfg.Workers apply as
// usual. Explore sets cfg.Backend and cfg.Seed.
func ExploreConfig(t *testing.T, seeds int, cfg aio.Config, body func(t *testing.T, r *aio.Ring)) {
	t.Helper()
	list, replaying, err := exploreSeeds(seeds)
	if err != nil {
		t.Fatal(err)
	}
	if err := aio.SimAvailable(); err != nil {
		t.Skipf("no simulator here: %v", err)
	}
	for i, seed := range list {
		passed := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { exploreSeed(t, cfg, seed, body) })
		if !passed {
			t.Fatalf("simulator seed %d failed (seed %d of %d tried): replay it with\n\t%s",
				seed, i+1, len(list), ReplayCommand(t, seed))
		}
	}
	if !replaying {
		t.Logf("%d simulator seeds passed (%d to %d)", len(list), list[0], list[len(list)-1])
	}
}

// exploreSeeds returns the seeds to run: AIO_SIM_SEED alone, or n from a
// random start.
func exploreSeeds(seeds int) (list []int64, replaying bool, err error) {
	if v := os.Getenv("AIO_SIM_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s == 0 {
			return nil, false, fmt.Errorf("AIO_SIM_SEED=%q: want a non-zero integer", v)
		}
		return []int64{s}, true, nil
	}
	n := max(seeds, 1)
	if testing.Short() {
		n = max(n/10, 10)
	}
	if v, err := strconv.Atoi(os.Getenv("AIOTEST_SCALE")); err == nil && v > 0 {
		n *= v
	}
	base := rand.Int64N(1 << 62)
	for i := range n {
		list = append(list, base+int64(i)+1)
	}
	return list, false, nil
}

func exploreSeed(t *testing.T, cfg aio.Config, seed int64, body func(t *testing.T, r *aio.Ring)) {
	cfg.Backend, cfg.Seed = "sim", seed
	r, err := aio.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after every cleanup body registers
	// (which may close files of the ring).
	t.Cleanup(func() {
		if err := r.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Errorf("Ring.Close: %v", err)
		}
		if st := r.Stats(); st.InFlight != 0 {
			t.Errorf("operations in flight after Ring.Close: %+v", st)
		}
	})
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("panic: %v\n\n%s", p, debug.Stack())
		}
	}()
	body(t, r)
}

// ReplayCommand is the shell command that reruns the test t (the whole
// test path, anchored) with the simulator's seed set to seed.
func ReplayCommand(t testing.TB, seed int64) string {
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	pkg := "."
	if bi, ok := debug.ReadBuildInfo(); ok && strings.HasSuffix(bi.Path, ".test") {
		pkg = strings.TrimSuffix(bi.Path, ".test")
	}
	return fmt.Sprintf("AIO_SIM_SEED=%d go test -run '%s' %s", seed, strings.Join(parts, "/"), pkg)
}
