//go:build unix

package aiotest_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
)

func TestExploreRunsSeeds(t *testing.T) {
	seen := map[int64]bool{}
	aiotest.Explore(t, 30, func(t *testing.T, r *aio.Ring) {
		if r.Backend() != "sim" {
			t.Fatalf("Backend() = %q", r.Backend())
		}
		if seen[r.Seed()] {
			t.Fatalf("seed %d twice", r.Seed())
		}
		seen[r.Seed()] = true
	})
	// The seeds asked for (a tenth, at least 10, under -short), and not
	// fewer under the race detector.
	want := 30
	if testing.Short() {
		want = 10
	}
	if v, err := strconv.Atoi(os.Getenv("AIOTEST_SCALE")); err == nil && v > 0 {
		want *= v
	}
	if len(seen) != want {
		t.Errorf("%d seeds run, want %d", len(seen), want)
	}
}

func TestExploreReplaysOneSeed(t *testing.T) {
	t.Setenv("AIO_SIM_SEED", "12345")
	var seeds []int64
	aiotest.Explore(t, 1000, func(t *testing.T, r *aio.Ring) { seeds = append(seeds, r.Seed()) })
	if len(seeds) != 1 || seeds[0] != 12345 {
		t.Errorf("with AIO_SIM_SEED=12345, seeds run: %v", seeds)
	}
}

// TestExploreFailingHelper is run by TestExploreReportsFailingSeed in a
// child process: its body fails for one seed in five, or panics.
func TestExploreFailingHelper(t *testing.T) {
	mode := os.Getenv("AIOTEST_EXPLORE_HELPER")
	if mode == "" {
		t.Skip("run by TestExploreReportsFailingSeed in a child process")
	}
	aiotest.Explore(t, 100, func(t *testing.T, r *aio.Ring) {
		if r.Seed()%5 == 0 {
			if mode == "panic" {
				panic("boom")
			}
			t.Fatalf("bad seed %d", r.Seed())
		}
	})
}

func TestExploreReportsFailingSeed(t *testing.T) {
	for _, mode := range []string{"fail", "panic"} {
		run := func(env ...string) string {
			cmd := exec.Command(os.Args[0], "-test.run=^TestExploreFailingHelper$", "-test.v")
			cmd.Env = append(os.Environ(), append([]string{"AIOTEST_EXPLORE_HELPER=" + mode, "AIOTEST_SCALE=", "AIO_SIM_SEED="}, env...)...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("%s: the helper passed:\n%s", mode, out)
			}
			return string(out)
		}
		out := run()
		m := regexp.MustCompile(`simulator seed (\d+) failed \(seed (\d+) of \d+ tried\): replay it with\n\s+(AIO_SIM_SEED=(\d+) go test -run '\^TestExploreFailingHelper\$' github.com/waitforit/aio/aiotest)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no failing seed and replay command in:\n%s", mode, out)
		}
		seed, cmdSeed := m[1], m[4]
		if seed != cmdSeed {
			t.Fatalf("%s: seed %s, replay command for %s", mode, seed, cmdSeed)
		}
		if n := len(seed); seed[n-1] != '0' && seed[n-1] != '5' {
			t.Fatalf("%s: seed %s reported, which the body passes", mode, seed)
		}
		if strings.Count(out, "--- FAIL: TestExploreFailingHelper/seed=") != 1 {
			t.Errorf("%s: Explore went on after the first failing seed:\n%s", mode, out)
		}
		if mode == "panic" && !strings.Contains(out, "panic: boom") {
			t.Errorf("the body's panic is not reported:\n%s", out)
		}
		// The printed seed, replayed alone, fails alone.
		out = run("AIO_SIM_SEED=" + seed)
		if !strings.Contains(out, "seed="+seed) || strings.Count(out, "=== RUN   TestExploreFailingHelper/seed=") != 1 {
			t.Errorf("%s: replaying seed %s ran:\n%s", mode, seed, out)
		}
	}
}
