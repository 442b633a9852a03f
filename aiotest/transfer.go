package aiotest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waitforit/aio"
)

// Transfers: Conn.ReadFrom/WriteTo and File.ReadFrom/WriteTo, zero-copy
// (sendfile, splice through a pipe, copy_file_range) where the backend
// has the readiness path on Linux, a pooled-buffer copy elsewhere. Every
// case checks what reached the destination against what the transfer
// reported, and where the source was left.
func init() {
	register("Transfer/FileToConn", testTransferFileToConn)
	register("Transfer/ConnToConn", testTransferConnToConn)
	register("Transfer/ConnToFile", testTransferConnToFile)
	register("Transfer/FileToFile", testTransferFileToFile)
	register("Transfer/OtherReaderCopies", testTransferOtherReader)
	register("Transfer/FileServerFS", testTransferFileServerFS)
	register("Transfer/CancelRaces", testTransferCancelRaces)
	register("Transfer/Deadline", testTransferDeadline)
	register("Transfer/CloseDuringTransfer", testTransferClose)
	register("Transfer/DescriptorsBack", testTransferDescriptors)
}

// zeroCopyExpected reports whether r's transfers copy nothing in
// userspace (see aio's mechanism.go): on Linux's readiness backends every
// transfer between files and streams; on Windows (TransmitFile) those
// from a file to a connection (fileToConn).
func zeroCopyExpected(r *aio.Ring, fileToConn bool) bool {
	switch runtime.GOOS {
	case "linux":
		return r.Backend() == "uring" || r.Backend() == "portable"
	case "windows":
		return fileToConn && r.Backend() == "iocp"
	}
	return false
}

// checkZeroCopy checks, where transfers are zero-copy, that the ring's
// counters moved by exactly want bytes without a userspace copy since
// before.
func checkZeroCopy(t *testing.T, r *aio.Ring, before aio.Stats, want int64, fileToConn bool) {
	t.Helper()
	if !zeroCopyExpected(r, fileToConn) {
		return
	}
	st := r.Stats()
	if got := st.CopiedBytes - before.CopiedBytes; got != 0 {
		t.Errorf("%d bytes copied through userspace, want 0 on %s", got, r.Backend())
	}
	if got := st.ZeroCopyBytes - before.ZeroCopyBytes; got != uint64(want) {
		t.Errorf("%d bytes moved zero-copy, want %d", got, want)
	}
}

// pairs makes connected pairs of aio Conns through one listener.
type pairs struct {
	r  *aio.Ring
	ln net.Listener
}

func newPairs(t *testing.T, r *aio.Ring) *pairs {
	t.Helper()
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &pairs{r: r, ln: ln}
}

// pair returns a connected pair; the caller closes both.
func (p *pairs) pair(t *testing.T) (client, server *aio.Conn) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	accepted := make(chan res, 1)
	go func() {
		c, err := p.ln.Accept()
		accepted <- res{c, err}
	}()
	c, err := p.r.DialContext(context.Background(), "tcp", p.ln.Addr().String())
	a := <-accepted
	if err != nil || a.err != nil {
		if c != nil {
			c.Close()
		}
		if a.c != nil {
			a.c.Close()
		}
		t.Fatalf("dial: %v, accept: %v", err, a.err)
	}
	return c.(*aio.Conn), a.c.(*aio.Conn)
}

// collect reads c to its end in the background, in reads of random
// sizes; the channel yields what it read once c's peer has closed.
func collect(c io.Reader, seed uint64) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		rng := rand.New(rand.NewPCG(seed, 7))
		var got bytes.Buffer
		buf := make([]byte, 256<<10)
		for {
			n, err := c.Read(buf[:1+rng.IntN(len(buf))])
			got.Write(buf[:n])
			if err != nil {
				break
			}
		}
		out <- got.Bytes()
	}()
	return out
}

// patternBytes is n bytes of the pattern from offset 0.
func patternBytes(n int) []byte {
	b := make([]byte, n)
	fillPattern(b, 0)
	return b
}

