package aiotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/waitforit/aio"
)

// The file system operations against the os package: every File and
// Ring method of "Files as real programs use them" runs on the same
// files as its os counterpart, and their results and errors must agree
// (error types, Op names, paths, errnos). Read-only operations run on one
// tree, so that even Sys() (the *syscall.Stat_t) is compared whole;
// operations that change the tree run on twin trees, and the trees must
// agree afterwards.

func init() {
	register("FS/OS/Ring", testFSOSRing)
	register("FS/OS/File", testFSOSFile)
}

// needFS skips the file system cases on a backend that does not do them
// yet (the iocp backend, whose Supported refuses them: issue 12's Windows
// part), naming what is missing. Anything else is a failure.
func needFS(t *testing.T, r *aio.Ring) {
	t.Helper()
	_, err := r.Stat(context.Background(), os.DevNull)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("backend %s: %v", r.Backend(), err)
	}
}

// fsTree builds the suite's small tree in dir:
//
//	file      1000 bytes of the pattern     empty      0 bytes
//	dir/a     10 bytes                      dir/b/deep 3 bytes
//	emptydir/                               link -> file
//	dirlink -> dir                          dangling -> missing
//	fifo      a named pipe (where the system has them)
func fsTree(t testing.TB, dir string) {
	t.Helper()
	data := make([]byte, 1000)
	fillPattern(data, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "file"), data, 0o644))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	must(os.MkdirAll(filepath.Join(dir, "dir", "b"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "dir", "a"), []byte("0123456789"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "dir", "b", "deep"), []byte("abc"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "emptydir"), 0o700))
	must(os.Symlink("file", filepath.Join(dir, "link")))
	must(os.Symlink("dir", filepath.Join(dir, "dirlink")))
	must(os.Symlink("missing", filepath.Join(dir, "dangling")))
	mkfifo(filepath.Join(dir, "fifo")) // best effort: a case on it is skipped without
}

// twin returns two directories holding fsTree: one for os, one for aio.
func twin(t testing.TB) (osDir, aioDir string) {
	osDir, aioDir = filepath.Join(t.TempDir(), "os"), filepath.Join(t.TempDir(), "aio")
	for _, d := range []string{osDir, aioDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		fsTree(t, d)
	}
	return osDir, aioDir
}

// snapshot describes a tree: each name with its type, permissions, size,
// content (regular files) and target (symbolic links).
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return "(removed)"
	}
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d", filepath.ToSlash(rel), info.Mode(), info.Size())
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %s", target)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return b.String()
}

// sameErr checks that got (aio's) is the error os returned (want): the
// same type, Op, paths (aio's mapped into os's tree by mapPath) and
// errno. Errors without an errno must say the same thing.
func sameErr(t testing.TB, what string, got, want error, mapPath func(string) string) {
	t.Helper()
	if got == nil || want == nil {
		if got != want {
			t.Errorf("%s: aio error %v, os error %v", what, got, want)
		}
		return
	}
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		t.Errorf("%s: aio error %v (%T), os error %v (%T)", what, got, got, want, want)
		return
	}
	switch g := got.(type) {
	case *fs.PathError:
		w := want.(*fs.PathError)
		if g.Op != w.Op || mapPath(g.Path) != w.Path {
			t.Errorf("%s: aio error %q, os error %q", what, got, want)
		}
	case *os.LinkError:
		w := want.(*os.LinkError)
		if g.Op != w.Op || mapPath(g.Old) != w.Old || mapPath(g.New) != w.New {
			t.Errorf("%s: aio error %q, os error %q", what, got, want)
		}
	}
	var ge, we syscall.Errno
	gok, wok := errors.As(got, &ge), errors.As(want, &we)
	switch {
	case gok != wok || ge != we:
		t.Errorf("%s: aio error %v (errno %d), os error %v (errno %d)", what, got, ge, want, we)
	case !gok && unwrapAll(got).Error() != unwrapAll(want).Error():
		t.Errorf("%s: aio error %q, os error %q", what, got, want)
	}
	for _, target := range []error{fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, os.ErrClosed, fs.ErrInvalid} {
		if errors.Is(got, target) != errors.Is(want, target) {
			t.Errorf("%s: errors.Is(%v) is %v for aio's %q, %v for os's %q", what, target, errors.Is(got, target), got, errors.Is(want, target), want)
		}
	}
}

