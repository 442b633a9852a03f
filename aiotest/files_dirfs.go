package aiotest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/waitforit/aio"
)

func init() {
	register("FS/DirFS/TestFS", testDirFSTestFS)
	register("FS/DirFS/Escapes", testDirFSEscapes)
	register("FS/DirFS/ServeContent", testDirFSServeContent)
	register("FS/DirFS/FileServer", testDirFSFileServer)
}

// dirFSTempDir is t.TempDir for a tree a DirFS serves. A DirFS holds its
// directory open until it is no longer reachable (see Ring.DirFS), and
// Windows removes no directory while a handle is open on it (with POSIX
// delete semantics it unlinks the name at once, but Wine 8 has none: the
// directory stays until the handle is closed, and its parent cannot be
// removed). So before TempDir's own cleanup, this one collects garbage
// until the tree is removed, for a bounded time; elsewhere the first
// try removes it.
func dirFSTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC() // the DirFS is unreachable now: its cleanup closes the directory
			err := os.RemoveAll(dir)
			if err == nil {
				// Removed, or only marked for deletion while a handle
				// is still open on it (then it is still there).
				if _, err = os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
					return
				}
			}
			if time.Now().After(deadline) {
				// What still runs may be what holds the DirFS.
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("the tree a DirFS served is still held open after 10s: %v; goroutines:\n%s", err, buf)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	return dir
}

// dirFSTree is fsTree without what fstest must not open: no FIFO (its
// open would wait for a writer) and no dangling link.
func dirFSTree(t testing.TB) string {
	dir := dirFSTempDir(t)
	fsTree(t, dir)
	for _, n := range []string{"fifo", "dangling"} {
		os.Remove(filepath.Join(dir, n))
	}
	return dir
}

