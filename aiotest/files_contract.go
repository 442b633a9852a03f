package aiotest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

// The contract for the file system operations: a context already done
// submits nothing; bad input submits nothing; a cancel that races an
// operation either cancels it (and it did not happen) or loses (and its
// success is reported, and it happened); Close waits.

func init() {
	register("FS/ContextAlreadyDone", testFSContextAlreadyDone)
	register("FS/BadInput", testFSBadInput)
	register("FS/CancelRaces/Mkdir", testFSCancelRacesMkdir)
	register("FS/CancelRaces/Rename", testFSCancelRacesRename)
	register("FS/CancelRaces/Stat", testFSCancelRacesStat)
	register("FS/FileCloseWaits", testFSFileCloseWaits)
	register("FS/RingCloseWaits", testFSRingCloseWaits)
	register("FS/FIFOOpensWaitForEachOther", testFSFIFOOpens)
}

// unblockFIFOs opens (and closes) both ends of each FIFO without
// waiting, so that every open of them waiting for its other end returns.
func unblockFIFOs(names []string) {
	for _, name := range names {
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY} {
			if f, err := os.OpenFile(name, flag|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
	}
}

// testFSFIFOOpens: an open of a FIFO waits for its other end to be
// opened, as os.OpenFile's does.
//
// With far more FIFOs than the ring has worker threads (Config.Workers
// 2), every FIFO's write end is opened, then every read end: each open
// must return, as with os, however the backend bounds its threads. (The
// portable backend deadlocked: its workers all waited in opens while the
// opens that would release them waited in its queue. io_uring failed the
// opens for writing at once with ENXIO: it tries an open first with
// O_NONBLOCK added.) Then an open for reading must not return before a
// writer opens (io_uring's returned at once, and a read then found the
// end of the stream).
func testFSFIFOOpens(t *testing.T, s *suite) {
	dir := t.TempDir()
	const fifos = 16
	names := make([]string, fifos)
	for i := range names {
		names[i] = filepath.Join(dir, fmt.Sprint("fifo", i))
		if err := mkfifo(names[i]); err != nil {
			t.Skipf("no FIFOs here: %v", err)
		}
	}
	r := s.newRing(t, aio.Config{Workers: 2})
	t.Cleanup(func() {
		// A failed case may leave opens waiting, each releasing the next
		// as the worker takes it, and Close waits for them: release them
		// until it returns.
		closed := make(chan struct{})
		if t.Failed() {
			go func() {
				for {
					select {
					case <-closed:
						return
					default:
						unblockFIFOs(names)
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		r.Close()
		close(closed)
	})
	opened := make(chan error, 2*fifos)
	var files sync.Map
	open := func(name string, flag int) {
		f, err := r.Open(context.Background(), name, flag, 0)
		if err == nil {
			files.Store(f, true)
		}
		opened <- err
	}
	for _, name := range names {
		go open(name, os.O_WRONLY)
	}
	for _, name := range names {
		go open(name, os.O_RDONLY)
	}
	deadline := time.After(30 * time.Second)
	for i := range 2 * fifos {
		select {
		case err := <-opened:
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
		case <-deadline:
			t.Fatalf("%d of %d opens of FIFOs returned after 30s: the rest wait for each other (%+v)", i, 2*fifos, r.Stats())
		}
	}
	files.Range(func(f, _ any) bool {
		if err := f.(*aio.File).Close(); err != nil {
			t.Error(err)
		}
		return true
	})

	// A reader alone waits. (The bound is for what must not happen: a
	// correct open never returns here, whatever the machine's speed.)
	type result struct {
		data []byte
		err  error
	}
	read := make(chan result, 1)
	go func() {
		f, err := r.Open(context.Background(), names[0], os.O_RDONLY, 0)
		if err != nil {
			read <- result{err: err}
			return
		}
		data, err := io.ReadAll(f)
		f.Close()
		read <- result{data, err}
	}()
	select {
	case res := <-read:
		t.Fatalf("an open of a FIFO for reading returned before any writer opened it; the read gave %q, %v", res.data, res.err)
	case <-time.After(50 * time.Millisecond):
	}
	w, err := os.OpenFile(names[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Error(err)
	}
	w.Close()
	if res := <-read; string(res.data) != "hello" || res.err != nil {
		t.Errorf("read %q, %v from the FIFO; want \"hello\"", res.data, res.err)
	}
}

// fsCall is one call of a file system method, for the cases that try
// them all.
type fsCall struct {
	name string
	call func(ctx context.Context) error
}

// fsCalls lists a call of every context-taking file system method on
// the tree in dir, with f open on dir/file and d on dir/dir.
func fsCalls(r *aio.Ring, dir string, f, d *aio.File) []fsCall {
	p := func(n string) string { return filepath.Join(dir, n) }
	fsys := r.DirFS(dir).(aio.ContextFS)
	return []fsCall{
		{"File.StatContext", func(ctx context.Context) error { _, err := f.StatContext(ctx); return err }},
		{"File.TruncateContext", func(ctx context.Context) error { return f.TruncateContext(ctx, 10) }},
		{"File.SyncContext", func(ctx context.Context) error { return f.SyncContext(ctx) }},
		{"File.SyncDataContext", func(ctx context.Context) error { return f.SyncDataContext(ctx) }},
		{"File.Allocate", func(ctx context.Context) error { return f.Allocate(ctx, 0, 0, 4096) }},
		{"File.Advise", func(ctx context.Context) error { return f.Advise(ctx, 0, 0, 0) }},
		{"File.ReadDirContext", func(ctx context.Context) error { _, err := d.ReadDirContext(ctx, -1); return err }},
		{"Ring.Stat", func(ctx context.Context) error { _, err := r.Stat(ctx, p("file")); return err }},
		{"Ring.Lstat", func(ctx context.Context) error { _, err := r.Lstat(ctx, p("link")); return err }},
		{"Ring.Mkdir", func(ctx context.Context) error { return r.Mkdir(ctx, p("new"), 0o755) }},
		{"Ring.MkdirAll", func(ctx context.Context) error { return r.MkdirAll(ctx, p("new/er"), 0o755) }},
		{"Ring.Rename", func(ctx context.Context) error { return r.Rename(ctx, p("file"), p("moved")) }},
		{"Ring.Remove", func(ctx context.Context) error { return r.Remove(ctx, p("empty")) }},
		{"Ring.RemoveAll", func(ctx context.Context) error { return r.RemoveAll(ctx, p("dir")) }},
		{"Ring.Link", func(ctx context.Context) error { return r.Link(ctx, p("file"), p("hard")) }},
		{"Ring.Symlink", func(ctx context.Context) error { return r.Symlink(ctx, "file", p("sym")) }},
		{"Ring.Readlink", func(ctx context.Context) error { _, err := r.Readlink(ctx, p("link")); return err }},
		{"Ring.ReadDir", func(ctx context.Context) error { _, err := r.ReadDir(ctx, p("dir")); return err }},
		{"DirFS.Open", func(ctx context.Context) error { _, err := fsys.WithContext(ctx).Open("file"); return err }},
		{"DirFS.Stat", func(ctx context.Context) error { _, err := fs.Stat(fsys.WithContext(ctx), "file"); return err }},
		{"DirFS.ReadFile", func(ctx context.Context) error { _, err := fs.ReadFile(fsys.WithContext(ctx), "file"); return err }},
		{"DirFS.ReadDir", func(ctx context.Context) error { _, err := fs.ReadDir(fsys.WithContext(ctx), "dir"); return err }},
	}
}

// openTreeFiles makes fsTree in a new directory and opens dir/file for
// writing and dir/dir, through r.
func openTreeFiles(t *testing.T, r *aio.Ring) (dir string, f, d *aio.File) {
	t.Helper()
	dir = t.TempDir()
	fsTree(t, dir)
	var err error
	if f, err = r.Open(context.Background(), filepath.Join(dir, "file"), os.O_RDWR, 0); err != nil {
		t.Fatal(err)
	}
	if d, err = r.Open(context.Background(), filepath.Join(dir, "dir"), os.O_RDONLY, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); d.Close() })
	return dir, f, d
}

// testFSContextAlreadyDone: every method with a context that is already
// done returns its error at once, submits nothing and changes nothing.
func testFSContextAlreadyDone(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir, f, d := openTreeFiles(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before, tree := r.Stats(), snapshot(t, dir)
	for _, c := range fsCalls(r, dir, f, d) {
		err := c.call(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a done context = %v, want an error matching context.Canceled", c.name, err)
		}
		var pe *fs.PathError
		var le *os.LinkError
		if !errors.As(err, &pe) && !errors.As(err, &le) {
			t.Errorf("%s: %v (%T) is neither *fs.PathError nor *os.LinkError", c.name, err, err)
		}
	}
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("calls with a done context submitted %d operations", after.Submitted-before.Submitted)
	}
	if got := snapshot(t, dir); got != tree {
		t.Errorf("calls with a done context changed the tree:\n%s\nwas:\n%s", got, tree)
	}
}

// testFSBadInput: what can never succeed fails with a clear error and
// submits nothing.
func testFSBadInput(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir, f, _ := openTreeFiles(t, r)
	ctx := context.Background()
	nul := filepath.Join(dir, "bad\x00name")
	before, tree := r.Stats(), snapshot(t, dir)
	check := func(what string, err error, targets ...error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
			return
		}
		var pe *fs.PathError
		var le *os.LinkError
		if !errors.As(err, &pe) && !errors.As(err, &le) {
			t.Errorf("%s: %v (%T) is neither *fs.PathError nor *os.LinkError", what, err, err)
		}
		for _, target := range targets {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v does not match %v", what, err, target)
			}
		}
	}
	// Arguments out of range: EINVAL, as the os package says it (on
	// Windows ERROR_INVALID_PARAMETER, as os.File.Truncate(-1) there).
	check("Truncate(-1)", f.Truncate(-1), errInvalidArg)
	_, err := f.Seek(0, 42)
	check("Seek with whence 42", err, errInvalidArg)
	check("Allocate at -1", f.Allocate(ctx, 0, -1, 10), errInvalidArg)
	check("Allocate of 0 bytes", f.Allocate(ctx, 0, 0, 0), errInvalidArg)
	check("Advise at -1", f.Advise(ctx, -1, 10, 0), errInvalidArg)
	_, err = f.ReadDir(-1)
	check("ReadDir of a file", err, syscall.ENOTDIR)
	_, err = r.Stat(ctx, nul)
	check("Stat with a NUL", err, syscall.EINVAL)
	_, err = r.Lstat(ctx, nul)
	check("Lstat with a NUL", err, syscall.EINVAL)
	check("Mkdir with a NUL", r.Mkdir(ctx, nul, 0o755), syscall.EINVAL)
	check("MkdirAll with a NUL", r.MkdirAll(ctx, nul, 0o755), syscall.EINVAL)
	check("Rename from a NUL", r.Rename(ctx, nul, filepath.Join(dir, "x")), syscall.EINVAL)
	check("Rename to a NUL", r.Rename(ctx, filepath.Join(dir, "file"), nul), syscall.EINVAL)
	check("Remove with a NUL", r.Remove(ctx, nul), syscall.EINVAL)
	check("RemoveAll with a NUL", r.RemoveAll(ctx, nul), syscall.EINVAL)
	check("Link to a NUL", r.Link(ctx, filepath.Join(dir, "file"), nul), syscall.EINVAL)
	check("Symlink to a NUL", r.Symlink(ctx, "file", nul), syscall.EINVAL)
	_, err = r.Readlink(ctx, nul)
	check("Readlink with a NUL", err, syscall.EINVAL)
	_, err = r.ReadDir(ctx, nul)
	check("ReadDir with a NUL", err, syscall.EINVAL)
	fsys := r.DirFS(dir)
	for _, name := range []string{"../file", "/etc/passwd", "dir/../file", "", "dir/", "./file", "bad\x00name", `dir\a`} {
		if name == `dir\a` && runtime.GOOS != "windows" {
			continue // a valid name on Unix (backslash is a character); a separator on Windows
		}
		_, err := fsys.Open(name)
		check(fmt.Sprintf("DirFS.Open(%q)", name), err, fs.ErrInvalid)
		_, err = fs.Stat(fsys, name)
		check(fmt.Sprintf("DirFS.Stat(%q)", name), err, fs.ErrInvalid)
	}
	if after := r.Stats(); after.Submitted != before.Submitted {
		t.Errorf("bad input submitted %d operations", after.Submitted-before.Submitted)
	}
	if got := snapshot(t, dir); got != tree {
		t.Errorf("bad input changed the tree:\n%s\nwas:\n%s", got, tree)
	}
}

// callBias steers a call and a cancel racing it towards the moment they
// tie, from both sides: bias > 0 delays the cancel by that many spins,
// bias < 0 delays the call (a worker takes an operation so soon after
// its submission that a cancel from a goroutine just started rarely
// finds it queued). Each outcome moves the bias towards the rarer one.
type callBias struct{ bias int }

func (b *callBias) observe(canceled bool) {
	step := max(b.bias, -b.bias)/8 + 50
	if canceled {
		b.bias += step
	} else {
		b.bias -= step
	}
}

// race starts cancel in a new goroutine after its spins, spins the
// caller's share, and returns a WaitGroup done when cancel has run.
func (b *callBias) race(cancel func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range max(b.bias, 0) + rand.IntN(1000) {
			spinSink.Add(1)
		}
		cancel()
	}()
	for range max(-b.bias, 0) + rand.IntN(1000) {
		spinSink.Add(1)
	}
	return &wg
}

// fsRaceOutcomes counts the outcomes of operations racing a cancel.
type fsRaceOutcomes struct {
	done, canceled, inFlight int // inFlight: cancelled after submission (ErrCanceled)
}

// observe classifies err: nil (done), cancelled by ctx (in flight, or
// before anything was submitted), or a failure of the test.
func (o *fsRaceOutcomes) observe(t *testing.T, round int, err error, bias *callBias) bool {
	t.Helper()
	switch {
	case err == nil:
		o.done++
		bias.observe(false)
		return true
	case errors.Is(err, context.Canceled):
		o.canceled++
		if errors.Is(err, aio.ErrCanceled) {
			o.inFlight++
		}
		bias.observe(true)
		return false
	}
	t.Fatalf("round %d: %v: an operation nobody failed failed", round, err)
	return false
}

func (o *fsRaceOutcomes) check(t *testing.T, rounds int) {
	t.Helper()
	t.Logf("%d rounds: %d done, %d cancelled (%d of them in flight)", rounds, o.done, o.canceled, o.inFlight)
	if o.done == 0 || o.canceled == 0 {
		t.Errorf("want both outcomes: %d done, %d cancelled", o.done, o.canceled)
	}
}

// testFSCancelRacesMkdir: a context's cancel races Mkdir, many times. A
// Mkdir that reports success made the directory; one that reports the
// cancel did not.
func testFSCancelRacesMkdir(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir := t.TempDir()
	rounds := Scale(2000)
	var bias callBias
	var o fsRaceOutcomes
	for i := range rounds {
		name := filepath.Join(dir, fmt.Sprint(i))
		ctx, cancel := context.WithCancel(context.Background())
		wg := bias.race(cancel)
		err := r.Mkdir(ctx, name, 0o755)
		wg.Wait()
		_, serr := os.Lstat(name)
		if o.observe(t, i, err, &bias) != (serr == nil) {
			t.Fatalf("round %d: Mkdir = %v, but the directory exists: %v", i, err, serr == nil)
		}
	}
	o.check(t, rounds)
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("in flight after the rounds: %+v", st)
	}
}