// unwrapAll is the innermost error of a chain.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// sameInfo checks an aio fs.FileInfo against os's for the same file;
// exact compares Sys() (the *syscall.Stat_t) whole, which only holds
// when both looked at one file with nothing in between.
func sameInfo(t testing.TB, what string, got, want fs.FileInfo, exact bool) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s: aio info %v, os info %v", what, got, want)
		return
	}
	if got == nil {
		return
	}
	if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() || got.IsDir() != want.IsDir() {
		t.Errorf("%s: aio %s, os %s", what, fs.FormatFileInfo(got), fs.FormatFileInfo(want))
	}
	if exact {
		if !got.ModTime().Equal(want.ModTime()) {
			t.Errorf("%s: aio ModTime %v, os %v", what, got.ModTime(), want.ModTime())
		}
		if !reflect.DeepEqual(got.Sys(), want.Sys()) {
			t.Errorf("%s: aio Sys() %#v\n\tos Sys() %#v", what, got.Sys(), want.Sys())
		}
	} else if reflect.TypeOf(got.Sys()) != reflect.TypeOf(want.Sys()) {
		t.Errorf("%s: aio Sys() is %T, os's %T", what, got.Sys(), want.Sys())
	}
}

// sameEntries checks aio's directory entries against os's, Info included.
func sameEntries(t testing.TB, what string, got, want []fs.DirEntry, exact bool, mapPath func(string) string) {
	t.Helper()
	if (got == nil) != (want == nil) || len(got) != len(want) {
		t.Errorf("%s: aio %d entries %v (nil %v), os %d %v (nil %v)", what, len(got), got, got == nil, len(want), want, want == nil)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name() != w.Name() || g.Type() != w.Type() || g.IsDir() != w.IsDir() || fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: entry %d: aio %v, os %v", what, i, g, w)
			continue
		}
		gi, gerr := g.Info()
		wi, werr := w.Info()
		sameErr(t, what+": "+g.Name()+".Info", gerr, werr, mapPath)
		sameInfo(t, what+": "+g.Name()+".Info", gi, wi, exact)
	}
}

// sameResult compares one result of a call, whatever its type.
func sameResult(t testing.TB, what string, got, want any, exact bool, mapPath func(string) string) {
	t.Helper()
	switch w := want.(type) {
	case error:
		g, _ := got.(error)
		sameErr(t, what, g, w, mapPath)
	case fs.FileInfo:
		g, _ := got.(fs.FileInfo)
		sameInfo(t, what, g, w, exact)
	case []fs.DirEntry:
		g, _ := got.([]fs.DirEntry)
		sameEntries(t, what, g, w, exact, mapPath)
	case nil:
		if got != nil && !isNilish(got) {
			t.Errorf("%s: aio %v, os nil", what, got)
		}
	default:
		if isNilish(want) && isNilish(got) {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: aio %#v, os %#v", what, got, want)
		}
	}
}

func isNilish(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return rv.IsNil()
	}
	return false
}

// ringCase is one Ring method against its os function. Both get a
// function turning a name of fsTree into a path in their tree.
type ringCase struct {
	name   string
	shared bool // read-only: one tree for both, Sys() compared whole
	aio    func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error)
	os     func(p func(string) string) (any, error)
}

// ringCases covers every Ring path method: the usual outcome and each
// error os reports for it.
var ringCases = []ringCase{}

func ringCaseStat(name, file string) ringCase {
	return ringCase{name: name, shared: true,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return r.Stat(ctx, p(file))
		},
		os: func(p func(string) string) (any, error) { return os.Stat(p(file)) }}
}

func ringCaseLstat(name, file string) ringCase {
	return ringCase{name: name, shared: true,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return r.Lstat(ctx, p(file))
		},
		os: func(p func(string) string) (any, error) { return os.Lstat(p(file)) }}
}

func ringCaseReadlink(name, file string) ringCase {
	return ringCase{name: name, shared: true,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return r.Readlink(ctx, p(file))
		},
		os: func(p func(string) string) (any, error) { return os.Readlink(p(file)) }}
}