// osPatternFile creates a file of the pattern and opens it with os.
func osPatternFile(t *testing.T, size int) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "os-data")
	if err := os.WriteFile(name, patternBytes(size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// position is s's offset. A backend without Seek (a user's, say) skips
// the test: its positions cannot be set or checked.
func position(t *testing.T, s io.Seeker) int64 {
	t.Helper()
	return seekTo(t, s, 0, io.SeekCurrent)
}

// seekTo seeks s, skipping the test on a backend without Seek.
func seekTo(t *testing.T, s io.Seeker, off int64, whence int) int64 {
	t.Helper()
	pos, err := s.Seek(off, whence)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("this backend has no Seek, so a file's position cannot be set or checked: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// canSeek reports whether f's backend has Seek.
func canSeek(f *aio.File) bool {
	_, err := f.Seek(0, io.SeekCurrent)
	return !errors.Is(err, errors.ErrUnsupported)
}

func testTransferFileToConn(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	const size = 3<<20 + 123
	f := patternFile(t, r, size)
	of := osPatternFile(t, size)
	type tc struct {
		name        string
		start, want int64 // the source's offset before, the bytes expected
		run         func(c *aio.Conn) (int64, error)
		after       func() int64 // where the source is after, to compare with start+want
	}
	var lr *io.LimitedReader
	var sr *io.SectionReader
	cases := []tc{
		{name: "io.Copy(conn, *aio.File)", start: 0, want: size,
			run: func(c *aio.Conn) (int64, error) { return io.Copy(c, f) }, after: func() int64 { return position(t, f) }},
		{name: "ReadFrom(LimitedReader{*aio.File})", start: 1000, want: 1 << 20,
			run: func(c *aio.Conn) (int64, error) {
				lr = &io.LimitedReader{R: f, N: 1 << 20}
				return c.ReadFrom(lr)
			}, after: func() int64 { return position(t, f) + lr.N }},
		{name: "ReadFrom(LimitedReader beyond the end)", start: size - 5000, want: 5000,
			run: func(c *aio.Conn) (int64, error) {
				lr = &io.LimitedReader{R: f, N: 1 << 20}
				return c.ReadFrom(lr)
			}, after: func() int64 { return position(t, f) }},
		{name: "ReadFrom(SectionReader{*aio.File})", start: 777, want: 2 << 20,
			run: func(c *aio.Conn) (int64, error) {
				sr = io.NewSectionReader(f, 0, 777+2<<20)
				sr.Seek(777, io.SeekStart)
				return c.ReadFrom(sr)
			}, after: func() int64 {
				if pos := position(t, f); pos != 777 { // a section never moves the file's position
					t.Errorf("the file's position is %d after a section's transfer, want 777", pos)
				}
				return position(t, sr)
			}},
		{name: "ReadFrom(*os.File)", start: 4096, want: size - 4096,
			run: func(c *aio.Conn) (int64, error) { return c.ReadFrom(of) }, after: func() int64 { return position(t, of) }},
		{name: "io.Copy(conn, LimitReader(*os.File))", start: 10, want: 100000,
			run: func(c *aio.Conn) (int64, error) {
				lr = &io.LimitedReader{R: of, N: 100000}
				return io.Copy(c, lr)
			}, after: func() int64 { return position(t, of) + lr.N }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, srv := ps.pair(t)
			defer cl.Close()
			defer srv.Close()
			seekTo(t, f, c.start, io.SeekStart)
			seekTo(t, of, c.start, io.SeekStart)
			got := collect(srv, uint64(i))
			before := r.Stats()
			n, err := c.run(cl)
			if err != nil || n != c.want {
				t.Fatalf("transfer = (%d, %v), want (%d, nil)", n, err, c.want)
			}
			checkZeroCopy(t, r, before, c.want, true)
			cl.CloseWrite()
			b := <-got
			if int64(len(b)) != n {
				t.Fatalf("the receiver got %d bytes, the transfer reported %d", len(b), n)
			}
			checkPattern(t, b, c.start)
			if end := c.after(); end != c.start+c.want {
				t.Errorf("the source is at %d after the transfer, want %d", end, c.start+c.want)
			}
		})
	}
}

// proxyPairs is a source pair (the writer and the proxy's source end) and
// a destination pair (the proxy's destination end and the receiver).
type proxyPairs struct {
	writer, src, dst, receiver *aio.Conn
}

func (p *pairs) proxy(t *testing.T) proxyPairs {
	w, s := p.pair(t)
	d, rc := p.pair(t)
	return proxyPairs{w, s, d, rc}
}

func (pp proxyPairs) close() {
	pp.writer.Close()
	pp.src.Close()
	pp.dst.Close()
	pp.receiver.Close()
}

func testTransferConnToConn(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	const size = 4<<20 + 99
	data := patternBytes(size)
	for i, how := range []string{"io.Copy(dst, src)", "dst.ReadFrom(LimitedReader{src})", "dst.ReadFrom(*net.TCPConn)"} {
		t.Run(how, func(t *testing.T) {
			pp := ps.proxy(t)
			defer pp.close()
			var src io.Reader = pp.src
			want := int64(size)
			if i == 2 { // a source of the standard library's
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				go func() {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						return
					}
					c.Write(data)
					c.Close()
				}()
				sc, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				defer sc.Close()
				src = sc
			} else {
				go func() {
					pp.writer.Write(data)
					pp.writer.CloseWrite()
				}()
			}
			got := collect(pp.receiver, uint64(i))
			before := r.Stats()
			var n int64
			var err error
			var lr *io.LimitedReader
			switch i {
			case 0:
				n, err = io.Copy(pp.dst, src)
			case 1:
				want = size - 1000
				lr = &io.LimitedReader{R: src, N: want}
				n, err = pp.dst.ReadFrom(lr)
			case 2:
				n, err = pp.dst.ReadFrom(src)
			}
			if err != nil || n != want {
				t.Fatalf("transfer = (%d, %v), want (%d, nil)", n, err, want)
			}
			checkZeroCopy(t, r, before, want, false)
			pp.dst.CloseWrite()
			b := <-got
			if !bytes.Equal(b, data[:want]) {
				t.Fatalf("the receiver got %d bytes (of %d reported), not the ones sent", len(b), n)
			}
			if lr != nil {
				if lr.N != 0 {
					t.Errorf("LimitedReader.N = %d after the transfer, want 0", lr.N)
				}
				rest, _ := io.ReadAll(pp.src)
				if !bytes.Equal(rest, data[want:]) {
					t.Errorf("the source's rest is %d bytes, want the %d after the limit", len(rest), size-want)
				}
			}
		})
	}
}

func testTransferConnToFile(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	const size = 2<<20 + 5
	data := patternBytes(size)
	f, err := r.Open(context.Background(), filepath.Join(t.TempDir(), "out"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const start = 100
	seekTo(t, f, start, io.SeekStart)
	w, src := ps.pair(t)
	defer w.Close()
	defer src.Close()
	go func() {
		w.Write(data)
		w.CloseWrite()
	}()
	before := r.Stats()
	n, err := io.Copy(f, src) // src.WriteTo(f)
	if err != nil || n != size {
		t.Fatalf("io.Copy(file, conn) = (%d, %v), want (%d, nil)", n, err, size)
	}
	checkZeroCopy(t, r, before, size, false)
	if pos := position(t, f); pos != start+size {
		t.Errorf("the file is at %d after the transfer, want %d", pos, start+size)
	}
	got := make([]byte, size)
	if _, err := f.ReadAt(got, start); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the file does not hold what the connection sent")
	}
}

func testTransferFileToFile(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	const size = 5<<20 + 17
	src := patternFile(t, r, size)
	of := osPatternFile(t, size)
	for i, how := range []string{"dst.ReadFrom(*aio.File)", "io.Copy(dst, *aio.File)", "dst.ReadFrom(*os.File)", "dst.ReadFrom(SectionReader)"} {
		t.Run(how, func(t *testing.T) {
			dst, err := r.Open(context.Background(), filepath.Join(t.TempDir(), "copy"), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			seekTo(t, src, 10, io.SeekStart)
			seekTo(t, of, 10, io.SeekStart)
			var n int64
			want := int64(size - 10)
			before := r.Stats()
			switch i {
			case 0:
				n, err = dst.ReadFrom(src)
			case 1:
				n, err = io.Copy(dst, src)
			case 2:
				n, err = dst.ReadFrom(of)
			case 3:
				want = 1 << 20
				n, err = dst.ReadFrom(io.NewSectionReader(src, 10, want))
			}
			if err != nil || n != want {
				t.Fatalf("transfer = (%d, %v), want (%d, nil)", n, err, want)
			}
			if zeroCopyExpected(r, false) {
				if st := r.Stats(); st.CopiedBytes != before.CopiedBytes {
					// copy_file_range may be refused between some file
					// systems; the copy is then through a buffer.
					t.Logf("copied through userspace: %d bytes", st.CopiedBytes-before.CopiedBytes)
				}
			}
			if pos := position(t, dst); pos != want {
				t.Errorf("the destination is at %d, want %d", pos, want)
			}
			got := make([]byte, want)
			if _, err := dst.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			checkPattern(t, got, 10)
			if i < 3 {
				p := position(t, src)
				if i == 2 {
					p = position(t, of)
				}
				if p != size {
					t.Errorf("the source is at %d, want %d", p, size)
				}
			}
		})
	}
}

// testTransferFileServerFS: http.FileServerFS on a Ring.DirFS, served on
// a Ring.Listen listener, sends its files without a userspace copy where
// the backend has zero-copy transfers. It guards the one fragile link:
// net/http wraps each fs.File in its unexported ioFile, and aio looks
// through it by reflection; a Go release that changed the wrapper would
// make every response a copy, and this case fail.
func testTransferFileServerFS(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	dir := dirFSTempDir(t)
	const size = 256 << 10
	data := patternBytes(size)
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Every connection the server took must end after Shutdown, which
	// closes the idle ones but does not wait for their goroutines: one
	// still running holds the DirFS, and so its directory, open.
	var opened, closed atomic.Int64
	srv := &http.Server{Handler: http.FileServerFS(r.DirFS(dir)), ConnState: func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}}
	go srv.Serve(ln)
	// Shutdown waits for the handler, and so for its Close of the file,
	// which Windows needs before the directory goes.
	defer srv.Shutdown(context.Background())
	before := r.Stats()
	resp, err := http.Get("http://" + ln.Addr().String() + "/f.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, data) {
		t.Fatalf("GET = %d bytes, %v; want the file's %d", len(body), err, len(data))
	}
	// The transfer counts its bytes once it returns, which may be after
	// the client has them all: Shutdown waits for the handler.
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); closed.Load() != opened.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d of the server's %d connections still open 10s after Shutdown:\n%s",
				opened.Load()-closed.Load(), opened.Load(), buf[:runtime.Stack(buf, true)])
		}
	}
	after := r.Stats()
	zc, copied := after.ZeroCopyBytes-before.ZeroCopyBytes, after.CopiedBytes-before.CopiedBytes
	t.Logf("ZeroCopyBytes +%d, CopiedBytes +%d", zc, copied)
	// net/http's response.ReadFrom writes the first 512 bytes (its
	// sniffing window) through its own buffer, for std's net.TCPConn
	// too, before it hands the rest to the connection's ReadFrom.
	const sniffLen = 512
	if want := uint64(size - sniffLen); zeroCopyExpected(r, true) && (zc != want || copied != 0) {
		t.Errorf("the response moved %d bytes without a copy and %d with one; want %d (all but net/http's first %d) without", zc, copied, want, sniffLen)
	}
}