// testFSCancelRacesRename: the same with Rename, back and forth between
// two names: exactly one of them exists, and it is the one the reported
// outcome says.
func testFSCancelRacesRename(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir := t.TempDir()
	names := [2]string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}
	if err := os.WriteFile(names[0], []byte("moving"), 0o644); err != nil {
		t.Fatal(err)
	}
	at := 0               // where the file is
	rounds := Scale(1000) // two Lstats and a rename each
	var bias callBias
	var o fsRaceOutcomes
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		wg := bias.race(cancel)
		err := r.Rename(ctx, names[at], names[1-at])
		wg.Wait()
		if o.observe(t, i, err, &bias) {
			at = 1 - at
		}
		_, e0 := os.Lstat(names[at])
		_, e1 := os.Lstat(names[1-at])
		if e0 != nil || e1 == nil {
			t.Fatalf("round %d: Rename = %v, but %s exists: %v, %s exists: %v", i, err, names[at], e0 == nil, names[1-at], e1 == nil)
		}
	}
	o.check(t, rounds)
}

// testFSCancelRacesStat: the same with Stat, whose result, when it comes,
// is the file's.
func testFSCancelRacesStat(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, make([]byte, 12345), 0o644); err != nil {
		t.Fatal(err)
	}
	rounds := Scale(2000)
	var bias callBias
	var o fsRaceOutcomes
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		wg := bias.race(cancel)
		fi, err := r.Stat(ctx, name)
		wg.Wait()
		if o.observe(t, i, err, &bias) && (fi == nil || fi.Size() != 12345 || fi.Name() != "f") {
			t.Fatalf("round %d: Stat = %v", i, fi)
		}
	}
	o.check(t, rounds)
}