func ringCaseReadDir(name, file string) ringCase {
	return ringCase{name: name, shared: true,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return r.ReadDir(ctx, p(file))
		},
		os: func(p func(string) string) (any, error) { return os.ReadDir(p(file)) }}
}

func ringCaseMkdir(name, file string, perm os.FileMode) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.Mkdir(ctx, p(file), perm)
		},
		os: func(p func(string) string) (any, error) { return nil, os.Mkdir(p(file), perm) }}
}

func ringCaseMkdirAll(name, file string) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.MkdirAll(ctx, p(file), 0o751)
		},
		os: func(p func(string) string) (any, error) { return nil, os.MkdirAll(p(file), 0o751) }}
}

func ringCaseRename(name, from, to string) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.Rename(ctx, p(from), p(to))
		},
		os: func(p func(string) string) (any, error) { return nil, os.Rename(p(from), p(to)) }}
}

func ringCaseRemove(name, file string) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.Remove(ctx, p(file))
		},
		os: func(p func(string) string) (any, error) { return nil, os.Remove(p(file)) }}
}

func ringCaseRemoveAll(name, file string) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.RemoveAll(ctx, p(file))
		},
		os: func(p func(string) string) (any, error) { return nil, os.RemoveAll(p(file)) }}
}

func ringCaseLink(name, from, to string) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.Link(ctx, p(from), p(to))
		},
		os: func(p func(string) string) (any, error) { return nil, os.Link(p(from), p(to)) }}
}

// ringCaseSymlink makes to a link to target, as written (not a path).
func ringCaseSymlink(name, target, to string) ringCase {
	return ringCase{name: name,
		aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.Symlink(ctx, target, p(to))
		},
		os: func(p func(string) string) (any, error) { return nil, os.Symlink(target, p(to)) }}
}

