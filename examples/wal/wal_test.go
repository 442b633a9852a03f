//go:build unix

package wal_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
	"github.com/waitforit/aio/examples/wal"
)

func TestMain(m *testing.M) { aiotest.Main(m) }

// logRecords is the test body Explore runs for every seed: eight
// records appended to a fresh log in dir, every other one for a caller
// whose context has already ended when its append is under way (the
// append starts its write, then waits for it with that context), each
// made durable; then the log must hold every record exactly once, in
// order.
func logRecords(dir string, appendFn func(*wal.Log) func(context.Context, []byte) error) func(*testing.T, *aio.Ring) {
	return func(t *testing.T, r *aio.Ring) {
		ctx := context.Background()
		name := filepath.Join(dir, "wal")
		l, err := wal.Create(ctx, r, name)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var want [][]byte
		for i := range 8 {
			rec := bytes.Repeat([]byte(fmt.Sprintf("record %d;", i)), 500+50*i) // 5 to 7 KiB
			rctx := ctx
			if i%2 == 1 {
				c, cancel := context.WithCancel(ctx)
				cancel() // the client gave up
				rctx = c
			}
			if err := wal.Durable(rctx, rec, appendFn(l)); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			want = append(want, rec)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wal.Parse(data)
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		if len(got) != len(want) {
			t.Fatalf("the log holds %d records, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d differs", i)
			}
		}
	}
}

func fixed(l *wal.Log) func(context.Context, []byte) error { return l.Append }
func buggy(l *wal.Log) func(context.Context, []byte) error { return l.AppendBuggy }

// TestAppend: the fixed log keeps every record exactly once, for 10,000
// seeds (1,000 under -short).
func TestAppend(t *testing.T) {
	aiotest.Explore(t, 10000, logRecords(t.TempDir(), fixed))
}

// TestAppendBuggyExplore is run by TestAppendBuggyCaught in a child
// process: Explore over 200 seeds must fail.
func TestAppendBuggyExplore(t *testing.T) {
	if os.Getenv("WAL_EXAMPLE_CHILD") != "1" {
		t.Skip("run by TestAppendBuggyCaught in a child process")
	}
	aiotest.Explore(t, 200, logRecords(t.TempDir(), buggy))
}

// TestAppendBuggyCaught: Explore finds the bug within 200 seeds, and the
// seed it prints replays the failure.
func TestAppendBuggyCaught(t *testing.T) {
	child := func(env ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAppendBuggyExplore$", "-test.v")
		cmd.Env = append(os.Environ(), append([]string{"WAL_EXAMPLE_CHILD=1", "AIOTEST_SCALE=", "AIO_SIM_SEED="}, env...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := child()
	if err == nil {
		t.Fatalf("200 seeds did not find the bug:\n%s", tail(out))
	}
	m := regexp.MustCompile(`simulator seed (\d+) failed \(seed (\d+) of 200 tried\): replay it with\n\s+AIO_SIM_SEED=(\d+) go test -run '\^TestAppendBuggyExplore\$' github.com/waitforit/aio/examples/wal`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no failing seed and replay command in:\n%s", tail(out))
	}
	seed, tried := m[1], m[2]
	t.Logf("found by seed %s, the %s. tried; it said:\n%s", seed, tried, failure(out, seed))
	if !strings.Contains(failure(out, seed), "corrupt frame") && !strings.Contains(failure(out, seed), "records, want") {
		t.Errorf("the failure is not the duplicated write:\n%s", failure(out, seed))
	}
	// The printed seed replays the same failure.
	out2, err := child("AIO_SIM_SEED=" + seed)
	if err == nil {
		t.Fatalf("seed %s passed when replayed:\n%s", seed, tail(out2))
	}
	if a, b := failure(out, seed), failure(out2, seed); a != b || a == "" {
		t.Errorf("the replay failed differently:\n%s\nfirst run:\n%s", b, a)
	}
	if n, _ := strconv.Atoi(tried); n > 200 {
		t.Errorf("found only at seed %d", n)
	}
}

// failure returns the messages the failing seed's subtest logged.
func failure(out, seed string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "wal_test.go") && (strings.Contains(l, "record") || strings.Contains(l, "frame") || strings.Contains(l, "log holds")) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "\n")
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