// onlyReader hides everything but Read.
type onlyReader struct{ io.Reader }

func testTransferOtherReader(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	cl, srv := ps.pair(t)
	defer cl.Close()
	defer srv.Close()
	const size = 1<<20 + 3
	data := patternBytes(size)
	got := collect(srv, 1)
	before := r.Stats()
	n, err := cl.ReadFrom(onlyReader{bytes.NewReader(data)})
	if err != nil || n != size {
		t.Fatalf("ReadFrom(a plain reader) = (%d, %v)", n, err)
	}
	if c := r.Stats().CopiedBytes - before.CopiedBytes; c != size {
		t.Errorf("CopiedBytes grew by %d, want %d", c, size)
	}
	cl.CloseWrite()
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatalf("the receiver got %d bytes, not those sent", len(b))
	}
}

// testTransferCancelRaces cancels transfers at random moments, sendfile
// from a file and splice between sockets alike: the receiver gets
// exactly the n reported; the file's position is n; a stream source's
// bytes are all accounted for (delivered, then those an
// UndeliveredError returns, then what the source still has, in order).
// Both outcomes, done and cancelled, must appear.
func testTransferCancelRaces(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	rounds := Scale(400)
	const maxSize, maxSplice = 2 << 20, 8 << 20
	f := patternFile(t, r, maxSize)
	data := patternBytes(maxSplice)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var done, canceled, undelivered [2]int
	seekable := canSeek(f)
	for round := range rounds {
		kind := round % 2
		size := 1 + rng.IntN(1<<rng.IntN(22)) // log-uniform: small ones beat the cancel, large ones wait for it
		delay := time.Duration(rng.IntN(300)) * time.Microsecond
		lateCancel := round%10 < 2
		if lateCancel {
			delay = time.Second // the transfer is done by then: the cancel comes too late
		}
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(delay, cancel) // a random moment, not a synchronisation
		var n int64
		var err error
		if kind == 0 { // sendfile
			cl, srv := ps.pair(t)
			got := collect(srv, uint64(round))
			// A LimitedReader of the file (its position), or a section
			// (its own position), every other round, or always where the
			// backend has no Seek.
			var src io.Reader
			var lr *io.LimitedReader
			var sr *io.SectionReader
			if round%4 == 0 && seekable {
				seekTo(t, f, 0, io.SeekStart)
				lr = &io.LimitedReader{R: f, N: int64(size)}
				src = lr
			} else {
				sr = io.NewSectionReader(f, 0, int64(size))
				src = sr
			}
			n, err = cl.ReadFromContext(ctx, src)
			cl.CloseWrite()
			b := <-got
			if int64(len(b)) != n {
				t.Fatalf("round %d: the receiver got %d bytes, ReadFromContext reported %d (err %v)", round, len(b), n, err)
			}
			if !bytes.Equal(b, data[:n]) {
				t.Fatalf("round %d: the receiver got other bytes than the file's first %d", round, n)
			}
			if lr != nil {
				if pos := position(t, f); pos != n || lr.N != int64(size)-n {
					t.Fatalf("round %d: after %d bytes the file is at %d, LimitedReader.N %d of %d", round, n, pos, lr.N, size)
				}
			} else if pos, _ := sr.Seek(0, io.SeekCurrent); pos != n {
				t.Fatalf("round %d: after %d bytes the section is at %d", round, n, pos)
			}
			cl.Close()
			srv.Close()
		} else { // splice
			pp := ps.proxy(t)
			// A quarter of the receivers read only after the transfer: it fills
			// the destination and waits with bytes in its pipe.
			late := zeroCopyExpected(r, false) && !lateCancel && rng.IntN(4) == 0
			if late {
				size = maxSplice/2 + rng.IntN(maxSplice/2) // more than the socket buffers hold
			}
			go func() {
				pp.writer.Write(data[:size])
				pp.writer.CloseWrite()
			}()
			var got <-chan []byte
			if !late {
				got = collect(pp.receiver, uint64(round))
			}
			n, err = pp.src.WriteToContext(ctx, pp.dst)
			pp.dst.CloseWrite()
			if late {
				got = collect(pp.receiver, uint64(round))
			}
			b := <-got
			if int64(len(b)) != n {
				t.Fatalf("round %d: the receiver got %d bytes, WriteToContext reported %d (err %v)", round, len(b), n, err)
			}
			var ue *aio.UndeliveredError
			if errors.As(err, &ue) {
				undelivered[kind]++
				b = append(b, ue.Data...)
			}
			rest, rerr := io.ReadAll(pp.src)
			if rerr != nil {
				t.Fatalf("round %d: reading the rest of the source: %v", round, rerr)
			}
			b = append(b, rest...)
			if !bytes.Equal(b, data[:size]) {
				t.Fatalf("round %d: delivered, undelivered and left in the source make %d bytes, not the %d sent", round, len(b), size)
			}
			pp.close()
		}
		timer.Stop()
		cancel()
		switch {
		case err == nil:
			done[kind]++
		case errors.Is(err, context.Canceled) && (errors.Is(err, aio.ErrCanceled) || n == 0):
			// (A context already done when the call starts: its bare
			// error, and nothing done.)
			canceled[kind]++
		default:
			t.Fatalf("round %d: transfer error %v, want nil or a cancel by the context", round, err)
		}
	}
	t.Logf("%d rounds: sendfile: %d done, %d cancelled; splice: %d done, %d cancelled (%d with undelivered bytes)",
		rounds, done[0], canceled[0], done[1], canceled[1], undelivered[1])
	for k, name := range []string{"sendfile", "splice"} {
		if done[k] == 0 || canceled[k] == 0 {
			t.Errorf("%s: %d done, %d cancelled: both outcomes must appear", name, done[k], canceled[k])
		}
	}
}