func init() {
	ringCases = []ringCase{
		ringCaseStat("Stat/file", "file"),
		ringCaseStat("Stat/empty", "empty"),
		ringCaseStat("Stat/dir", "dir"),
		ringCaseStat("Stat/link", "link"),
		ringCaseStat("Stat/dirlink", "dirlink"),
		ringCaseStat("Stat/dangling", "dangling"),
		ringCaseStat("Stat/missing", "missing"),
		ringCaseStat("Stat/ENOTDIR", "file/x"),
		ringCaseStat("Stat/fifo", "fifo"),
		ringCaseStat("Stat/NUL", "bad\x00name"),
		ringCaseStat("Stat/trailing-slash", "dir/"),
		ringCaseLstat("Lstat/link", "link"),
		ringCaseLstat("Lstat/dangling", "dangling"),
		ringCaseLstat("Lstat/dir", "dir"),
		ringCaseLstat("Lstat/missing", "missing"),
		ringCaseLstat("Lstat/NUL", "bad\x00name"),
		ringCaseReadlink("Readlink/link", "link"),
		ringCaseReadlink("Readlink/dangling", "dangling"),
		ringCaseReadlink("Readlink/dirlink", "dirlink"),
		ringCaseReadlink("Readlink/file", "file"),
		ringCaseReadlink("Readlink/missing", "missing"),
		ringCaseReadlink("Readlink/NUL", "bad\x00name"),
		ringCaseReadDir("ReadDir/tree", "."),
		ringCaseReadDir("ReadDir/dir", "dir"),
		ringCaseReadDir("ReadDir/emptydir", "emptydir"),
		ringCaseReadDir("ReadDir/dirlink", "dirlink"),
		ringCaseReadDir("ReadDir/file", "file"),
		ringCaseReadDir("ReadDir/missing", "missing"),
		ringCaseReadDir("ReadDir/NUL", "bad\x00name"),
		ringCaseMkdir("Mkdir/new", "new", 0o750),
		ringCaseMkdir("Mkdir/perm-umask", "new", 0o777),
		ringCaseMkdir("Mkdir/exists", "dir", 0o755),
		ringCaseMkdir("Mkdir/no-parent", "missing/new", 0o755),
		ringCaseMkdir("Mkdir/under-file", "file/new", 0o755),
		ringCaseMkdir("Mkdir/NUL", "bad\x00name", 0o755),
		ringCaseMkdirAll("MkdirAll/deep", "x/y/z"),
		ringCaseMkdirAll("MkdirAll/exists", "dir/b"),
		ringCaseMkdirAll("MkdirAll/partly", "dir/b/c/d"),
		ringCaseMkdirAll("MkdirAll/file", "file"),
		ringCaseMkdirAll("MkdirAll/under-file", "file/x/y"),
		ringCaseMkdirAll("MkdirAll/trailing-slash", "x/y/"),
		ringCaseMkdirAll("MkdirAll/dot", "dir/c/."),
		ringCaseMkdirAll("MkdirAll/NUL", "bad\x00name"),
		ringCaseRename("Rename/file", "file", "moved"),
		ringCaseRename("Rename/replace-file", "file", "empty"),
		ringCaseRename("Rename/onto-dir", "file", "emptydir"),
		ringCaseRename("Rename/dir", "dir", "moved"),
		ringCaseRename("Rename/dir-onto-dir", "dir", "emptydir"),
		ringCaseRename("Rename/to-itself", "dir", "dir"),
		ringCaseRename("Rename/missing", "missing", "moved"),
		ringCaseRename("Rename/link", "link", "moved"),
		ringCaseRename("Rename/no-parent", "file", "missing/moved"),
		ringCaseRename("Rename/NUL", "file", "bad\x00name"),
		ringCaseRemove("Remove/file", "file"),
		ringCaseRemove("Remove/emptydir", "emptydir"),
		ringCaseRemove("Remove/dir", "dir"),
		ringCaseRemove("Remove/missing", "missing"),
		ringCaseRemove("Remove/link", "link"),
		ringCaseRemove("Remove/dirlink", "dirlink"),
		ringCaseRemove("Remove/ENOTDIR", "file/x"),
		ringCaseRemove("Remove/NUL", "bad\x00name"),
		ringCaseRemoveAll("RemoveAll/dir", "dir"),
		ringCaseRemoveAll("RemoveAll/file", "file"),
		ringCaseRemoveAll("RemoveAll/missing", "missing"),
		ringCaseRemoveAll("RemoveAll/dirlink", "dirlink"),
		ringCaseRemoveAll("RemoveAll/dot", "dir/."),
		ringCaseRemoveAll("RemoveAll/ENOTDIR", "file/x"),
		ringCaseLink("Link/file", "file", "hard"),
		ringCaseLink("Link/exists", "file", "empty"),
		ringCaseLink("Link/missing", "missing", "hard"),
		ringCaseLink("Link/dir", "dir", "hard"),
		ringCaseLink("Link/NUL", "file", "bad\x00name"),
		ringCaseSymlink("Symlink/new", "file", "sym"),
		ringCaseSymlink("Symlink/exists", "file", "empty"),
		ringCaseSymlink("Symlink/dangling", "nowhere", "sym"),
		ringCaseSymlink("Symlink/NUL", "bad\x00target", "sym"),
		// RemoveAll of the whole tree, and of "" and "." (errors, or
		// nothing, as os).
		{name: "RemoveAll/tree", aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.RemoveAll(ctx, p("."))
		}, os: func(p func(string) string) (any, error) { return nil, os.RemoveAll(p(".")) }},
		{name: "RemoveAll/empty-name", aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.RemoveAll(ctx, "")
		}, os: func(p func(string) string) (any, error) { return nil, os.RemoveAll("") }},
		{name: "RemoveAll/dot-name", aio: func(ctx context.Context, r *aio.Ring, p func(string) string) (any, error) {
			return nil, r.RemoveAll(ctx, ".")
		}, os: func(p func(string) string) (any, error) { return nil, os.RemoveAll(".") }},
	}
}