// testDirFSTestFS: testing/fstest's checks of an fs.FS (every file opened,
// read whole, read at random offsets and seeked; every directory read
// whole and in pieces; Stat, ReadFile, ReadDir, Lstat, ReadLink and Sub
// agreeing with each other), on the DirFS of a tree and on a sub-tree.
func testDirFSTestFS(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir := dirFSTree(t)
	fsys := r.DirFS(dir)
	if err := fstest.TestFS(fsys, "file", "empty", "dir/a", "dir/b/deep", "emptydir"); err != nil {
		t.Fatal(err)
	}
	t.Run("Links", func(t *testing.T) {
		// The tree's links are followed as os.DirFS follows them (both
		// stay inside), and TestFS finds them.
		needSymlinks(t)
		if err := fstest.TestFS(fsys, "link", "dirlink"); err != nil {
			t.Fatal(err)
		}
	})
	sub, err := fs.Sub(fsys, "dir")
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(sub, "a", "b/deep"); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Submitted < 100 || st.InFlight != 0 {
		t.Errorf("stats %+v: the tests went through the ring, and everything completed", st)
	}
	for _, c := range []struct {
		name, is string
		ok       func(f fs.File) bool
	}{
		{"file", "an io.Seeker", func(f fs.File) bool { _, ok := f.(io.Seeker); return ok }},
		{"file", "an io.ReaderAt", func(f fs.File) bool { _, ok := f.(io.ReaderAt); return ok }},
		{"dir", "an fs.ReadDirFile", func(f fs.File) bool { _, ok := f.(fs.ReadDirFile); return ok }},
	} {
		f, err := fsys.Open(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if !c.ok(f) {
			t.Errorf("DirFS's %s (%T) is not %s", c.name, f, c.is)
		}
		f.Close()
	}
}

// testDirFSEscapes: symbolic links that stay in the tree are followed;
// those that leave it (absolute, or ".." above the root, directly or
// through other links) are refused by every method, with an error that
// says so, and nothing outside is read.
func testDirFSEscapes(t *testing.T, s *suite) {
	needSymlinks(t)
	r := s.ring(t, 0)
	top := dirFSTempDir(t)
	root := filepath.Join(top, "root")
	secret := []byte("outside the tree")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(top, "secret"), secret, 0o644))
	must(os.MkdirAll(filepath.Join(top, "outdir"), 0o755))
	must(os.WriteFile(filepath.Join(top, "outdir", "x"), secret, 0o644))
	must(os.MkdirAll(filepath.Join(root, "dir", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "file"), []byte("inside"), 0o644))
	links := map[string]string{
		"up":          "../secret",
		"abs":         filepath.Join(top, "secret"),
		"abs-inside":  filepath.Join(root, "file"), // absolute: refused even though it points inside
		"outdir":      "../outdir",
		"dir/deep":    "../../secret",
		"dir/sub/far": "../../../secret",
		"chain":       "dir/deep", // a link to a link that escapes
		"loop":        "loop",
		"in":          "file",
		"dir/in":      "../file",
		"dir/sub/in":  "../../dir/../file",
		"indir":       "dir/sub",
		"dotdot":      "dir/..",
	}
	for name, target := range links {
		must(os.Symlink(target, filepath.Join(root, name)))
	}
	fsys := r.DirFS(root)
	inside := []string{"in", "dir/in", "dir/sub/in", "indir/in", "dotdot/file", "dotdot/in"}
	for _, name := range inside {
		data, err := fs.ReadFile(fsys, name)
		if err != nil || string(data) != "inside" {
			t.Errorf("ReadFile(%s) = %q, %v; want the file inside", name, data, err)
		}
		if fi, err := fs.Stat(fsys, name); err != nil || fi.Size() != 6 {
			t.Errorf("Stat(%s) = %v, %v", name, fi, err)
		}
	}
	if entries, err := fs.ReadDir(fsys, "indir"); err != nil || len(entries) != 2 {
		t.Errorf("ReadDir(indir) = %v, %v; want far and in", entries, err)
	}
	escaping := []string{"up", "abs", "abs-inside", "outdir/x", "dir/deep", "dir/sub/far", "chain"}
	for _, name := range escaping {
		checkEscape := func(what string, err error) {
			t.Helper()
			var pe *fs.PathError
			if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), "path escapes from parent") {
				t.Errorf("%s(%s) = %v; want a *fs.PathError saying the path escapes", what, name, err)
			}
		}
		f, err := fsys.Open(name)
		if err == nil {
			f.Close()
		}
		checkEscape("Open", err)
		_, err = fs.Stat(fsys, name)
		checkEscape("Stat", err)
		data, err := fs.ReadFile(fsys, name)
		checkEscape("ReadFile", err)
		if bytes.Contains(data, secret) {
			t.Errorf("ReadFile(%s) read the file outside the tree", name)
		}
	}
	_, err := fs.ReadDir(fsys, "outdir")
	if err == nil || !strings.Contains(err.Error(), "path escapes from parent") {
		t.Errorf("ReadDir(outdir) = %v; want the escape refused", err)
	}
	// The links themselves are in the tree: Lstat and ReadLink see them.
	rl := fsys.(fs.ReadLinkFS)
	for name, target := range links {
		if fi, err := rl.Lstat(name); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("Lstat(%s) = %v, %v; want a symbolic link", name, fi, err)
		}
		// As written: os.Symlink stores backslashes on Windows.
		if got, err := rl.ReadLink(name); err != nil || got != filepath.FromSlash(target) {
			t.Errorf("ReadLink(%s) = %q, %v; want %q", name, got, err, filepath.FromSlash(target))
		}
	}
	_, err = fsys.Open("loop")
	if !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Open(loop) = %v; want ELOOP", err)
	}
}

// patternData is size bytes of the suite's pattern.
func patternData(size int) []byte {
	b := make([]byte, size)
	fillPattern(b, 0)
	return b
}

// testDirFSServeContent: http.ServeContent serves a DirFS file and an
// aio.File (io.ReadSeeker) with range requests, byte-exact: single
// ranges, suffixes, open ends, several ranges (multipart), HEAD.
func testDirFSServeContent(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir := dirFSTempDir(t)
	const size = 100_000
	data := patternData(size)
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := r.DirFS(dir)
	modtime := time.Unix(1_700_000_000, 0)
	serve := map[string]http.HandlerFunc{
		"DirFS": func(w http.ResponseWriter, req *http.Request) {
			f, err := fsys.(aio.ContextFS).WithContext(req.Context()).Open("data.bin")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer f.Close()
			http.ServeContent(w, req, "data.bin", modtime, f.(io.ReadSeeker))
		},
		"File": func(w http.ResponseWriter, req *http.Request) {
			f, err := r.Open(req.Context(), filepath.Join(dir, "data.bin"), os.O_RDONLY, 0)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer f.Close()
			http.ServeContent(w, req, "data.bin", modtime, f)
		},
	}
	for name, h := range serve {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			checkRanges(t, srv.URL, data)
		})
	}
}

