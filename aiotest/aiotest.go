// Package aiotest is the conformance suite for aio backends: every rule of
// the contract (cancel is a request, completion always comes) as a test
// that could fail, runnable against any Ring. Backends run it with
//
//	func TestConformance(t *testing.T) {
//		aiotest.Run(t, func(tb testing.TB) *aio.Ring {
//			r, err := aio.New(aio.Config{Backend: "uring"})
//			if err != nil {
//				tb.Fatal(err)
//			}
//			return r
//		})
//	}
//
// and guard the whole test binary with Main, which fails the run if any
// operation is still in flight when the tests end.
//
// Stress cases scale down under -short and the race detector;
// AIOTEST_SCALE=N multiplies their rounds for long soaks. A race case (an operation against its cancel, a
// Close, a context) names the outcomes it must see: it waits until its
// operation is in flight before it cancels, drives the race until each
// named outcome has been observed (going on, up to a cap, past its
// rounds), and fails naming any that never appeared. Every stress case
// logs what it exercised: run with -v to see the counts.
package aiotest

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/internal/core"
)

// NewRing makes a fresh ring for one test; cfg.Backend is already chosen
// by the maker, cfg.Entries may be set by the suite (0: default).
type NewRing func(tb testing.TB, cfg aio.Config) *aio.Ring

// Run runs every conformance case against rings from newRing.
func Run(t *testing.T, newRing NewRing, opts ...Option) {
	s := newSuite(newRing, opts)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, s) })
	}
}

// RunPrefix runs the conformance cases whose names begin with prefix
// ("Sockets/", say): for a backend variant that only changes those.
func RunPrefix(t *testing.T, prefix string, newRing NewRing, opts ...Option) {
	s := newSuite(newRing, opts)
	n := 0
	for _, c := range cases {
		if strings.HasPrefix(c.name, prefix) {
			n++
			t.Run(c.name, func(t *testing.T) { c.fn(t, s) })
		}
	}
	if n == 0 {
		t.Fatalf("no conformance case is named %q...", prefix)
	}
}

type suite struct {
	newRing     NewRing
	disableRead func(*aio.Ring) bool
}

func newSuite(newRing NewRing, opts []Option) *suite {
	s := &suite{newRing: newRing}
	for _, o := range opts {
		o(s)
	}
	return s
}

// An Option gives the suite a way into a backend that the public API
// does not offer.
type Option func(*suite)

// WithDisableRead gives the suite a way to make a ring's backend report
// reads as unsupported, as a kernel without them would (the library's own
// tests pass aio.DisableReadForTest): Rule9/UnsupportedOperation needs it
// and is skipped without it. disable reports whether it could.
func WithDisableRead(disable func(r *aio.Ring) bool) Option {
	return func(s *suite) { s.disableRead = disable }
}

type testCase struct {
	name string
	fn   func(t *testing.T, s *suite)
}

var cases []testCase

func register(name string, fn func(t *testing.T, s *suite)) {
	cases = append(cases, testCase{name, fn})
}

// ring returns a ring closed (and checked for leaks) at the end of the test.
func (s *suite) ring(t *testing.T, entries int) *aio.Ring {
	t.Helper()
	r := s.newRing(t, aio.Config{Entries: entries})
	t.Cleanup(func() {
		// Bounded: a ring whose operations never complete (a lost
		// completion) fails the case instead of hanging the run.
		closed := make(chan error, 1)
		go func() { closed <- r.Close() }()
		select {
		case err := <-closed:
			if err != nil && !isClosedErr(err) {
				t.Errorf("Ring.Close: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Ring.Close has not returned after 30s: operations that never complete? %+v", r.Stats())
			return
		}
		if st := r.Stats(); st.InFlight != 0 || st.Submitted != st.Completed {
			t.Errorf("after Ring.Close: %+v, want nothing in flight", st)
		}
	})
	return r
}

// Main runs the tests and then fails the run if any operation, in any
// ring, was submitted and never completed. It records where each
// operation was submitted, so a leak report says which test leaked.
//
// Stack recording costs a traceback per operation, so it is off while
// benchmarks run (-test.bench); the in-flight check itself stays on.
func Main(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		core.TrackStacks(true)
	}
	code := m.Run()
	if code == 0 {
		if leaks := core.Leaks(); len(leaks) > 0 || core.Live() != 0 {
			fmt.Fprintf(os.Stderr, "aiotest: %d operation(s) still in flight at exit (live=%d):\n", len(leaks), core.Live())
			for _, l := range leaks {
				fmt.Fprintln(os.Stderr, "  ", l)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// Scale returns n rounds for a stress case: n/10 under -short (at least
// 10), n/4 under the race detector (at least 10), times AIOTEST_SCALE
// when set.
func Scale(n int) int {
	if testing.Short() {
		n = max(n/10, 10)
	} else if raceEnabled {
		n = max(n/4, 10)
	}
	if v, err := strconv.Atoi(os.Getenv("AIOTEST_SCALE")); err == nil && v > 0 {
		n *= v
	}
	return n
}

// waitGoroutines polls (bounded) for the goroutine count to come
// back to at most want, and fails if it does not.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, want <= %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