// testTransferDeadline: a deadline that passes while a transfer waits
// (the connection's write deadline while the receiver reads nothing, the
// source's read deadline while it sends nothing) ends it with
// os.ErrDeadlineExceeded and the bytes it moved.
func testTransferDeadline(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	const size = 32 << 20 // more than the socket buffers hold
	f := patternFile(t, r, size)
	t.Run("write deadline, sendfile", func(t *testing.T) {
		cl, srv := ps.pair(t)
		defer cl.Close()
		defer srv.Close()
		cl.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := cl.ReadFrom(f)
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || n <= 0 || n >= size {
			t.Fatalf("ReadFrom past the write deadline = (%d, %v), want some bytes and a timeout", n, err)
		}
		if canSeek(f) {
			if pos := position(t, f); pos != n {
				t.Errorf("the file is at %d after %d bytes", pos, n)
			}
		}
		cl.SetWriteDeadline(time.Time{})
		cl.CloseWrite()
		b, _ := io.ReadAll(srv)
		if int64(len(b)) != n {
			t.Fatalf("the receiver got %d bytes, ReadFrom reported %d", len(b), n)
		}
		checkPattern(t, b, 0)
	})
	t.Run("write deadline with bytes in flight, splice", func(t *testing.T) {
		// The source has more than the destination's buffers hold and
		// the receiver reads nothing: when the deadline passes, the
		// transfer holds bytes it took from the source (in its pipe, or
		// its buffer) that it cannot deliver.
		pp := ps.proxy(t)
		defer pp.close()
		const size = 12 << 20
		data := patternBytes(size)
		go func() {
			pp.writer.Write(data)
			pp.writer.CloseWrite()
		}()
		pp.dst.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := pp.src.WriteTo(pp.dst)
		var ue *aio.UndeliveredError
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ue) || len(ue.Data) == 0 {
			t.Fatalf("WriteTo past the write deadline = (%d, %v), want a timeout with undelivered bytes", n, err)
		}
		pp.dst.SetWriteDeadline(time.Time{})
		pp.dst.CloseWrite()
		got, _ := io.ReadAll(pp.receiver)
		if int64(len(got)) != n {
			t.Fatalf("the receiver got %d bytes, WriteTo reported %d", len(got), n)
		}
		rest, _ := io.ReadAll(pp.src)
		all := append(append(got, ue.Data...), rest...)
		if !bytes.Equal(all, data) {
			t.Fatalf("delivered (%d), undelivered (%d) and left in the source (%d) are not the %d bytes sent", len(got), len(ue.Data), len(rest), size)
		}
	})
	t.Run("read deadline of the source, splice", func(t *testing.T) {
		pp := ps.proxy(t)
		defer pp.close()
		pp.writer.Write([]byte("some"))
		pp.src.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := pp.dst.ReadFrom(pp.src)
		if !errors.Is(err, os.ErrDeadlineExceeded) || n != 4 {
			t.Fatalf("ReadFrom past the source's read deadline = (%d, %v), want (4, a timeout)", n, err)
		}
		pp.dst.CloseWrite()
		if b, _ := io.ReadAll(pp.receiver); string(b) != "some" {
			t.Fatalf("the receiver got %q", b)
		}
	})
}