// checkRanges requests url whole and in ranges, and checks every byte;
// data must be at least 60000 bytes long.
func checkRanges(t *testing.T, url string, data []byte) {
	t.Helper()
	size := len(data)
	get := func(method, rng string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	resp, body := get("GET", "")
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("GET: %s, %d bytes; want 200 and the %d bytes", resp.Status, len(body), size)
	}
	for _, c := range []struct {
		rng        string
		start, end int // the bytes expected: data[start:end]
	}{
		{"bytes=0-0", 0, 1},
		{"bytes=0-99", 0, 100},
		{"bytes=5000-5999", 5000, 6000},
		{"bytes=4095-4097", 4095, 4098},
		{"bytes=99000-", 99000, size},
		{"bytes=-300", size - 300, size},
		{fmt.Sprintf("bytes=%d-%d", size-1, size+1000), size - 1, size},
		{"bytes=12345-", 12345, size},
	} {
		resp, body := get("GET", c.rng)
		want := data[c.start:c.end]
		cr := fmt.Sprintf("bytes %d-%d/%d", c.start, c.end-1, size)
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want) || resp.Header.Get("Content-Range") != cr {
			t.Errorf("Range %s: %s, Content-Range %q, %d bytes (equal %v); want 206, %q, %d bytes",
				c.rng, resp.Status, resp.Header.Get("Content-Range"), len(body), bytes.Equal(body, want), cr, len(want))
		}
	}
	// Several ranges: a multipart/byteranges body, each part exact.
	resp, body = get("GET", "bytes=10-19,50000-50999,-5")
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: %s, %q (%v)", resp.Status, resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, want := range [][2]int{{10, 20}, {50000, 51000}, {size - 5, size}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(p)
		if err != nil || !bytes.Equal(got, data[want[0]:want[1]]) {
			t.Errorf("multi-range part %v: %d bytes (%v), equal %v", want, len(got), err, bytes.Equal(got, data[want[0]:want[1]]))
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("multi-range: more parts than asked for (%v)", err)
	}
	resp, _ = get("GET", fmt.Sprintf("bytes=%d-", size+10))
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("a range past the end: %s, want 416", resp.Status)
	}
	resp, body = get("HEAD", "")
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(size) {
		t.Errorf("HEAD: %s, %d bytes, Content-Length %d", resp.Status, len(body), resp.ContentLength)
	}
}

// testDirFSFileServer: http.FileServerFS on a DirFS serves files (with
// ranges), lists directories, 404s what is missing, and serves nothing
// from outside the tree.
func testDirFSFileServer(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	top := dirFSTempDir(t)
	dir := filepath.Join(top, "www")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fsTree(t, dir)
	os.Remove(filepath.Join(dir, "fifo"))
	data := patternData(100_000)
	if err := os.WriteFile(filepath.Join(dir, "dir", "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "secret"), []byte("do not serve"), 0o644); err != nil {
		t.Fatal(err)
	}
	if symlinkGap() == "" {
		if err := os.Symlink("../secret", filepath.Join(dir, "escape")); err != nil {
			t.Fatal(err)
		}
	}
	fsys := r.DirFS(dir).(aio.ContextFS)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.FileServerFS(fsys.WithContext(req.Context())).ServeHTTP(w, req)
	}))
	defer srv.Close()
	fetch := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := fetch("/dir/a"); code != 200 || body != "0123456789" {
		t.Errorf("/dir/a: %d %q", code, body)
	}
	t.Run("Links", func(t *testing.T) {
		needSymlinks(t)
		if code, body := fetch("/link"); code != 200 || body != string(patternData(1000)) {
			t.Errorf("/link: %d, %d bytes", code, len(body))
		}
		if code, body := fetch("/escape"); code == 200 || strings.Contains(body, "do not serve") {
			t.Errorf("/escape: %d %q; want it refused", code, body)
		}
	})
	if code, body := fetch("/dir/"); code != 200 || !strings.Contains(body, `href="a"`) || !strings.Contains(body, `href="b/"`) || !strings.Contains(body, `href="big.bin"`) {
		t.Errorf("/dir/: %d %q", code, body)
	}
	if code, _ := fetch("/missing"); code != 404 {
		t.Errorf("/missing: %d, want 404", code)
	}
	checkRanges(t, srv.URL+"/dir/big.bin", data)
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after the requests: %+v", st)
	}
}
