package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFloorsRunInTheRounds: with -floors, op-32 gets its three floor rows,
// run in every round like an implementation, with ratios against std;
// without it, none.
func TestFloorsRunInTheRounds(t *testing.T) {
	for _, floors := range []bool{false, true} {
		args := quickArgs(t, "op-32")
		if floors {
			args = append(args, "-floors")
		}
		cfg, _, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failures) > 0 {
			t.Fatalf("failures: %v", res.Failures)
		}
		got := map[string]*row{}
		for _, r := range res.Workloads[0].Rows {
			if r.Kind == "floor" {
				got[r.Impl] = r
			}
		}
		if !floors {
			if len(got) != 0 {
				t.Errorf("floor rows without -floors: %v", got)
			}
			continue
		}
		for _, name := range []string{"floor inline", "floor pread", "floor guarded"} {
			r := got[name]
			switch {
			case r == nil:
				t.Errorf("no %q row", name)
			case r.NA != "":
				t.Errorf("%s: n/a: %s", name, r.NA)
			case len(r.Rounds) != cfg.rounds || r.OpsPerSec <= 0 || r.CPURatio <= 0:
				t.Errorf("%s: %d rounds (want %d), %.0f ops/s, x std cpu %.2f", name, len(r.Rounds), cfg.rounds, r.OpsPerSec, r.CPURatio)
			}
		}
	}
}

// TestFloorsCheckTheBytes: a floor reads what it claims to, like the
// implementations: on a corrupted file every floor fails.
func TestFloorsCheckTheBytes(t *testing.T) {
	cfg, _, err := parseFlags(append(quickArgs(t, "op-32"), "-floors", "-impl", "std"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.duration = 50 * time.Millisecond
	cfg.rounds = 1
	cfg.afterCreate = func(name string) error {
		return os.WriteFile(name, make([]byte, cfg.size), 0o644) // every block wrong
	}
	res, err := run(context.Background(), cfg, newProgress(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"floor inline", "floor pread", "floor guarded"} {
		found := false
		for _, f := range res.Failures {
			found = found || strings.Contains(f, "/"+name+" ")
		}
		if !found {
			t.Errorf("%s read corrupted blocks and nothing failed (failures: %v)", name, res.Failures)
		}
	}
}