// testFSFileCloseWaits: Close of a File while its file system operations
// are in flight (stats, truncates, directory reads with their lstats)
// returns only after every one has completed; each ends done or with
// os.ErrClosed.
func testFSFileCloseWaits(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	for round := range Scale(50) {
		_, f, d := openTreeFiles(t, r)
		var wg sync.WaitGroup
		var calls atomic.Int64
		loop := func(what string, call func() error) {
			defer wg.Done()
			for {
				err := call()
				calls.Add(1)
				if err == nil || errors.Is(err, io.EOF) {
					continue
				}
				if !errors.Is(err, os.ErrClosed) {
					t.Errorf("round %d: %s while closing = %v, want success or os.ErrClosed", round, what, err)
				}
				return
			}
		}
		wg.Add(5)
		go loop("Stat", func() error { _, err := f.Stat(); return err })
		go loop("Truncate", func() error { return f.Truncate(100) })
		go loop("Allocate", func() error {
			err := f.Allocate(context.Background(), 0, 0, 4096)
			if errors.Is(err, errors.ErrUnsupported) {
				return nil // not on this system: the others still run
			}
			return err
		})
		go loop("ReadDir", func() error { _, err := d.ReadDir(1); return err })
		go loop("Seek+ReadDir", func() error {
			if _, err := d.Seek(0, io.SeekStart); err != nil {
				return err
			}
			_, err := d.ReadDir(-1)
			return err
		})
		for calls.Load() < 10 {
			runtime.Gosched()
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if st := r.Stats(); st.InFlight != 0 {
			t.Fatalf("round %d: Close returned with operations in flight: %+v", round, st)
		}
		wg.Wait()
	}
}

// testFSRingCloseWaits: Ring.Close while path operations are in flight
// returns after every one has completed; later ones fail with
// os.ErrClosed and submit nothing.
func testFSRingCloseWaits(t *testing.T, s *suite) {
	r := s.newRing(t, aio.Config{})
	t.Cleanup(func() { r.Close() }) // a second Close is harmless
	dir := t.TempDir()
	fsTree(t, dir)
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				var err error
				switch i % 3 {
				case 0:
					_, err = r.Stat(context.Background(), filepath.Join(dir, "file"))
				case 1:
					err = r.Mkdir(context.Background(), filepath.Join(dir, fmt.Sprintf("d%d-%d", g, i)), 0o755)
				case 2:
					_, err = r.ReadDir(context.Background(), filepath.Join(dir, "dir"))
				}
				calls.Add(1)
				if err == nil {
					continue
				}
				if !errors.Is(err, os.ErrClosed) {
					t.Errorf("operation while the ring closes = %v, want success or os.ErrClosed", err)
				}
				return
			}
		}()
	}
	for calls.Load() < 20 {
		runtime.Gosched()
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.InFlight != 0 || st.Submitted != st.Completed {
		t.Fatalf("Ring.Close returned with operations in flight: %+v", st)
	}
	wg.Wait()
	before := r.Stats()
	_, err := r.Stat(context.Background(), dir)
	wantPathErr(t, "Stat after Ring.Close", err, os.ErrClosed)
	err = r.Mkdir(context.Background(), filepath.Join(dir, "late"), 0o755)
	wantPathErr(t, "Mkdir after Ring.Close", err, os.ErrClosed)
	if r.Stats().Submitted != before.Submitted {
		t.Error("operations on a closed ring were submitted")
	}
}