// testFSOSRing runs every ringCase against os.
func testFSOSRing(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	needFS(t, r)
	ctx := context.Background()
	for _, c := range ringCases {
		t.Run(c.name, func(t *testing.T) {
			osDir, aioDir := twin(t)
			if c.shared {
				aioDir = osDir
			}
			if strings.Contains(c.name, "fifo") {
				if _, err := os.Lstat(filepath.Join(osDir, "fifo")); err != nil {
					t.Skip("no named pipes here")
				}
			}
			osPath := func(n string) string { return filepath.Join(osDir, n) }
			aioPath := func(n string) string { return filepath.Join(aioDir, n) }
			if strings.Contains(c.name, "NUL") || strings.HasSuffix(c.name, "trailing-slash") || strings.HasSuffix(c.name, "dot") {
				// filepath.Join would clean away what the case is about.
				osPath = func(n string) string { return osDir + "/" + n }
				aioPath = func(n string) string { return aioDir + "/" + n }
			}
			mapPath := func(p string) string { return strings.ReplaceAll(p, aioDir, osDir) }
			before := r.Stats()
			gotV, gotErr := c.aio(ctx, r, aioPath)
			wantV, wantErr := c.os(osPath)
			sameErr(t, c.name, gotErr, wantErr, mapPath)
			sameResult(t, c.name, gotV, wantV, c.shared, mapPath)
			if !c.shared {
				if got, want := snapshot(t, aioDir), snapshot(t, osDir); got != want {
					t.Errorf("%s: the trees differ afterwards:\naio:\n%s\nos:\n%s", c.name, got, want)
				}
			}
			if st := r.Stats(); st.InFlight != 0 || st.Submitted-before.Submitted != st.Completed-before.Completed {
				t.Errorf("%s: stats %+v after %+v: an operation is still in flight", c.name, st, before)
			}
			if strings.Contains(c.name, "NUL") && r.Stats().Submitted != before.Submitted {
				t.Errorf("%s: a name with a NUL submitted %d operations", c.name, r.Stats().Submitted-before.Submitted)
			}
		})
	}
}

// fileOps is what *os.File and *aio.File have in common, with the
// methods os lacks (SyncData, Allocate) done for os by osFile with the
// same system calls and Op names.
type fileOps interface {
	Name() string
	Read([]byte) (int, error)
	ReadAt([]byte, int64) (int, error)
	Write([]byte) (int, error)
	WriteString(string) (int, error)
	Seek(int64, int) (int64, error)
	Stat() (fs.FileInfo, error)
	Truncate(int64) error
	Sync() error
	SyncData() error
	Allocate(ctx context.Context, mode uint32, off, length int64) error
	ReadDir(int) ([]fs.DirEntry, error)
	ReadFrom(io.Reader) (int64, error)
	WriteTo(io.Writer) (int64, error)
	Close() error
}

var _ fileOps = (*aio.File)(nil)

// fileCase runs steps on a file opened by os and by aio with the same
// name and flags, and compares each step's results.
type fileCase struct {
	name   string
	file   string // in fsTree
	flag   int
	shared bool
	steps  func(f fileOps) []any
}

// readN reads n bytes from f's offset and returns them with the error.
func readN(f fileOps, n int) []any {
	b := make([]byte, n)
	k, err := f.Read(b)
	return []any{b[:k], err}
}

func readAtN(f fileOps, n int, off int64) []any {
	b := make([]byte, n)
	k, err := f.ReadAt(b, off)
	return []any{b[:k], err}
}

func seek(f fileOps, off int64, whence int) []any {
	n, err := f.Seek(off, whence)
	return []any{n, err}
}

func stat(f fileOps) []any {
	fi, err := f.Stat()
	return []any{fi, err}
}

func readDir(f fileOps, n int) []any {
	d, err := f.ReadDir(n)
	return []any{d, err}
}

// readDirAll reads f's directory n entries at a time until io.EOF.
func readDirAll(f fileOps, n int) []any {
	var out []any
	for i := 0; i < 100; i++ {
		d, err := f.ReadDir(n)
		out = append(out, d, err)
		if err != nil {
			break
		}
	}
	return out
}

