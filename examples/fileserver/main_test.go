package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waitforit/aio"
)

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
