package aio_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/waitforit/aio"
)

// TestProbe: the probe's answer is self-consistent, cached, and what New
// picks when no backend is named.
func TestProbe(t *testing.T) {
	p := aio.Probe()
	t.Log(p)
	switch p.Backend {
	case "uring":
		if p.Err != nil || p.Reason != "" || len(p.Missing) != 0 {
			t.Errorf("uring chosen, yet a reason is given: %+v", p)
		}
		if p.String() != "aio: backend uring" {
			t.Errorf("String() = %q", p.String())
		}
	case "portable", "iocp":
		if p.Err == nil || p.Reason == "" || !strings.Contains(p.String(), p.Reason) {
			t.Errorf("%s chosen without a reason for passing io_uring over: %+v (%q)", p.Backend, p, p.String())
		}
		if (p.Backend == "iocp") != (runtime.GOOS == "windows") {
			t.Errorf("Probe().Backend = %q on %s", p.Backend, runtime.GOOS)
		}
	default:
		t.Fatalf("Probe().Backend = %q", p.Backend)
	}
	if q := aio.Probe(); q.Backend != p.Backend || q.Err != p.Err || q.Reason != p.Reason {
		t.Errorf("second Probe differs: %+v vs %+v", q, p)
	}

	t.Setenv("AIO_BACKEND", "")
	r, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Backend() != p.Backend {
		t.Errorf("New(Config{}) picked %q, Probe says %q", r.Backend(), p.Backend)
	}

	// Explicit names win over the probe; an explicit uring that cannot
	// be set up is an error, not a fallback.
	for _, b := range ringBackends {
		rb, err := aio.New(aio.Config{Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		if rb.Backend() != b {
			t.Errorf("Backend %s gave %q", b, rb.Backend())
		}
		rb.Close()
	}
	ru, err := aio.New(aio.Config{Backend: "uring"})
	switch {
	case err == nil:
		if ru.Backend() != "uring" {
			t.Errorf("Backend uring gave %q", ru.Backend())
		}
		ru.Close()
	case p.Err == nil:
		t.Errorf("uring probed fine but New(uring) = %v", err)
	case !errors.Is(err, errors.Unwrap(p.Err)) && !errors.Is(err, p.Err):
		t.Logf("New(uring) = %v; probe: %v", err, p.Err)
	}
}

// TestBackendFromEnvironment: AIO_BACKEND chooses when Config does not,
// and Config wins over it.
func TestBackendFromEnvironment(t *testing.T) {
	t.Setenv("AIO_BACKEND", "carrier-pigeon")
	if r, err := aio.New(aio.Config{}); !errors.Is(err, errors.ErrUnsupported) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("AIO_BACKEND=carrier-pigeon: New(Config{}) = %v, want errors.ErrUnsupported", err)
	}
	for _, b := range ringBackends {
		r, err := aio.New(aio.Config{Backend: b})
		if err != nil {
			t.Fatalf("Config.Backend %s beside AIO_BACKEND=carrier-pigeon: %v", b, err)
		}
		r.Close()
	}
	// The last of ringBackends is not the default where there are two.
	b := ringBackends[len(ringBackends)-1]
	t.Setenv("AIO_BACKEND", b)
	r, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Backend() != b {
		t.Errorf("AIO_BACKEND=%s gave %q", b, r.Backend())
	}
}

// TestProbeLimits: a backend that keeps every promise lists no limit;
// one that cannot (the portable backend off Linux) says which.
func TestProbeLimits(t *testing.T) {
	p := aio.Probe()
	t.Logf("%s; limits: %q", p, p.Limits)
	wantLimit := runtime.GOOS != "linux" && runtime.GOOS != "windows" && p.Backend == "portable"
	if got := len(p.Limits) > 0; got != wantLimit {
		t.Errorf("Probe().Limits = %q on %s with backend %q; want a limit: %v", p.Limits, runtime.GOOS, p.Backend, wantLimit)
	}
}