var fileCases = []fileCase{
	{name: "Seek", file: "file", flag: os.O_RDWR, steps: func(f fileOps) []any {
		var out []any
		out = append(out, seek(f, 0, io.SeekEnd)...)
		out = append(out, seek(f, 10, io.SeekStart)...)
		out = append(out, readN(f, 5)...)
		out = append(out, seek(f, 0, io.SeekCurrent)...) // Read moved it
		out = append(out, readAtN(f, 3, 0)...)
		out = append(out, seek(f, 0, io.SeekCurrent)...) // ReadAt did not
		n, err := f.Write([]byte("WRITE"))
		out = append(out, n, err)
		out = append(out, seek(f, 0, io.SeekCurrent)...) // Write moved it
		n, err = f.WriteString("string")
		out = append(out, n, err)
		out = append(out, seek(f, -4, io.SeekCurrent)...)
		out = append(out, readN(f, 10)...)
		out = append(out, seek(f, -1, io.SeekStart)...) // EINVAL
		out = append(out, seek(f, 0, 42)...)            // a bad whence: EINVAL
		out = append(out, seek(f, 0, io.SeekCurrent)...)
		out = append(out, seek(f, -5, io.SeekEnd)...)
		out = append(out, readN(f, 100)...)
		out = append(out, readN(f, 100)...) // io.EOF
		out = append(out, seek(f, 5000, io.SeekStart)...)
		n, err = f.Write([]byte("past the end"))
		out = append(out, n, err)
		out = append(out, stat(f)...)
		return out
	}},
	{name: "Stat/file", file: "file", flag: os.O_RDONLY, shared: true, steps: stat},
	{name: "Stat/dir", file: "dir", flag: os.O_RDONLY, shared: true, steps: stat},
	{name: "Stat/link", file: "link", flag: os.O_RDONLY, shared: true, steps: stat},
	{name: "Truncate", file: "file", flag: os.O_RDWR, steps: func(f fileOps) []any {
		var out []any
		for _, size := range []int64{10, 0, 5000, 123, -1} {
			out = append(out, f.Truncate(size))
			out = append(out, stat(f)...)
		}
		out = append(out, readAtN(f, 200, 0)...)
		return out
	}},
	{name: "Truncate/read-only", file: "file", flag: os.O_RDONLY, steps: func(f fileOps) []any {
		return []any{f.Truncate(10)}
	}},
	{name: "Truncate/dir", file: "dir", flag: os.O_RDONLY, steps: func(f fileOps) []any {
		return []any{f.Truncate(10)}
	}},
	{name: "Sync/file", file: "file", flag: os.O_RDWR, steps: func(f fileOps) []any {
		n, err := f.WriteString("synced")
		return []any{n, err, f.Sync(), f.SyncData()}
	}},
	{name: "Sync/dir", file: "dir", flag: os.O_RDONLY, steps: func(f fileOps) []any {
		// How a rename is made durable: sync the directory.
		return []any{f.Sync(), f.SyncData()}
	}},
	{name: "Allocate", file: "file", flag: os.O_RDWR, steps: func(f fileOps) []any {
		ctx := context.Background()
		var out []any
		out = append(out, f.Allocate(ctx, 0, 0, 8192))
		out = append(out, stat(f)...)
		out = append(out, f.Allocate(ctx, fallocKeepSize, 8192, 1<<20))
		out = append(out, stat(f)...)
		out = append(out, f.Allocate(ctx, fallocPunchHole|fallocKeepSize, 100, 200))
		out = append(out, readAtN(f, 400, 0)...)
		out = append(out, f.Allocate(ctx, 0, -1, 10))
		out = append(out, f.Allocate(ctx, 0, 0, 0))
		out = append(out, f.Allocate(ctx, fallocPunchHole, 0, 10)) // PUNCH_HOLE needs KEEP_SIZE
		out = append(out, stat(f)...)
		return out
	}},
	{name: "Allocate/read-only", file: "file", flag: os.O_RDONLY, steps: func(f fileOps) []any {
		return []any{f.Allocate(context.Background(), 0, 0, 10)}
	}},
	{name: "ReadDir/all", file: ".", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		return readDir(f, -1)
	}},
	{name: "ReadDir/zero", file: "dir", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		return append(readDir(f, 0), readDir(f, 0)...) // the second finds nothing left: no error
	}},
	{name: "ReadDir/by-2", file: ".", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		return readDirAll(f, 2)
	}},
	{name: "ReadDir/by-1-then-rest", file: ".", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		return append(readDir(f, 1), readDirAll(f, -1)...)
	}},
	{name: "ReadDir/seek-restarts", file: "dir", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		out := readDir(f, -1)
		out = append(out, readDir(f, 5)...) // io.EOF
		out = append(out, seek(f, 0, io.SeekStart)...)
		return append(out, readDir(f, -1)...)
	}},
	{name: "ReadDir/emptydir", file: "emptydir", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		return append(readDir(f, 3), readDir(f, -1)...)
	}},
	{name: "ReadDir/not-a-dir", file: "file", flag: os.O_RDONLY, shared: true, steps: func(f fileOps) []any {
		return append(readDir(f, -1), readDir(f, 1)...)
	}},
	{name: "ReadFrom", file: "file", flag: os.O_RDWR, steps: func(f fileOps) []any {
		n, err := f.ReadFrom(strings.NewReader(strings.Repeat("from a reader ", 5000)))
		return append([]any{n, err}, stat(f)...)
	}},
	{name: "WriteTo", file: "file", flag: os.O_RDONLY, steps: func(f fileOps) []any {
		var out []any
		out = append(out, seek(f, 100, io.SeekStart)...)
		var b bytes.Buffer
		n, err := f.WriteTo(&b)
		return append(out, n, err, b.Bytes())
	}},
	{name: "Closed", file: "file", flag: os.O_RDWR, steps: func(f fileOps) []any {
		out := []any{f.Close()}
		out = append(out, seek(f, 0, io.SeekStart)...)
		out = append(out, stat(f)...)
		out = append(out, f.Truncate(1), f.Sync(), f.SyncData())
		out = append(out, f.Allocate(context.Background(), 0, 0, 1))
		// (ReadDir: see testFSOSFile's ReadDir/closed.)
		n, err := f.WriteString("x")
		out = append(out, n, err)
		out = append(out, f.Close())
		return out
	}},
}

