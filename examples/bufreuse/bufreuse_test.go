//go:build unix

package bufreuse_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waitforit/aio"
	"github.com/waitforit/aio/aiotest"
	"github.com/waitforit/aio/examples/bufreuse"
)

func TestMain(m *testing.M) { aiotest.Main(m) }

// logLines logs n lines with logFn through a Logger on a fresh file in
// dir, and checks the file.
func logLines(t *testing.T, r *aio.Ring, dir string, n int, logFn func(*bufreuse.Logger) func(string) error) {
	name := filepath.Join(dir, "log")
	f, err := r.Open(context.Background(), name, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := bufreuse.New(f)
	var want strings.Builder
	for i := range n {
		line := fmt.Sprintf("line %d %s", i, strings.Repeat("=", i%50))
		if err := logFn(l)(line); err != nil {
			t.Fatal(err)
		}
		want.WriteString(line + "\n")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("the log holds %d bytes, not the %d lines logged", len(got), n)
	}
}

func log(l *bufreuse.Logger) func(string) error       { return l.Log }
func logDouble(l *bufreuse.Logger) func(string) error { return l.LogDoubleBuffered }
func logBuggy(l *bufreuse.Logger) func(string) error  { return l.LogBuggy }

// TestLog: both right ways pass on the simulator, whatever it decides.
func TestLog(t *testing.T) {
	dir := t.TempDir()
	aiotest.Explore(t, 300, func(t *testing.T, r *aio.Ring) {
		logLines(t, r, dir, 20, log)
		logLines(t, r, dir, 20, logDouble)
	})
}

// TestLogBuggyChild runs the buggy Logger, in a child process started by
// TestLogBuggyCaught: on the simulator under Explore, or on the backend
// AIO_BACKEND names with AIO_CHECK=1.
func TestLogBuggyChild(t *testing.T) {
	switch os.Getenv("BUFREUSE_CHILD") {
	case "sim":
		dir := t.TempDir()
		aiotest.Explore(t, 100, func(t *testing.T, r *aio.Ring) { logLines(t, r, dir, 20, logBuggy) })
	case "real":
		r, err := aio.New(aio.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for range 200 {
			logLines(t, r, t.TempDir(), 50, logBuggy)
		}
	default:
		t.Skip("run by TestLogBuggyCaught in a child process")
	}
}

// TestLogBuggyCaught: checked ownership catches the reused buffer, on
// the simulator and, with AIO_CHECK=1, on io_uring and the portable
// backend. The panic names the write and LogBuggy, which started it.
func TestLogBuggyCaught(t *testing.T) {
	for _, c := range []struct{ name, mode, backend string }{
		{"sim", "sim", ""},
		{"uring", "real", "uring"},
		{"portable", "real", "portable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.backend != "" {
				if r, err := aio.New(aio.Config{Backend: c.backend}); err != nil {
					t.Skipf("no %s backend here: %v", c.backend, err)
				} else {
					r.Close()
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestLogBuggyChild$", "-test.v")
			check := "1"
			if c.mode == "sim" {
				check = "" // the simulator always checks
			}
			cmd.Env = append(os.Environ(), "BUFREUSE_CHILD="+c.mode, "AIO_BACKEND="+c.backend, "AIO_CHECK="+check, "AIO_SIM_SEED=", "AIOTEST_SCALE=")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the reused buffer went unnoticed:\n%s", tail(string(out)))
			}
			s := string(out)
			for _, want := range []string{"changed while the operation was in flight", "bufreuse.(*Logger).start", "bufreuse.(*Logger).LogBuggy"} {
				if !strings.Contains(s, want) {
					t.Errorf("the report lacks %q:\n%s", want, tail(s))
				}
			}
			if c.mode == "sim" && !strings.Contains(s, "AIO_SIM_SEED=") {
				t.Errorf("the report does not say how to replay it:\n%s", tail(s))
			}
			i := strings.Index(s, "changed while")
			t.Logf("reported:\n%s", s[max(0, i-200):min(len(s), i+600)])
		})
	}
}

func tail(s string) string {
	if len(s) > 6000 {
		return "..." + s[len(s)-6000:]
	}
	return s
}
