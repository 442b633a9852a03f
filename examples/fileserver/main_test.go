package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

// poll waits (bounded) until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// steady waits (bounded) until cond holds of the ring's counters five
// times in a row, 10 ms apart, with no operation completing meanwhile:
// the ring is still, not passing through that state.
func steady(t *testing.T, ring *aio.Ring, what string, cond func(aio.Stats) bool) {
	t.Helper()
	var last aio.Stats
	n := 0
	poll(t, what, func() bool {
		st := ring.Stats()
		if cond(st) && (n == 0 || st.Completed == last.Completed) {
			n++
		} else {
			n = 0
		}
		last = st
		if n < 5 {
			time.Sleep(10 * time.Millisecond)
			return false
		}
		return true
	})
}

// TestServe: the server serves files, ranges and listings through the
// ring, on the best backend here.
func TestServe(t *testing.T) {
	ring, err := aio.New(aio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, world"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(ring, dir))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/hello.txt", nil)
	req.Header.Set("Range", "bytes=7-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(body) != "world" {
		t.Fatalf("GET /hello.txt bytes=7-: %s %q", resp.Status, body)
	}
	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="hello.txt"`) {
		t.Fatalf("GET /: %s %q", resp.Status, body)
	}
	if st := ring.Stats(); st.Submitted == 0 || st.InFlight != 0 {
		t.Errorf("ring stats %+v: want the requests' operations, all complete", st)
	}
}