// testFSOSFile runs every fileCase against os.
func testFSOSFile(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	needFS(t, r)
	for _, c := range fileCases {
		t.Run(c.name, func(t *testing.T) {
			osDir, aioDir := twin(t)
			if c.shared {
				aioDir = osDir
			}
			mapPath := func(p string) string { return strings.ReplaceAll(p, aioDir, osDir) }
			of, err := os.OpenFile(filepath.Join(osDir, c.file), c.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer of.Close()
			af, err := r.Open(context.Background(), filepath.Join(aioDir, c.file), c.flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer af.Close()
			got := c.steps(af)
			want := c.steps(osFile{of})
			if len(got) != len(want) {
				t.Fatalf("aio took %d steps, os %d", len(got), len(want))
			}
			for i := range got {
				sameResult(t, fmt.Sprintf("%s step %d", c.name, i), got[i], want[i], c.shared, mapPath)
			}
			if !c.shared {
				if got, want := snapshot(t, aioDir), snapshot(t, osDir); got != want {
					t.Errorf("the trees differ afterwards:\naio:\n%s\nos:\n%s", got, want)
				}
			}
		})
	}
	t.Run("Seek/pipe", func(t *testing.T) {
		rd, w := pipe(t, r)
		_, err := rd.Seek(0, io.SeekCurrent)
		_, osErr := w.Seek(0, io.SeekCurrent)
		sameErr(t, "Seek on a pipe", err, osErr, func(p string) string { return w.Name() })
		if !errors.Is(err, syscall.ESPIPE) {
			t.Errorf("Seek on a pipe = %v, want ESPIPE", err)
		}
	})
	t.Run("ReadDir/closed", func(t *testing.T) {
		// os's ReadDir of a closed file says "use of closed file"
		// (internal/poll's ErrFileClosing), unlike its other methods;
		// aio's matches os.ErrClosed, as every closed File's does.
		f, err := r.Open(context.Background(), t.TempDir(), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = f.ReadDir(-1)
		wantPathErr(t, "ReadDir after Close", err, os.ErrClosed)
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op != "readdirent" {
			t.Errorf("ReadDir after Close: Op %q, want readdirent", pe.Op)
		}
	})
	t.Run("ReadDir/entries-sorted-as-os", func(t *testing.T) {
		dir := t.TempDir()
		var names []string
		for i := range 300 { // more than one getdents buffer
			name := fmt.Sprintf("entry-%03d-%s", i, strings.Repeat("x", i%40))
			names = append(names, name)
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		sort.Strings(names)
		got, err := r.ReadDir(context.Background(), dir)
		want, werr := os.ReadDir(dir)
		sameErr(t, "ReadDir", err, werr, func(p string) string { return p })
		sameEntries(t, "ReadDir", got, want, true, func(p string) string { return p })
		for i, e := range got {
			if e.Name() != names[i] {
				t.Fatalf("entry %d = %s, want %s", i, e.Name(), names[i])
			}
		}
	})
}
