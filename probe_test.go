package aio_test

import (
	"errors"
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
	case "portable":
		if p.Err == nil || p.Reason == "" || !strings.Contains(p.String(), p.Reason) {
			t.Errorf("portable chosen without a reason: %+v (%q)", p, p.String())
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
	rp, err := aio.New(aio.Config{Backend: "portable"})
	if err != nil {
		t.Fatal(err)
	}
	rp.Close()
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

// TestBackendFromEnvironment: AIO_BACKEND chooses when Config does not.
func TestBackendFromEnvironment(t *testing.T) {
	t.Setenv("AIO_BACKEND", "portable")
	r, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Backend() != "portable" {
		t.Errorf("AIO_BACKEND=portable gave %q", r.Backend())
	}
}