// testTransferClose: a Close of either side ends a transfer that waits,
// with an error matching the closed side's, after its bytes.
func testTransferClose(t *testing.T, s *suite) {
	r := s.ring(t, 0)
	ps := newPairs(t, r)
	const size = 32 << 20
	f := patternFile(t, r, size)
	t.Run("destination", func(t *testing.T) {
		cl, srv := ps.pair(t)
		defer srv.Close()
		type res struct {
			n   int64
			err error
		}
		out := make(chan res, 1)
		go func() {
			n, err := cl.ReadFrom(f)
			out <- res{n, err}
		}()
		waitInFlight(t, r, 1)
		cl.Close()
		o := <-out
		if !errors.Is(o.err, net.ErrClosed) || o.n >= size {
			t.Fatalf("ReadFrom with its connection closed = (%d, %v), want net.ErrClosed before the end", o.n, o.err)
		}
		b, _ := io.ReadAll(srv)
		if int64(len(b)) != o.n {
			t.Fatalf("the receiver got %d bytes, ReadFrom reported %d", len(b), o.n)
		}
		checkPattern(t, b, 0)
	})
	t.Run("source", func(t *testing.T) {
		pp := ps.proxy(t)
		defer pp.close()
		out := make(chan error, 1)
		go func() {
			_, err := pp.dst.ReadFrom(pp.src)
			out <- err
		}()
		waitInFlight(t, r, 1)
		pp.src.Close()
		if err := <-out; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrom with its source closed: %v, want net.ErrClosed", err)
		}
	})
	t.Run("source file", func(t *testing.T) {
		g := patternFile(t, r, size)
		cl, srv := ps.pair(t)
		defer cl.Close()
		defer srv.Close()
		out := make(chan error, 1)
		go func() {
			_, err := cl.ReadFrom(g)
			out <- err
		}()
		waitInFlight(t, r, 1)
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-out; !errors.Is(err, os.ErrClosed) {
			t.Fatalf("ReadFrom with its source file closed: %v, want os.ErrClosed", err)
		}
	})
}

// testTransferDescriptors: after transfers of every kind, cancelled ones
// with bytes left in a splice pipe among them, closing the connections,
// the files and the ring leaves as many descriptors open as before.
func testTransferDescriptors(t *testing.T, s *suite) {
	leaks := handleLeakCheck(t)
	r := s.newRing(t, aio.Config{})
	ln, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps := &pairs{r: r, ln: ln}
	const size = 4 << 20
	name := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(name, patternBytes(size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(context.Background(), name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		pp := ps.proxy(t)
		wg.Go(func() {
			defer pp.close()
			go func() { pp.writer.Write(patternBytes(size)); pp.writer.CloseWrite() }()
			got := collect(pp.receiver, uint64(i))
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*time.Millisecond)
			defer cancel()
			pp.src.WriteToContext(ctx, pp.dst)
			pp.dst.CloseWrite()
			<-got
			io.Copy(io.Discard, pp.src)
		})
	}
	wg.Wait()
	cl, srv := ps.pair(t)
	got := collect(srv, 9)
	if _, err := cl.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	<-got
	srv.Close()
	f.Close()
	ln.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	leaks("after closing everything")
}
